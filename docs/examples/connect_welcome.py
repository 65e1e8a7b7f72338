"""The connect handler greets the socket it accepts; a namespace that only a middleware guards."""

import socketio

import siomw_core
from siomw_core import Socket

sio = socketio.AsyncServer(async_mode="asgi")
mw = siomw_core.attach(sio, plugins=[])  # only this file's middlewares


@sio.event
async def connect(sid: str, environ: dict[str, object], auth: object) -> None:
    # held while the chain decides, sent right after the client's CONNECT, in this order
    await sio.emit("hello", {"motd": "welcome"}, to=sid)
    await sio.enter_room(sid, "lobby")
    await sio.emit("hello", {"room": "lobby"}, room="lobby")


# "/staff" has no handler: guarding it with a middleware is what makes it a namespace
@mw.of("/staff").use
async def staff_only(socket: Socket, call_next: siomw_core.CallNext) -> None:
    if socket.handshake.auth.get("badge") != "b-42":
        raise ConnectionRefusedError("staff only", {"code": "not_staff"})  # as in a handler
    await call_next()


app = mw.asgi_app()  # uvicorn docs.examples.connect_welcome:app
