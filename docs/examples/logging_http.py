"""An engine access log: one ``http`` line per HTTP request of the engine.

Run it with ``uvicorn logging_http:app`` next to ``logging_http.toml``. The engine chain
(and so the access log) runs however the app is served.
"""

from pathlib import Path
from typing import Any

import socketio

from siomw_core import Refusal, Request, attach

sio = socketio.AsyncServer(async_mode="asgi")
mw = attach(sio, config=Path(__file__).with_name("logging_http.toml"))

API_KEYS = frozenset({"demo-key-1"})


@mw.engine.use
async def api_key(request: Request, call_next: Any) -> None:
    """Runs inside "logging-http": its refusals are logged with their status and code."""
    if request.is_handshake and request.query.get("key") not in API_KEYS:
        raise Refusal("unknown API key", {"code": "invalid_token"}, status=401)
    await call_next()


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    pass


app = mw.asgi_app()  # not socketio.ASGIApp(sio): the engine chain runs here
