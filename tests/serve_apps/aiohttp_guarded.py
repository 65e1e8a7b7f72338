"""A socketio.AsyncServer on aiohttp with siomw attached and a connect middleware refusing
clients without auth {"pass": "yes"}, for tests/test_serve_kinds.py."""

import socketio
from aiohttp import web

import siomw_core

sio = socketio.AsyncServer(async_mode="aiohttp")
app = web.Application()
sio.attach(app)
mw = siomw_core.attach(sio, plugins=[])


@mw.use
async def gate(socket: siomw_core.Socket, call_next: siomw_core.CallNext) -> None:
    if (socket.handshake.auth or {}).get("pass") != "yes":
        raise siomw_core.Refusal("not allowed", {"kind": "aiohttp"})
    await call_next()


@sio.on("echo")
async def echo(sid: str, data: object) -> object:
    return data
