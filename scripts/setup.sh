#!/usr/bin/env bash
# Set up a development environment: .venv with siomw-core and the bundled plugins (editable),
# the test tools, and the reference JS client (npm) for the tests and the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
log=.setup.log
if ! { .venv/bin/python -m pip install --upgrade pip &&
       .venv/bin/python -m pip install -e ".[test]" \
         -e plugins/siomw-logging -e plugins/siomw-jwt -e plugins/siomw-ratelimit \
         -e plugins/siomw-headers; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "setup: pip install failed; the whole log is in $log" >&2
  exit 1
fi
echo "setup: .venv ready (siomw-core and the bundled plugins, editable; log in $log)"
if command -v npm >/dev/null; then
  npm ci --prefix tests/js --no-audit --no-fund --silent
  echo "setup: tests/js/node_modules ready (socket.io-client)"
else
  echo "setup: npm not found; the JS client tests and demo clients need Node 20" >&2
fi
