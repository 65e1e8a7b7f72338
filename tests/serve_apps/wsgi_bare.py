"""A bare sync socketio.Server (async_mode from $SERVE_MODE: threading or gevent; transports
from $SERVE_TRANSPORTS, comma-separated) as a socketio.WSGIApp, for tests/test_serve_kinds.py:
`echo` answers through its ack."""

import os

import socketio

sio = socketio.Server(async_mode=os.environ.get("SERVE_MODE", "threading"),
                      transports=os.environ.get("SERVE_TRANSPORTS", "polling,websocket").split(","))
app = socketio.WSGIApp(sio)


@sio.on("echo")
def echo(sid: str, data: object) -> object:
    return data
