"""Scopes per event, tokens that expire during the session, re-authentication
(docs/plugins/jwt.md).

Run: SIOMW_JWT_SECRET=... uvicorn jwt_events_app:app   (the [jwt] table is in
jwt_events_siomw.toml)
"""

from pathlib import Path

import siomw_jwt
import socketio

import siomw_core

sio = socketio.AsyncServer(async_mode="asgi")
mw = siomw_core.attach(sio, config=Path(__file__).with_name("jwt_events_siomw.toml"))
kicked: list[str] = []


@sio.event
async def whoami(sid: str) -> str:
    session = await sio.get_session(sid)
    return str(session["user"]["sub"])  # the claims of the socket's current token


@sio.on("admin:kick")
@siomw_jwt.requires("admin")  # every scope listed is needed; above or below @sio.on
async def kick(sid: str, who: str) -> str:
    kicked.append(who)
    return f"kicked {who}"


@sio.on("admin:ban")  # no decorator: [jwt.events."admin:ban"] in the toml asks for "admin"
async def ban(sid: str, who: str) -> str:
    return f"banned {who}"


class Moderation(socketio.AsyncNamespace):  # type: ignore[misc]  # socketio is untyped
    @siomw_jwt.requires("mod")  # on a class-based namespace's method too
    async def on_mute(self, sid: str, who: str) -> str:
        return f"muted {who}"


sio.register_namespace(Moderation("/mod"))
app = mw.asgi_app()
