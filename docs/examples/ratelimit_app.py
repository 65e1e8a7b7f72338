"""A Socket.IO app whose clients may connect three times a minute (per address).

Run it with ``uvicorn ratelimit_app:app`` next to ``ratelimit_demo.toml``.
"""

from pathlib import Path
from typing import Any

import socketio

from siomw_core import attach

sio = socketio.AsyncServer(async_mode="asgi")
mw = attach(sio, config=Path(__file__).with_name("ratelimit_demo.toml"))


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    await sio.emit("welcome", "you are in", to=sid)


app = mw.asgi_app()  # socketio.ASGIApp(sio) with its arguments (a bare one works too)
