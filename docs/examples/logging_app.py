"""A Socket.IO app whose connection attempts and disconnects are logged by siomw.

Run it with ``uvicorn logging_app:app`` next to ``logging_siomw.toml``.
"""

from pathlib import Path
from typing import Any

import socketio

from siomw_core import Refusal, Socket, attach

sio = socketio.AsyncServer(async_mode="asgi")
mw = attach(sio, config=Path(__file__).with_name("logging_siomw.toml"))


@mw.use
async def members_only(socket: Socket, call_next: Any) -> None:
    """Runs inside "logging": its refusals are logged with their code."""
    name = socket.handshake.auth.get("name")
    if not isinstance(name, str) or not name:
        raise Refusal("who are you?", {"code": "invalid_request"})
    socket.data["user"] = {"sub": name}  # "user" is logged: the sub, never the rest
    await call_next()


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    session = await sio.get_session(sid)
    await sio.emit("welcome", session["user"]["sub"], to=sid)


app = mw.asgi_app()  # not socketio.ASGIApp(sio): it skips the engine chain (http lines)
