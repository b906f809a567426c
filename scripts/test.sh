#!/usr/bin/env bash
# Set up everything on a fresh Debian machine and run every check: lint, format, the Python suite.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUIREMENTS=requirements-dev.txt scripts/setup.sh
. .venv/bin/activate

echo "== ruff"
ruff check .
ruff format --check .

echo "== pytest"
python -m pytest "$@"
