"""A benchmark server of the full chain on a chosen rate-limit storage:
``python bench/storage_server.py MODE PORT [KIND]`` (``bench/storage_rate.py`` starts it).

MODE:

- ``memory``: ``bench/server.py``'s ``full`` mode (logging, jwt and ratelimit: moving window,
  1000 connections per minute per client address), ``storage = "memory://"``.
- ``redis``: the same on ``storage = "redis://127.0.0.1:6379"`` (limits' default asyncio
  client, coredis: the plugin's ``redis_client`` default).
- ``redis-redispy``: ``redis`` with ``redis_client = "redispy"`` (``redis.asyncio``).

The Redis URI is ``SIOMW_BENCH_REDIS`` (default ``redis://127.0.0.1:6379``); the counters'
``key_prefix`` is ``SIOMW_BENCH_KEY_PREFIX`` (required by the Redis modes: one per run, so
that a run never meets another's counters and its keys can be deleted afterwards). Served
as ``server.py``'s ``asgi`` kind: ``socketio.ASGIApp`` under uvicorn; the stack opens the
storage's pool at its first engine request (the warm-up's). KIND ``wsgi``: ``server.py``'s
``wsgi`` kind (``socketio.Server`` in threading mode under gunicorn's gthread worker; the
plugin's sync storage, redis-py, whatever ``redis_client`` says).
"""

from __future__ import annotations

import os
import sys

import socketio
import uvicorn
from server import FULL, GUNICORN, _server

from siomw_core import Config, CoreSettings, Siomw

MODES = ("memory", "redis", "redis-redispy")
REDIS = "redis://127.0.0.1:6379"


def tables(mode: str) -> dict[str, dict[str, object]]:
    """``server.py``'s ``full`` tables with ``mode``'s storage (see the module docstring).

    Raises:
        SystemExit: an unknown mode, or a Redis mode without ``SIOMW_BENCH_KEY_PREFIX``.
    """
    if mode not in MODES:
        raise SystemExit(f"bench/storage_server.py: unknown mode {mode!r} "
                         f"(one of {', '.join(MODES)})")
    ratelimit = dict(FULL["ratelimit"])
    if mode != "memory":
        prefix = os.environ.get("SIOMW_BENCH_KEY_PREFIX")
        if not prefix:
            raise SystemExit("bench/storage_server.py: SIOMW_BENCH_KEY_PREFIX is not set "
                             "(the Redis modes' key_prefix, one per run)")
        ratelimit.update(storage=os.environ.get("SIOMW_BENCH_REDIS", REDIS), key_prefix=prefix)
        if mode == "redis-redispy":
            ratelimit["redis_client"] = "redispy"
    return {**FULL, "ratelimit": ratelimit}


def build(mode: str, kind: str = "asgi") -> socketio.AsyncServer | socketio.Server:
    """The server of ``kind`` (an ASGI ``AsyncServer``, or a threading ``Server`` for
    ``wsgi``) with siomw's full chain on ``mode``'s storage.

    Raises:
        SystemExit: as :func:`tables`.
    """
    config = tables(mode)
    sio = _server(kind)
    Siomw(sio, config=Config("bench", CoreSettings(plugins=list(config)), tables=config))
    return sio


def wsgi_app(mode: str) -> socketio.WSGIApp:
    """The WSGI application gunicorn's worker serves for the ``wsgi`` kind."""
    return socketio.WSGIApp(build(mode, "wsgi"))


def serve(mode: str, port: int, kind: str = "asgi") -> None:
    """Serve ``mode`` on ``127.0.0.1:port`` under uvicorn (or gunicorn for ``wsgi``);
    never returns.

    Raises:
        SystemExit: an unknown mode or kind, a Redis mode without its key prefix.
    """
    if kind == "wsgi":
        tables(mode)  # a bad mode is said here, before gunicorn starts
        here = os.path.dirname(os.path.abspath(__file__))
        os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "-w", "1",
                                  *GUNICORN["wsgi"], "-b", f"127.0.0.1:{port}",
                                  "--log-level", "warning", "--chdir", here,
                                  f"storage_server:wsgi_app({mode!r})"])
    if kind != "asgi":
        raise SystemExit(f"bench/storage_server.py: unknown kind {kind!r} (asgi or wsgi)")
    sio = build(mode)
    uvicorn.run(socketio.ASGIApp(sio), host="127.0.0.1", port=port, log_level="error",
                access_log=False)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "asgi")
