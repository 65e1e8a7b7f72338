"""A socketio.AsyncServer attached to an aiohttp application, with siomw:
`siomw serve aiohttp_app:app` (aiohttp's runner). Run in this folder."""

import socketio
from aiohttp import web

import siomw_core
from siomw_core import CallNext, Refusal, Socket

sio = socketio.AsyncServer(async_mode="aiohttp")
mw = siomw_core.attach(sio, plugins=[])  # first: aiohttp keeps the handler attach() gives it
app = web.Application()
sio.attach(app)


@mw.use
async def require_token(socket: Socket, call_next: CallNext) -> None:
    if socket.handshake.auth.get("token") != "let-me-in":
        raise Refusal("not authorized", {"code": "invalid_token"})
    await call_next()


@sio.on("echo")
async def echo(sid: str, data: object) -> object:
    return data
