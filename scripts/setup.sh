#!/usr/bin/env bash
# Create .venv (Python 3.11+) and install the backend's packages; REQUIREMENTS picks the file.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements="${REQUIREMENTS:-requirements.txt}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum "$requirements" requirements.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
  touch "$stamp"
fi
