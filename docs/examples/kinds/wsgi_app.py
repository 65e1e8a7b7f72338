"""The chat on python-socketio's sync Server, threading mode, under gunicorn (WSGI).

Run, in this folder (siomw.toml beside it): gunicorn -w 1 --threads 100 wsgi_app:app
(one worker: Socket.IO sessions live in the process; WebSocket through simple-websocket)
"""

from typing import Any

import siomw_jwt
import siomw_ratelimit
import socketio

import siomw_core

sio = socketio.Server(async_mode="threading")
siomw_core.attach(sio)  # the installed plugins, configured by ./siomw.toml
app = socketio.WSGIApp(sio)


@sio.event
def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    user = sio.get_session(sid)["user"]  # the token's claims, stored by jwt
    sio.emit("welcome", {"user": user["sub"]}, to=sid)  # arrives right after CONNECT


@sio.on("chat")
@siomw_ratelimit.limit("3/minute")  # three messages a minute per socket
def chat(sid: str, text: str) -> dict[str, str]:
    user = sio.get_session(sid)["user"]
    sio.emit("chat", {"from": user["sub"], "text": text}, skip_sid=sid)
    return {"status": "sent", "text": text}


@sio.on("announce")
@siomw_jwt.requires("admin")  # only tokens that grant the "admin" scope
def announce(sid: str, text: str) -> str:
    sio.emit("announcement", text)
    return "announced"
