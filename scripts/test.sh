#!/usr/bin/env bash
# Set up and run everything CI checks: pytest (real servers, Python and JS clients, Redis),
# the docs build (mkdocs --strict), ruff and mypy.
# Besides what scripts/setup.sh installs in the repository, this installs SYSTEM-WIDE, with
# apt-get and only when missing: redis-server (when nothing answers on 127.0.0.1:6379),
# Debian's nginx (the multi-process tests start their own, never the system's) and Debian's
# chromium (the browser tests; skipped when SIOMW_CHROMIUM names a browser). Each is
# announced before it is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# the Redis tests need a server on 127.0.0.1:6379; start one when none answers
if ! .venv/bin/python -c 'import socket; socket.create_connection(("127.0.0.1", 6379), 1)' 2>/dev/null; then
  if ! command -v redis-server >/dev/null; then
    if command -v apt-get >/dev/null; then
      echo "test: installing redis-server system-wide (apt-get): the Redis tests need a server"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
    fi
  fi
  echo "test: starting redis-server on 127.0.0.1:6379 (in memory, no persistence)"
  redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes
  for _ in $(seq 50); do
    .venv/bin/python -c 'import socket; socket.create_connection(("127.0.0.1", 6379), 1)' 2>/dev/null && break
    sleep 0.1
  done
fi
# tests/deploy balance several processes with nginx: each test starts its own nginx on a free
# loopback port with a config of its own (the system's nginx is neither started nor used)
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ] && command -v apt-get >/dev/null; then
  echo "test: installing nginx system-wide (apt-get): tests/deploy run it as their load balancer" \
       "(each test starts its own; the system's service is not started)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx) >/dev/null
fi
# the browser tests drive Debian's chromium (playwright's own browser download is not used)
if [ ! -x /usr/bin/chromium ] && [ -z "${SIOMW_CHROMIUM:-}" ] && command -v apt-get >/dev/null; then
  echo "test: installing chromium system-wide (apt-get): the browser tests drive it" \
       "(set SIOMW_CHROMIUM=/path/to/chromium to use another)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi
.venv/bin/ruff check .
.venv/bin/mypy siomw_core bench scripts tests docs/examples plugins/siomw-jwt/siomw_jwt plugins/siomw-ratelimit/siomw_ratelimit plugins/siomw-logging/siomw_logging plugins/siomw-headers/siomw_headers plugins/siomw-metrics/siomw_metrics
.venv/bin/mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
# most tests run in parallel (pytest-xdist; SIOMW_TEST_WORKERS, default 4: they mostly wait on
# sockets); those marked serial (tests/conftest.py: deadlines, nginx, a browser, benchmarks)
# run afterwards, alone. Exit status 5 is "no test selected" (a path given has none of a kind).
status=0
.venv/bin/python -m pytest -q -p no:cacheprovider -n "${SIOMW_TEST_WORKERS:-4}" -m "not serial" "$@" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 5 ]; then exit "$status"; fi
status=0
.venv/bin/python -m pytest -q -p no:cacheprovider -m serial "$@" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 5 ]; then exit "$status"; fi
