"""Per-event limits: decorators on handlers, and budgets from ratelimit_events.toml.

Run it with ``uvicorn ratelimit_events_app:app`` next to ``ratelimit_events.toml``.
"""

from pathlib import Path

import socketio
from siomw_ratelimit import limit

from siomw_core import attach

sio = socketio.AsyncServer(async_mode="asgi")
mw = attach(sio, config=Path(__file__).with_name("ratelimit_events.toml"))


@sio.on("chat message")  # limited by [ratelimit.events] "chat message" (no decorator)
async def chat_message(sid: str, text: str) -> str:
    return f"sent: {text}"


@limit("3/minute")  # 3 a minute per socket, on top of [ratelimit] event
@sio.event
async def search(sid: str, query: str) -> list[str]:
    return [query.upper()]


@sio.event
@limit("10/minute", cost=4, scope="media")  # below @sio.event works the same
async def upload(sid: str, name: str) -> str:
    return f"stored {name}"  # 2 uploads a minute; the third would need 12 of 10


@sio.event
@limit("10/minute", scope="media")  # shares the "media" budget with upload
async def thumbnail(sid: str, name: str) -> str:
    return f"thumbnail of {name}"


class Admin(socketio.AsyncNamespace):  # type: ignore[misc]  # socketio is untyped
    @limit("1/minute", key="user")  # per authenticated user (anonymous: per socket)
    async def on_broadcast(self, sid: str, text: str) -> str:
        return "broadcast"


sio.register_namespace(Admin("/admin"))

app = mw.asgi_app()
