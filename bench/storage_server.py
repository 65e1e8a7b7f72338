"""A benchmark server of the full chain on a chosen rate-limit storage:
``python bench/storage_server.py MODE PORT`` (``bench/storage_rate.py`` starts it).

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
storage's pool at its first engine request (the warm-up's).
"""

from __future__ import annotations

import os
import sys

import socketio
import uvicorn
from server import FULL, _server

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


def build(mode: str) -> socketio.AsyncServer:
    """An ASGI ``AsyncServer`` with siomw's full chain on ``mode``'s storage.

    Raises:
        SystemExit: as :func:`tables`.
    """
    config = tables(mode)
    sio = _server("asgi")
    assert isinstance(sio, socketio.AsyncServer)
    Siomw(sio, config=Config("bench", CoreSettings(plugins=list(config)), tables=config))
    return sio


def serve(mode: str, port: int) -> None:
    """Serve ``mode`` on ``127.0.0.1:port`` under uvicorn; never returns."""
    sio = build(mode)
    uvicorn.run(socketio.ASGIApp(sio), host="127.0.0.1", port=port, log_level="error",
                access_log=False)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
