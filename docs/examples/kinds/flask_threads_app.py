"""A Flask-SocketIO chat, written as Flask-SocketIO's documentation does, with siomw added.

Run, in this folder (siomw.toml beside it): gunicorn -w 1 --threads 100 flask_threads_app:app
(async_mode="threading": with gevent installed, SocketIO(app) would pick gevent)
"""

from typing import Any

import siomw_jwt
import siomw_ratelimit
from flask import Flask, request
from flask_socketio import SocketIO, emit

import siomw_core

app = Flask(__name__)
app.config["SECRET_KEY"] = "secret!"
socketio = SocketIO(app, async_mode="threading")
siomw_core.attach(socketio)  # the installed plugins, configured by ./siomw.toml


def user() -> dict[str, Any]:
    """The token's claims, stored by jwt in the python-socketio session of this client."""
    claims: dict[str, Any] = socketio.server.get_session(request.sid)["user"]  # type: ignore[attr-defined]
    return claims


@app.route("/")
def index() -> str:
    return "chat"


@socketio.on("connect")
def connect(auth: Any) -> None:
    emit("welcome", {"user": user()["sub"]})  # arrives right after CONNECT


@socketio.on("chat")
@siomw_ratelimit.limit("3/minute")  # three messages a minute per client
def chat(text: str) -> dict[str, str]:
    emit("chat", {"from": user()["sub"], "text": text}, broadcast=True, include_self=False)
    return {"status": "sent", "text": text}


@siomw_jwt.requires("admin")  # only tokens that grant "admin"; above or below @socketio.on
@socketio.on("announce")
def announce(text: str) -> str:
    emit("announcement", text, broadcast=True)
    return "announced"
