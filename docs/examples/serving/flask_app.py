"""A Flask-SocketIO app in gevent mode, with siomw: `siomw serve flask_app:app` (gunicorn,
gevent worker). Run in this folder."""

from flask import Flask
from flask_socketio import SocketIO

import siomw_core
from siomw_core import Refusal, Socket
from siomw_core.middleware import SyncCallNext

app = Flask(__name__)
socketio = SocketIO(app, async_mode="gevent")
mw = siomw_core.attach(socketio, plugins=[])


@mw.use
def require_token(socket: Socket, call_next: SyncCallNext) -> None:
    if socket.handshake.auth.get("token") != "let-me-in":
        raise Refusal("not authorized", {"code": "invalid_token"})
    call_next()


@app.route("/")
def index() -> str:
    return "Flask's own routes are served too"


@socketio.on("echo")
def echo(data: object) -> object:
    return data
