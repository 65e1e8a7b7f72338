"""A sync socketio.Server in threading mode, with siomw: `siomw serve threads_app:app`
(gunicorn, gthread worker). Run in this folder."""

import socketio

import siomw_core
from siomw_core import Refusal, Socket
from siomw_core.middleware import SyncCallNext

sio = socketio.Server(async_mode="threading")  # with gevent installed, the default is gevent
mw = siomw_core.attach(sio, plugins=[])  # plugins=[]: only this file's middleware
app = socketio.WSGIApp(sio)


@mw.use
def require_token(socket: Socket, call_next: SyncCallNext) -> None:
    if socket.handshake.auth.get("token") != "let-me-in":
        raise Refusal("not authorized", {"code": "invalid_token"})
    call_next()


@sio.on("echo")
def echo(sid: str, data: object) -> object:
    return data
