"""A sync socketio.Server (async_mode from $SERVE_MODE) with siomw attached and a plain def
connect middleware refusing clients without auth {"pass": "yes"}, for
tests/test_serve_kinds.py."""

import os

import socketio

import siomw_core
from siomw_core.middleware import SyncCallNext

sio = socketio.Server(async_mode=os.environ.get("SERVE_MODE", "threading"))
mw = siomw_core.attach(sio, plugins=[])
app = socketio.WSGIApp(sio)


@mw.use
def gate(socket: siomw_core.Socket, call_next: SyncCallNext) -> None:
    if (socket.handshake.auth or {}).get("pass") != "yes":
        raise siomw_core.Refusal("not allowed", {"kind": os.environ.get("SERVE_MODE")})
    call_next()


@sio.on("echo")
def echo(sid: str, data: object) -> object:
    return data
