"""A Socket.IO app whose clients may open five engine sessions a minute (per address).

Run it with ``uvicorn ratelimit_http_app:app`` next to ``ratelimit_http.toml``.
"""

from pathlib import Path
from typing import Any

import socketio

from siomw_core import attach

sio = socketio.AsyncServer(async_mode="asgi")
mw = attach(sio, config=Path(__file__).with_name("ratelimit_http.toml"))


@sio.event
async def echo(sid: str, data: Any) -> Any:
    return data


# the engine chain (and so the HTTP limit) runs however the app is served
app = mw.asgi_app()
