#!/usr/bin/env bash
# Set up a development environment: .venv with siomw-core and the bundled plugins (editable),
# the test tools, and the reference JS client (npm) for the tests and the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]" \
  -e plugins/siomw-logging -e plugins/siomw-jwt -e plugins/siomw-ratelimit
if command -v npm >/dev/null; then
  npm ci --prefix tests/js --no-audit --no-fund --silent
else
  echo "setup: npm not found; the JS client tests and demo clients need Node 20" >&2
fi
