"""Engine middlewares: Node's ``io.engine.use((req, res, next) => ...)`` in Python.

Serve ``app`` (``uvicorn engine_registering:app``); the engine chain runs however the server
is served (``socketio.ASGIApp(sio)`` too).
"""

from __future__ import annotations

import socketio

from siomw_core import CallNext, Refusal, Request, attach

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
mw = attach(sio, plugins=[])  # this file's middlewares only
#: (method, transport, is_handshake, status) of every engine request, for the example's test
access_log: list[tuple[str, str | None, bool, int | None]] = []


@mw.engine.use
async def log_requests(request: Request, call_next: CallNext) -> None:
    """Every HTTP request of the engine: the handshake, each poll, the WebSocket upgrade."""
    try:
        await call_next()
    except Refusal as refusal:  # an inner member refused: the status it will answer with
        access_log.append((request.method, request.transport, request.is_handshake,
                           refusal.status))
        raise
    access_log.append((request.method, request.transport, request.is_handshake, request.status))


@mw.engine.use(after="log_requests")
async def require_api_key(request: Request, call_next: CallNext) -> None:
    """Checked once, on the request that opens the session (Node: ``req._query.sid``)."""
    if request.is_handshake and request.headers.get("x-api-key") != "s3cret":
        raise Refusal("missing or wrong API key", {"code": "invalid_api_key"}, status=401,
                      headers={"WWW-Authenticate": 'ApiKey realm="socket.io"'})
    request.response_headers.append(("X-Served-By", "siomw"))
    await call_next()


app = mw.asgi_app()
