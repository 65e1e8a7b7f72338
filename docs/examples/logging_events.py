"""A chat whose events are logged by siomw, arguments redacted.

Run it with ``uvicorn logging_events:app`` next to ``logging_events.toml``.
"""

from pathlib import Path
from typing import Any

import socketio

from siomw_core import CallNext, Event, Identity, Refusal, Socket, attach, set_identity

sio = socketio.AsyncServer(async_mode="asgi")
mw = attach(sio, config=Path(__file__).with_name("logging_events.toml"))


@mw.use
async def sign_in(socket: Socket, call_next: CallNext) -> None:
    name = socket.handshake.auth.get("name")
    if not isinstance(name, str) or not name:
        raise Refusal("who are you?", {"code": "invalid_request"})
    # the identity's sub is the "user" of every line
    set_identity(socket, Identity(sub=name, claims={"sub": name}, source="logging_events"))
    await call_next()


@mw.event.use
async def no_shouting(event: Event, call_next: CallNext) -> None:
    """Runs inside "logging-events": its refusals are logged with their code."""
    message = event.args[0] if event.args else None
    if isinstance(message, dict) and str(message.get("text", "")).isupper():
        raise Refusal("please do not shout", {"code": "shouting"})
    await call_next()


@sio.on("chat message")
async def chat_message(sid: str, message: dict[str, Any]) -> str:
    # the handler gets the arguments as sent: the otp is here, not in the log
    await sio.emit("chat message", {"text": message["text"]}, skip_sid=sid)
    return "delivered"


@sio.on("typing")
async def typing(sid: str) -> None:
    await sio.emit("typing", skip_sid=sid)


app = mw.asgi_app()
