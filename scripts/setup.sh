#!/usr/bin/env bash
# Set up a development environment, in this repository only (nothing system-wide):
#   .venv/                      siomw-core with its test tools and the four bundled plugins,
#                               editable, from PyPI (pip)
#   tests/js/node_modules/      socket.io-client, the reference JS client of the tests (npm)
#   docs/examples/node_modules/ socket.io-client for the docs' JS examples (npm)
#   bench/node/node_modules/    Node's socket.io server with jsonwebtoken, rate-limiter-flexible
#                               and pino: the benchmark's Node side (npm)
# Each part is installed only when it is missing or what it was installed from changed: a stamp
# in it holds a hash of its inputs. SIOMW_SETUP_FORCE=1 reinstalls everything.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
FORCE=${SIOMW_SETUP_FORCE:-}
STAMP=.siomw-setup-stamp

# a hash of the files named (a missing file counts as absent, so adding one changes the hash)
inputs_hash() {
  "$PYTHON" - "$@" <<'EOF'
import hashlib, pathlib, sys
h = hashlib.sha256()
for name in sys.argv[1:]:
    path = pathlib.Path(name)
    h.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"<absent>") + b"\0")
print(h.hexdigest())
EOF
}

# up_to_date STAMP_FILE HASH: the part was installed from exactly these inputs
up_to_date() {
  [ -z "$FORCE" ] && [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]
}

# --- Python: .venv --------------------------------------------------------------------------
py_hash=$(inputs_hash pyproject.toml plugins/*/pyproject.toml scripts/setup.sh)
if [ -x .venv/bin/python ] && [ -x .venv/bin/siomw ] && up_to_date ".venv/$STAMP" "$py_hash"; then
  echo "setup: .venv up to date (nothing installed; SIOMW_SETUP_FORCE=1 reinstalls)"
else
  echo "setup: installing into .venv (pip, from PyPI): siomw-core[test] and siomw-logging," \
       "siomw-jwt, siomw-ratelimit, siomw-headers, siomw-metrics, editable, with their dependencies"
  if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
  fi
  rm -f ".venv/$STAMP"
  log=.setup.log
  if ! { .venv/bin/python -m pip install --upgrade pip &&
         .venv/bin/python -m pip install -e ".[test]" \
           -e plugins/siomw-logging -e plugins/siomw-jwt -e plugins/siomw-ratelimit \
           -e plugins/siomw-headers -e plugins/siomw-metrics; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "setup: pip install failed; the whole log is in $log" >&2
    exit 1
  fi
  echo "$py_hash" > ".venv/$STAMP"
  echo "setup: .venv ready (log in $log)"
fi

# --- JS: socket.io-client for the tests and for the docs' examples ---------------------------
if command -v npm >/dev/null; then
  for dir in tests/js docs/examples bench/node; do
    js_hash=$(inputs_hash "$dir/package.json" "$dir/package-lock.json")
    if up_to_date "$dir/node_modules/$STAMP" "$js_hash"; then
      echo "setup: $dir/node_modules up to date"
    else
      echo "setup: installing into $dir/node_modules (npm ci, from the npm registry):" \
           "$(cd "$dir" && node -e 'console.log(Object.keys(require("./package.json").dependencies).join(", "))')"
      npm ci --prefix "$dir" --no-audit --no-fund --silent
      echo "$js_hash" > "$dir/node_modules/$STAMP"
    fi
  done
else
  echo "setup: npm not found; the JS client tests, the docs' JS examples and the demo's JS" \
       "clients need Node 20" >&2
fi
