"""An event benchmark server: ``python bench/event_server.py MODE PORT``.

Every mode serves the same handler, ``echo`` (returns its argument: the ack), on ``"/"``.
MODE is a key of :data:`MODES`; adding a mode is one line there: a name and a function that
takes the ``socketio.AsyncServer`` and attaches whatever the mode measures.

- ``bare``: python-socketio alone;
- ``empty``: siomw attached, no plugin, no event member (the fast path);
- ``noopN``: siomw with N no-op event members (per-member cost = (noop10 - noop0) / 10;
  ``noop0`` is ``empty``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import socketio
import uvicorn

from siomw_core import CallNext, Config, CoreSettings, Event, Siomw


def stack(sio: socketio.AsyncServer, plugins: list[str] | None = None,
          tables: dict[str, dict[str, Any]] | None = None) -> Siomw:
    """siomw on ``sio`` with ``plugins`` (none by default) configured by ``tables``."""
    return Siomw(sio, config=Config("bench", CoreSettings(plugins=plugins or []),
                                    tables=tables or {}))


def noops(count: int) -> Callable[[socketio.AsyncServer], Any]:
    """A mode with ``count`` no-op event members."""
    def build(sio: socketio.AsyncServer) -> None:
        mw = stack(sio)
        for i in range(count):
            async def noop(event: Event, call_next: CallNext) -> None:
                await call_next()

            mw.event.use(noop, name=f"noop{i}")

    return build


#: mode name -> what it attaches to the server (one line per mode)
MODES: dict[str, Callable[[socketio.AsyncServer], Any]] = {
    "bare": lambda sio: None,
    "empty": lambda sio: stack(sio),
    "noop0": noops(0),
    "noop1": noops(1),
    "noop10": noops(10),
    "jwt": lambda sio: stack(sio, ["jwt"], {"jwt": {}}),  # jwt event member: expiry check per event
    "ratelimit": lambda sio: stack(sio, ["ratelimit"], {"ratelimit": {"connect": "1000000/second", "event": "1000000/second", "strategy": "fixed-window"}}),  # noqa: E501  one unit of a per-socket budget per event
    # issue 7's figure: ratelimit + jwt expiry check + logging with events = false
    "full": lambda sio: stack(sio, ["jwt", "logging", "ratelimit"], {"jwt": {}, "logging": {"events": False, "file": "logging"}, "ratelimit": {"connect": "1000000/second", "event": "1000000/second", "strategy": "fixed-window"}}),  # noqa: E501
}


def build(mode: str) -> socketio.AsyncServer:
    """The server of ``mode`` (SystemExit for an unknown one)."""
    if mode not in MODES:
        raise SystemExit(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
    sio = socketio.AsyncServer(async_mode="asgi")

    @sio.event
    async def echo(sid: str, value: Any) -> Any:
        return value

    MODES[mode](sio)
    return sio


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    server = build(mode)
    attached = getattr(server, "_siomw_stack", None)  # serve what runs the engine chain too
    app = socketio.ASGIApp(server) if attached is None else attached.asgi_app()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)
