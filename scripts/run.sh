#!/usr/bin/env bash
# Set up (first time) and run the Echo API server on API_HOST:API_PORT (default 127.0.0.1:5000).
#   scripts/run.sh [gunicorn options]  the production server: gunicorn with gunicorn.conf.py (threaded workers);
#                                      options such as --threads 32 or --bind 0.0.0.0:8000 override the file
#   scripts/run.sh --dev               Flask's development server (python backend/api_server.py), for development
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ "${1:-}" = "--dev" ]; then
  shift
  if [ "$#" -gt 0 ]; then
    echo "scripts/run.sh --dev takes no other arguments: set API_HOST, API_PORT and LOG_LEVEL instead" >&2
    exit 2
  fi
  exec .venv/bin/python backend/api_server.py
fi
exec .venv/bin/gunicorn -c gunicorn.conf.py "$@"
