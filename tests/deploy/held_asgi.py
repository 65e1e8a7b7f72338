"""docs/examples/production/asgi_app.py with a connect middleware that holds a socket
pending until released, for tests/deploy (served in that folder, the repository on
PYTHONPATH): ``auth = {"hold": NAME}`` holds the chain at this member until a socket of the
same process emits ``release`` NAME; ``held`` answers the names held now."""

from __future__ import annotations

import asyncio
import importlib

import siomw_core

#: docs/examples/production/asgi_app.py (the working directory of siomw serve)
_production = importlib.import_module("asgi_app")
mw = _production.mw
sio = _production.sio

HELD: dict[str, asyncio.Event] = {}


@mw.use
async def hold(socket: siomw_core.Socket, call_next: siomw_core.CallNext) -> None:
    auth = socket.handshake.auth
    name = auth.get("hold") if isinstance(auth, dict) else None
    if isinstance(name, str):
        released = HELD.setdefault(name, asyncio.Event())
        await asyncio.wait_for(released.wait(), 8)  # within the chain's deadline (10 s)
    await call_next()


@sio.event
async def held(sid: str) -> list[str]:
    return sorted(name for name, event in HELD.items() if not event.is_set())


@sio.event
async def release(sid: str, name: str) -> str:
    HELD[name].set()
    return "released"


__all__ = ["held", "hold", "release", "sio"]
