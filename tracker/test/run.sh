#!/usr/bin/env bash
# Runs the browser tests of the tracker, overlay and dashboard.
# Installs what is missing: Debian's chromium (apt) and the npm dev
# dependencies (npm ci: terser, playwright-core; never `playwright install`).
# Exits non-zero on any failure. Env: see tracker.test.mjs (HEATSTORE_SERVER,
# HEATSTORE_TOKEN, HEATSTORE_SITE, HEATSTORE_TEST_FILTER, CHROMIUM).
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  echo "run.sh: installing Debian's chromium" >&2
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
export CHROMIUM

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/terser ]; then
  echo "run.sh: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

# Minify (also checks the 6 KB budget of the tracker) and run the tests.
node build.mjs
# About a minute on an idle 2-core machine; the limit is a safety net for a loaded one.
exec timeout --kill-after=10 600 node test/tracker.test.mjs
