"""A Socket.IO app whose connection attempts and disconnects are logged by siomw.

Run it with ``uvicorn logging_app:app`` next to ``logging_siomw.toml``.
"""

from pathlib import Path
from typing import Any

import socketio

from siomw_core import Identity, Refusal, Socket, attach, set_identity

sio = socketio.AsyncServer(async_mode="asgi")
mw = attach(sio, config=Path(__file__).with_name("logging_siomw.toml"))


@mw.use
async def members_only(socket: Socket, call_next: Any) -> None:
    """Runs inside "logging": its refusals are logged with their code."""
    name = socket.handshake.auth.get("name")
    if not isinstance(name, str) or not name:
        raise Refusal("who are you?", {"code": "invalid_request"})
    # the identity's sub is the "user" of every line (the claims are never logged)
    set_identity(socket, Identity(sub=name, claims={"sub": name}, source="logging_app"))
    await call_next()


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    session = await sio.get_session(sid)
    await sio.emit("welcome", session["user"]["sub"], to=sid)


app = mw.asgi_app()  # socketio.ASGIApp(sio) with its arguments (a bare one works too)
