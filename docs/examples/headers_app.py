"""A Socket.IO app whose engine responses carry security headers (the ``headers`` plugin).

Run it with ``uvicorn headers_app:app`` next to ``headers_siomw.toml``, then look at a
handshake with ``curl -i 'http://127.0.0.1:8000/socket.io/?EIO=4&transport=polling'``.
"""

from pathlib import Path
from typing import Any

import socketio

from siomw_core import Refusal, Request, attach

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=["https://app.example"])
mw = attach(sio, config=Path(__file__).with_name("headers_siomw.toml"))


@mw.engine.use(priority=100)
async def api_key(request: Request, call_next: Any) -> None:
    """Runs inside "headers" (2500): its 401 carries the security headers too."""
    if request.is_handshake and request.query.get("key") != "demo":
        raise Refusal("an API key is required", {"code": "invalid_request"}, status=401)
    await call_next()


app = mw.asgi_app()  # serve this one: the engine chain runs only in mw.asgi_app()
