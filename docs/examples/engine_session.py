"""An HTTP session on the handshake: Starlette's ``SessionMiddleware`` as an engine member,
as Node's guide uses ``express-session`` with ``io.engine.use(sessionMiddleware)``."""

from __future__ import annotations

import os
from typing import Any

import socketio
from starlette.middleware.sessions import SessionMiddleware

from siomw_core import CallNext, Refusal, Request, Socket, attach

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
mw = attach(sio, plugins=[])  # this file's middlewares only
mw.engine.use_asgi(SessionMiddleware, name="session", priority=100,
                   secret_key=os.environ["SESSION_SECRET"])  # KeyError: set it


@mw.engine.use(after="session")
async def count_visits(request: Request, call_next: CallNext) -> None:
    """Runs inside the session member, so ``request.session`` is the session."""
    if request.is_handshake:
        session = request.session
        session["visits"] = session.get("visits", 0) + 1
    await call_next()


@mw.use
async def visits_to_data(socket: Socket, call_next: CallNext) -> None:
    """The connect level reads the same session: ``socket.handshake.session``."""
    session = socket.handshake.session
    if session is None:
        raise Refusal("no session", {"code": "no_session"})
    socket.data["visits"] = session["visits"]
    await call_next()


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    # Node: socket.request.session; here the handshake's ASGI scope
    session = environ["asgi.scope"]["session"]
    session["last_sid"] = sid  # kept in memory only: the cookie was sent with the handshake


@sio.event
async def visits(sid: str) -> int:
    session = await sio.get_session(sid)
    return int(session["visits"])


app = mw.asgi_app()
