"""Event middlewares: Node's socket.use for every socket of a namespace, and for one socket.

Run, from the repository: uvicorn docs.examples.event_app:app
"""

from typing import Any

import socketio

import siomw_core
from siomw_core import CallNext, Event, Refusal, Socket

sio = socketio.AsyncServer(async_mode="asgi")
mw = siomw_core.attach(sio, plugins=[])  # only this file's middlewares
seen: list[str] = []


@mw.event.use  # every event of every socket of "/", before its handler
async def audit(event: Event, call_next: CallNext) -> None:
    seen.append(event.name)
    if event.name.startswith("admin:") and event.socket.data.get("role") != "admin":
        raise Refusal("unauthorized event", {"code": "forbidden", "event": event.name})
    await call_next()  # the rest of the chain, then the handler


@mw.event.use(after="audit")
async def trim(event: Event, call_next: CallNext) -> None:
    # what the handler gets is event.args once the chain has passed
    event.args = [a.strip() if isinstance(a, str) else a for a in event.args]
    await call_next()


@mw.use  # a connect middleware
async def login(socket: Socket, call_next: CallNext) -> None:
    socket.data["role"] = socket.handshake.auth.get("role", "guest")
    if socket.data["role"] == "guest":
        sent = 0

        async def quota(event: Event, call_next: CallNext) -> None:  # this socket only
            nonlocal sent
            sent += 1
            if sent > 1:  # a guest may send one event that passes the namespace's members
                raise Refusal("guest quota reached", {"code": "quota", "limit": 1})
            await call_next()

        socket.use(quota)  # runs after the namespace's members, for this socket's events
    await call_next()


@sio.event
async def message(sid: str, text: str) -> dict[str, Any]:
    return {"echo": text}  # the ack's value, as in python-socketio


@sio.on("admin:kick")
async def kick(sid: str, who: str) -> str:
    return f"kicked {who}"


app = mw.asgi_app()
