#!/usr/bin/env bash
# Set up everything on a fresh Debian machine and run every check: ruff, the Expo app (tsc, lint, jest,
# web export), and the whole pytest suite including browser end-to-end tests. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
apt_install() {
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@" >/dev/null
}

# llama-cpp-python (the bundled language model) compiles from source the first time: it needs a C++ compiler.
if ! command -v g++ >/dev/null || ! command -v cmake >/dev/null; then
  echo "== installing a C++ compiler and cmake (Debian packages)"
  apt_install build-essential cmake
fi
REQUIREMENTS=requirements-dev.txt scripts/setup.sh
. .venv/bin/activate

# Browser tests drive Debian's Chromium (Playwright's own browser download is not used).
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium (Debian package)"
  apt_install chromium
fi

echo "== ruff"
ruff check .
ruff format --check .

echo "== the web page's vendored library matches its pinned npm package"
scripts/vendor-web.sh --check

echo "== the Expo app (npm ci, tsc, lint, jest, web export into dist/)"
scripts/test-app.sh

echo "== pytest"
python -m pytest "$@"
