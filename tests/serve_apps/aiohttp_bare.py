"""A bare socketio.AsyncServer attached to an aiohttp application, for
tests/test_serve_kinds.py: `echo` answers through its ack, `/` is aiohttp's own route."""

import socketio
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp")
app = web.Application()
sio.attach(app)


async def home(request: web.Request) -> web.Response:
    return web.Response(text="home")


app.router.add_get("/", home)


@sio.on("echo")
async def echo(sid: str, data: object) -> object:
    return data
