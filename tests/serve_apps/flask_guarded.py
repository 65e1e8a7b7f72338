"""A Flask-SocketIO app (async_mode from $SERVE_MODE) with siomw attached to its SocketIO
and a plain def connect middleware refusing clients without auth {"pass": "yes"}, for
tests/test_serve_kinds.py."""

import os

from flask import Flask
from flask_socketio import SocketIO

import siomw_core
from siomw_core.middleware import SyncCallNext

app = Flask(__name__)
socketio = SocketIO(app, async_mode=os.environ.get("SERVE_MODE", "threading"))
mw = siomw_core.attach(socketio, plugins=[])


@mw.use
def gate(socket: siomw_core.Socket, call_next: SyncCallNext) -> None:
    if (socket.handshake.auth or {}).get("pass") != "yes":
        raise siomw_core.Refusal("not allowed", {"kind": "flask"})
    call_next()


@socketio.on("echo")
def echo(data: object) -> object:
    return data
