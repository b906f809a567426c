#!/usr/bin/env bash
# Set up (first time) and run the Echo API server on API_HOST:API_PORT (default 127.0.0.1:5000).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python backend/api_server.py "$@"
