"""docs/examples/production/wsgi_app.py with a connect middleware that holds a socket
pending until released (the sync twin of :mod:`tests.deploy.held_asgi`): ``auth = {"hold":
NAME}`` blocks the chain's thread at this member until a socket of the same process emits
``release`` NAME; ``held`` answers the names held now."""

from __future__ import annotations

import importlib
import threading

import siomw_core

#: docs/examples/production/wsgi_app.py (the working directory of siomw serve)
_production = importlib.import_module("wsgi_app")
app = _production.app
mw = _production.mw
sio = _production.sio

HELD: dict[str, threading.Event] = {}
LOCK = threading.Lock()


@mw.use
def hold(socket: siomw_core.Socket, call_next: siomw_core.SyncCallNext) -> None:
    auth = socket.handshake.auth
    name = auth.get("hold") if isinstance(auth, dict) else None
    if isinstance(name, str):
        with LOCK:
            released = HELD.setdefault(name, threading.Event())
        released.wait(8)  # within the chain's deadline (10 s)
    call_next()


@sio.event
def held(sid: str) -> list[str]:
    with LOCK:
        return sorted(name for name, event in HELD.items() if not event.is_set())


@sio.event
def release(sid: str, name: str) -> str:
    with LOCK:
        HELD[name].set()
    return "released"


__all__ = ["app", "held", "hold", "release"]
