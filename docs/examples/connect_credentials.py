"""Sending credentials: the middleware reads socket.handshake.auth and fills socket.data."""

import socketio

import siomw_core
from siomw_core import Refusal, Socket

USERS = {"token-of-alice": "alice", "token-of-bob": "bob"}

sio = socketio.AsyncServer(async_mode="asgi")
# plugins=[]: only this file's middlewares; drop it for the installed plugins too
mw = siomw_core.attach(sio, plugins=[])


@mw.use(name="authenticate", priority=10)
async def authenticate(socket: Socket, call_next: siomw_core.CallNext) -> None:
    user = USERS.get(socket.handshake.auth.get("token", ""))
    if user is None:
        raise Refusal("unknown user", {"code": "invalid_token"})
    socket.data["username"] = user  # becomes the python-socketio session
    await call_next()


@sio.event
async def whoami(sid: str) -> str:
    session = await sio.get_session(sid)
    return str(session["username"])


app = mw.asgi_app()  # socketio.ASGIApp(sio) with its arguments (a bare one works too)
