"""The chat beside a Starlette app, in python-socketio's own socketio.ASGIApp (FastAPI: the
same other_asgi_app=).

Run, in this folder (siomw.toml beside it): uvicorn starlette_other_app:app
"""

from typing import Any

import siomw_jwt
import siomw_ratelimit
import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import siomw_core

sio = socketio.AsyncServer(async_mode="asgi")
mw = siomw_core.attach(sio)  # the installed plugins, configured by ./siomw.toml


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    user = (await sio.get_session(sid))["user"]  # the token's claims, stored by jwt
    await sio.emit("welcome", {"user": user["sub"]}, to=sid)  # arrives right after CONNECT


@sio.on("chat")
@siomw_ratelimit.limit("3/minute")  # three messages a minute per socket
async def chat(sid: str, text: str) -> dict[str, str]:
    user = (await sio.get_session(sid))["user"]
    await sio.emit("chat", {"from": user["sub"], "text": text}, skip_sid=sid)
    return {"status": "sent", "text": text}


@sio.on("announce")
@siomw_jwt.requires("admin")  # only tokens that grant the "admin" scope
async def announce(sid: str, text: str) -> str:
    await sio.emit("announcement", text)
    return "announced"


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


api = Starlette(routes=[Route("/health", health)])
# python-socketio's own ASGI app: /socket.io/ to the engine (siomw's chains), the rest to api
app = socketio.ASGIApp(sio, other_asgi_app=api)
