"""A chat on python-socketio's AsyncServer, one of several processes behind nginx.

Every process runs the same app with the same siomw.toml (in this folder), one port each:

    siomw serve asgi_app:sio --port 8001
    siomw serve asgi_app:sio --port 8002

An emit goes through Redis (socketio.AsyncRedisManager) to the clients of every process.
"""

import os
from typing import Any

import socketio

import siomw_core

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CHANNEL = os.environ.get("SOCKETIO_CHANNEL", "socketio")  # the same in every process

sio = socketio.AsyncServer(
    async_mode="asgi", client_manager=socketio.AsyncRedisManager(REDIS_URL, channel=CHANNEL))
mw = siomw_core.attach(sio)  # logging, jwt, ratelimit: configured by ./siomw.toml


@mw.use
async def remember_address(socket: siomw_core.Socket, call_next: siomw_core.CallNext) -> None:
    socket.data["address"] = socket.handshake.address  # the client's, behind nginx
    await call_next()


@sio.event
async def whoami(sid: str) -> dict[str, Any]:
    session = await sio.get_session(sid)
    return {"process": os.getpid(), "address": session["address"],
            "user": session["user"]["sub"]}


@sio.event
async def shout(sid: str, text: str) -> str:
    session = await sio.get_session(sid)
    await sio.emit("news", {"from": session["user"]["sub"], "text": text})  # every process
    return "sent"
