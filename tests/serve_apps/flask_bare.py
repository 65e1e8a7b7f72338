"""A bare Flask-SocketIO app (async_mode from $SERVE_MODE: threading or gevent), for
tests/test_serve_kinds.py: `echo` answers through its ack, `/` is Flask's own route."""

import os

from flask import Flask
from flask_socketio import SocketIO

app = Flask(__name__)
socketio = SocketIO(app, async_mode=os.environ.get("SERVE_MODE", "threading"))


@app.route("/")
def home() -> str:
    return "home"


@socketio.on("echo")
def echo(data: object) -> object:
    return data
