"""A chat server whose connections are authenticated by the jwt plugin (docs/plugins/jwt.md).

Run: SIOMW_JWT_SECRET=... uvicorn jwt_app:app   (the [jwt] table is in jwt_siomw.toml)
"""

from pathlib import Path
from typing import Any

import socketio

import siomw_core

sio = socketio.AsyncServer(async_mode="asgi")
mw = siomw_core.attach(sio, config=Path(__file__).with_name("jwt_siomw.toml"))
connected: list[str] = []


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    user = (await sio.get_session(sid))["user"]  # the token's claims, put there by jwt
    connected.append(user["sub"])


@sio.event
async def whoami(sid: str) -> str:
    session = await sio.get_session(sid)
    return str(session["user"]["sub"])


@sio.on("connect", namespace="/admin")
async def admin_connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    pass  # only tokens that grant the "admin" scope get here


@sio.on("whoami", namespace="/public")
async def public_whoami(sid: str) -> str:
    session = await sio.get_session(sid, namespace="/public")
    user = session.get("user")  # absent for anonymous clients
    return str(user["sub"]) if user else "anonymous"


app = mw.asgi_app()  # socketio.ASGIApp(sio) with its arguments (a bare one works too)
