"""The handshake check: no Engine.IO session without a valid token (docs/plugins/jwt.md).

Run: SIOMW_JWT_SECRET=... uvicorn jwt_handshake_app:app   ([jwt] is in jwt_handshake_siomw.toml)
"""

from pathlib import Path
from typing import Any

import socketio

import siomw_core

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=["https://chat.example.com"])
mw = siomw_core.attach(sio, config=Path(__file__).with_name("jwt_handshake_siomw.toml"))
connected: list[str] = []


@mw.use
async def greet(socket: siomw_core.Socket, call_next: siomw_core.CallNext) -> None:
    # what the jwt-handshake engine member verified, as Node's socket.request.user
    claims = socket.handshake.state["jwt.claims"]
    socket.data["greeting"] = f"hello {claims['sub']}"
    await call_next()


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    session = await sio.get_session(sid)
    connected.append(session["user"]["sub"])  # the same claims, put there by the jwt member


@sio.event
async def whoami(sid: str) -> str:
    session = await sio.get_session(sid)
    return str(session["greeting"])


@sio.on("connect", namespace="/admin")
async def admin_connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    pass  # only sessions whose token grants "admin" get here


# serve this app, not socketio.ASGIApp(sio): the engine chain runs only inside it
app = mw.asgi_app()
