"""Engine members on an aiohttp server (``sio.attach(app)``): an aiohttp middleware as a
member. Serve ``app`` with ``web.run_app(app)`` or ``python -m aiohttp.web``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import socketio
from aiohttp import web

from siomw_core import aiohttp_middleware, attach

sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
mw = attach(sio, plugins=[])  # before sio.attach(app): aiohttp keeps the handler it finds


@web.middleware
async def no_store(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """An ordinary aiohttp middleware: it changes the engine's response."""
    response = await handler(request)
    response.headers["Cache-Control"] = "no-store"
    return response


mw.add(aiohttp_middleware(no_store))
app = web.Application()
sio.attach(app)
