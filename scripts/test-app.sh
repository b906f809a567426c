#!/usr/bin/env bash
# Checks the Expo app: clean install, type check, lint, unit tests, and the web export into dist/.
# Non-interactive and offline-safe (after the install); exits non-zero on the first failure.
# ECHO_SKIP_NPM_CI=1 reuses an existing node_modules (for quick local runs).
set -euo pipefail

cd "$(dirname "$0")/.."

export CI=1
export EXPO_OFFLINE=1
export EXPO_NO_TELEMETRY=1
export EXPO_NO_GIT_STATUS=1
export NODE_ENV="${NODE_ENV:-test}"

step() { printf '\n== %s ==\n' "$*"; }

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  echo "Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

if [ "${ECHO_SKIP_NPM_CI:-0}" = "1" ] && [ -d node_modules ]; then
  step "npm ci (skipped: ECHO_SKIP_NPM_CI=1)"
else
  step "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

step "tsc --noEmit"
npx tsc --noEmit

step "lint"
npm run --silent lint

step "jest"
npx jest --ci --watchAll=false

step "expo export --platform web -> dist/"
rm -rf dist
# The build-time API URL stays at its default; a served copy can point elsewhere with
# dist/echo-config.json (see lib/runtimeConfig.web.ts).
NODE_ENV=production npx expo export --platform web --output-dir dist
test -f dist/index.html

echo
echo "app checks passed"
