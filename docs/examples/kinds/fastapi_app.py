"""The chat mounted under /realtime of a FastAPI app, beside its own routes.

Run, in this folder (siomw.toml beside it): uvicorn fastapi_app:app
Clients put the prefix in their path: path "/realtime/socket.io/" (JS),
socketio_path="realtime/socket.io" (python-socketio).
"""

from typing import Any

import siomw_jwt
import siomw_ratelimit
import socketio
from fastapi import FastAPI

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


app = FastAPI()


@app.get("/health")
async def health() -> dict[str, bool]:
    return {"ok": True}


app.mount("/realtime", mw.asgi_app())  # the engine answers /realtime/socket.io/
