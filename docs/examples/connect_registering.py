"""Registering middlewares: two run in order, the second refuses (Socket.IO guide, Python terms)."""

import socketio

import siomw_core
from siomw_core import Refusal, Socket

sio = socketio.AsyncServer(async_mode="asgi")
# plugins=[]: only this file's middlewares; without it the installed plugins join in
# (configured by ./siomw.toml), as with `siomw serve`
mw = siomw_core.attach(sio, plugins=[])
seen: list[str] = []


@mw.use
async def first(socket: Socket, call_next: siomw_core.CallNext) -> None:
    seen.append("first")
    await call_next()


@mw.use
async def second(socket: Socket, call_next: siomw_core.CallNext) -> None:
    seen.append("second")
    if socket.handshake.auth.get("token") != "let-me-in":
        raise Refusal("not authorized", {"content": "Please retry later"})
    await call_next()


@sio.event
async def connect(sid: str, environ: dict[str, object], auth: object) -> None:
    seen.append("connect handler")


# mw.asgi_app(), not socketio.ASGIApp(sio): only it runs the engine chain (the plugins' HTTP
# checks, headers and access log); uvicorn docs.examples.connect_registering:app
app = mw.asgi_app()
