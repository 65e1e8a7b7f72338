"""Connection middlewares on a sync socketio.Server (WSGI: gunicorn threads, gevent): plain def."""

import socketio

import siomw_core
from siomw_core import Refusal, Socket

sio = socketio.Server(async_mode="threading")
# plugins=[]: only this file's middlewares; without it the installed plugins join in
mw = siomw_core.attach(sio, plugins=[])


@mw.use
def require_token(socket: Socket, call_next: siomw_core.SyncCallNext) -> None:
    if socket.handshake.auth.get("token") != "let-me-in":
        raise Refusal("not authorized", {"code": "invalid_token"})
    socket.data["user"] = "ann"
    call_next()  # the rest of the chain and the connect handler, in this same thread


@sio.event
def connect(sid: str, environ: dict[str, object], auth: object) -> None:
    user = sio.get_session(sid)["user"]  # what the middleware stored
    sio.emit("welcome", f"hello {user}", to=sid)  # arrives right after CONNECT


app = socketio.WSGIApp(sio)  # gunicorn --threads 50 connect_sync:app
