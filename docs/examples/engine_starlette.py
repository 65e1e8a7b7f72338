"""Standard ASGI middleware as engine members, beside the routes of a Starlette app."""

from __future__ import annotations

import socketio
from starlette.applications import Starlette
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request as HttpRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from siomw_core import attach


async def health(request: HttpRequest) -> PlainTextResponse:
    return PlainTextResponse("ok")


web = Starlette(routes=[Route("/health", health)])

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
mw = attach(sio, plugins=[])  # this file's middlewares only
# answers 400 "Invalid host header" itself: the engine never sees such a request
mw.engine.use_asgi(TrustedHostMiddleware, name="hosts", priority=3500,
                   allowed_hosts=["chat.example.com", "127.0.0.1", "localhost"])

# /socket.io/ runs the engine chain; /health and every other path go to `web` untouched
app = mw.asgi_app(other_asgi_app=web)
