"""The chat on python-socketio's AsyncServer attached to an aiohttp application.

Run, in this folder (siomw.toml beside it):
    python -m aiohttp.web -H 127.0.0.1 -P 8080 aiohttp_app:init
(or python aiohttp_app.py: aiohttp's defaults, every interface, port 8080)
"""

from typing import Any

import siomw_jwt
import siomw_ratelimit
import socketio
from aiohttp import web

import siomw_core

sio = socketio.AsyncServer(async_mode="aiohttp")
siomw_core.attach(sio)  # the installed plugins, configured by ./siomw.toml
app = web.Application()
sio.attach(app)  # after siomw's attach: aiohttp then routes requests through the engine chain


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


def init(argv: list[str]) -> web.Application:
    """aiohttp's runner (python -m aiohttp.web ... aiohttp_app:init) calls this."""
    return app


if __name__ == "__main__":
    web.run_app(app)
