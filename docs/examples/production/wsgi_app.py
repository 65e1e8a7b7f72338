"""The same chat on python-socketio's sync Server (threading), one of several gunicorn
processes behind nginx.

Every process runs the same app with the same siomw.toml (in this folder), one port each:

    siomw serve wsgi_app:app --port 8001
    siomw serve wsgi_app:app --port 8002

An emit goes through Redis (socketio.RedisManager) to the clients of every process.
"""

import os
from typing import Any

import socketio

import siomw_core

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CHANNEL = os.environ.get("SOCKETIO_CHANNEL", "socketio")  # the same in every process

sio = socketio.Server(
    async_mode="threading", client_manager=socketio.RedisManager(REDIS_URL, channel=CHANNEL))
mw = siomw_core.attach(sio)  # logging, jwt, ratelimit: configured by ./siomw.toml
app = socketio.WSGIApp(sio)


@mw.use
def remember_address(socket: siomw_core.Socket, call_next: siomw_core.SyncCallNext) -> None:
    socket.data["address"] = socket.handshake.address  # the client's, behind nginx
    call_next()


@sio.event
def whoami(sid: str) -> dict[str, Any]:
    session = sio.get_session(sid)
    return {"process": os.getpid(), "address": session["address"],
            "user": session["user"]["sub"]}


@sio.event
def shout(sid: str, text: str) -> str:
    session = sio.get_session(sid)
    sio.emit("news", {"from": session["user"]["sub"], "text": text})  # every process
    return "sent"
