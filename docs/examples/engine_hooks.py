"""Watching the engine's responses with ``request.on_start`` and ``request.on_end``, the same
on every server kind (no ASGI ``send`` to wrap)."""

from __future__ import annotations

import time

import socketio

from siomw_core import CallNext, Request, attach

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
mw = attach(sio, plugins=[])  # this file's middlewares only
#: (what, transport, status, seconds since the request came in), for the example's test
timings: list[tuple[str, str | None, int | None, float]] = []


@mw.engine.use
async def timing(request: Request, call_next: CallNext) -> None:
    started = time.perf_counter()

    def note(what: str) -> None:
        timings.append((what, request.transport, request.status,
                        time.perf_counter() - started))

    request.on_start(lambda r: note("start"))  # a WebSocket's at its 101
    request.on_end(lambda r: note("end"))      # a WebSocket's when it closed
    await call_next()


app = mw.asgi_app()
