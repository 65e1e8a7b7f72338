#!/usr/bin/env bash
# Set up, start the demo server (`siomw serve`, bundled plugins, embedded defaults) and drive
# real clients through it, printing what each one sees, then what the metrics plugin counted.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SIOMW_JWT_SECRET=${SIOMW_JWT_SECRET:-$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')}
PORT=${PORT:-$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
.venv/bin/siomw serve --host 127.0.0.1 --port "$PORT" 2> .demo-server.log &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
.venv/bin/python scripts/demo_clients.py "http://127.0.0.1:$PORT"
echo
# what the metrics plugin counted meanwhile (its page on the demo's own server)
.venv/bin/python -c 'import sys; from siomw_core.demo import print_metrics; sys.exit(print_metrics(sys.argv[1]))' "http://127.0.0.1:$PORT" || true
echo
echo "--- server log (logging plugin, JSON lines) ---"
tail -n 5 .demo-server.log
