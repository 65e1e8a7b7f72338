"""A benchmark server: ``python bench/server.py MODE PORT``.

MODE: ``bare`` (python-socketio alone), ``noopN`` (siomw with N no-op middlewares and no
plugins; ``noop0`` is siomw's fixed cost) or ``full`` (siomw with the logging, jwt and ratelimit
plugins, memory storage, moving window of 1000 connections per minute per client address)
or ``engine`` (``full`` plus the engine level: jwt's handshake check, an HTTP request limit,
the headers plugin and the access log; served through ``mw.asgi_app()``).
"""

from __future__ import annotations

import os
import sys

import socketio
import uvicorn

from siomw_core import CallNext, Config, CoreSettings, Siomw, Socket


def build(mode: str) -> socketio.AsyncServer:
    sio = socketio.AsyncServer(async_mode="asgi")

    @sio.event
    async def connect(sid: str, environ: dict[str, object], auth: object) -> None:
        return None

    if mode == "bare":
        return sio
    if mode.startswith("noop"):
        mw = Siomw(sio, config=Config("bench", CoreSettings(plugins=[])))
        for i in range(int(mode[4:])):

            async def noop(socket: Socket, call_next: CallNext) -> None:
                await call_next()

            mw.use(noop, name=f"noop{i}")
        return sio
    if mode == "full":
        tables: dict[str, dict[str, object]] = {
            "logging": {"file": os.devnull},
            "jwt": {"algorithms": ["HS256"]},
            "ratelimit": {"connect": "1000/minute", "strategy": "moving-window"},
        }
        Siomw(sio, config=Config("bench", CoreSettings(plugins=["logging", "jwt", "ratelimit"]),
                                 tables=tables))
        return sio
    if mode == "engine":
        tables = {
            "logging": {"file": os.devnull},
            "jwt": {"algorithms": ["HS256"], "handshake": True},
            # limits high enough never to refuse: the benchmark measures their cost
            "ratelimit": {"connect": "100000/minute", "http": "100000/minute"},
            "headers": {},
        }
        Siomw(sio, config=Config("bench", CoreSettings(
            plugins=["logging", "jwt", "ratelimit", "headers"]), tables=tables))
        return sio
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    sio = build(mode)
    stack = getattr(sio, "_siomw_stack", None)
    # the engine chain runs only in "engine" mode; the others measure the connect level
    app = stack.asgi_app() if mode == "engine" and stack else socketio.ASGIApp(sio)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)
