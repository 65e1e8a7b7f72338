"""An event benchmark server: ``python bench/event_server.py MODE PORT [KIND]``.

KIND is ``asgi`` (default: ``socketio.AsyncServer`` under uvicorn) or ``wsgi``
(``socketio.Server(async_mode="threading")`` under gunicorn's gthread worker, as
``bench/server.py`` serves it; the handler and the no-op members are plain ``def`` there).

Every mode serves the same handler, ``echo`` (returns its argument: the ack), on ``"/"``.
MODE is a key of :data:`MODES`; adding a mode is one line there: a name and a function that
takes the ``socketio.AsyncServer`` and attaches whatever the mode measures.

- ``bare``: python-socketio alone;
- ``empty``: siomw attached, no plugin, no event member (the fast path);
- ``noopN``: siomw with N no-op event members (per-member cost = (noop10 - noop0) / 10;
  ``noop0`` is ``empty``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeAlias

import socketio
import uvicorn
from server import GUNICORN

from siomw_core import CallNext, Config, CoreSettings, Event, Siomw

AnyServer: TypeAlias = socketio.AsyncServer | socketio.Server


def stack(sio: AnyServer, plugins: list[str] | None = None,
          tables: dict[str, dict[str, Any]] | None = None) -> Siomw:
    """siomw on ``sio`` with ``plugins`` (none by default) configured by ``tables``."""
    return Siomw(sio, config=Config("bench", CoreSettings(plugins=plugins or []),
                                    tables=tables or {}))


def noops(count: int) -> Callable[[AnyServer], Any]:
    """A mode with ``count`` no-op event members (plain ``def`` on a sync server)."""
    def build(sio: AnyServer) -> None:
        mw = stack(sio)
        for i in range(count):
            if isinstance(sio, socketio.Server):
                def snoop(event: Event, call_next: Any) -> None:
                    call_next()

                mw.event.use(snoop, name=f"noop{i}")
                continue

            async def noop(event: Event, call_next: CallNext) -> None:
                await call_next()

            mw.event.use(noop, name=f"noop{i}")

    return build


#: mode name -> what it attaches to the server (one line per mode)
MODES: dict[str, Callable[[AnyServer], Any]] = {
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


def build(mode: str, kind: str = "asgi") -> AnyServer:
    """The server of ``mode`` on ``kind`` (SystemExit for an unknown one)."""
    if mode not in MODES:
        raise SystemExit(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
    if kind not in ("asgi", "wsgi"):
        raise SystemExit(f"bench/event_server.py: unknown kind {kind!r} (asgi or wsgi)")
    sio: AnyServer
    if kind == "wsgi":
        sio = socketio.Server(async_mode="threading")

        @sio.on("echo")
        def secho(sid: str, value: Any) -> Any:
            return value
    else:
        sio = socketio.AsyncServer(async_mode="asgi")

        @sio.event
        async def echo(sid: str, value: Any) -> Any:
            return value

    MODES[mode](sio)
    return sio


def wsgi_app(mode: str) -> socketio.WSGIApp:
    """The WSGI application gunicorn's worker serves for the ``wsgi`` kind."""
    return socketio.WSGIApp(build(mode, "wsgi"))


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    if len(sys.argv) > 3 and sys.argv[3] != "asgi":
        build(mode, sys.argv[3])  # an unknown mode or kind: said here, before gunicorn
        here = os.path.dirname(os.path.abspath(__file__))
        os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "-w", "1",
                                  *GUNICORN["wsgi"], "-b", f"127.0.0.1:{port}",
                                  "--log-level", "warning", "--chdir", here,
                                  f"event_server:wsgi_app({mode!r})"])
    server = build(mode)
    attached = getattr(server, "_siomw_stack", None)  # serve what runs the engine chain too
    app = socketio.ASGIApp(server) if attached is None else attached.asgi_app()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)
