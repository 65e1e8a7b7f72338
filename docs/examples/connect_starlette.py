"""siomw in a Starlette (or FastAPI) application served by uvicorn: the same few lines."""

import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import siomw_core
from siomw_core import Refusal, Socket


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


web = Starlette(routes=[Route("/health", health)])
sio = socketio.AsyncServer(async_mode="asgi")
mw = siomw_core.attach(sio, plugins=[])  # this file's middlewares only


@mw.use(namespace=None)  # every namespace, not only "/"
async def only_with_key(socket: Socket, call_next: siomw_core.CallNext) -> None:
    if socket.handshake.headers.get("x-api-key") != "k1":
        raise Refusal("missing API key", {"code": "invalid_request"})
    await call_next()


# Socket.IO on /socket.io/ behind the engine chain, everything else to Starlette untouched;
# run: uvicorn module:app. (An existing socketio.ASGIApp(sio, other_asgi_app=web) served as
# it is runs the engine chain too: it sits in python-engineio's own request handling.)
app = mw.asgi_app(other_asgi_app=web)
