"""siomw's app mounted under a prefix of a Starlette app (FastAPI: the same ``api.mount``).

Run, from the repository: ``uvicorn docs.examples.serve_mounted:api`` (or ``siomw serve
docs.examples.serve_mounted:api``). Clients put the prefix in their path:
``socketio_path="realtime/socket.io"`` (python-socketio), ``path: "/realtime/socket.io/"`` (JS).
"""

from __future__ import annotations

from typing import Any

import socketio
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from siomw_core import CallNext, Request, attach

sio = socketio.AsyncServer(async_mode="asgi")
mw = attach(sio, plugins=[])  # this file's middlewares only


@mw.engine.use
async def served_by(request: Request, call_next: CallNext) -> None:
    request.response_headers.append(("X-Served-By", "siomw"))  # the engine chain ran
    await call_next()


@sio.on("echo")
async def echo(sid: str, data: Any = None) -> Any:
    return data


async def home(request: HttpRequest) -> PlainTextResponse:
    return PlainTextResponse("home")


api = Starlette(routes=[Route("/", home)])
api.mount("/realtime", mw.asgi_app())  # the engine answers /realtime/socket.io/
