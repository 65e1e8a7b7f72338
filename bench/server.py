"""A benchmark server: ``python bench/server.py MODE PORT [KIND]``.

MODE:

- ``bare``: python-socketio alone.
- ``noopN``: siomw with N no-op connect middlewares and no plugins (``noop0``: siomw's fixed
  cost, the engine level's seam included).
- ``full``: siomw with the logging, jwt and ratelimit plugins as configured by default but
  for memory storage and a moving window of 1000 connections per minute per client address;
  logging's engine member (``access_log``, on by default) writes an ``http`` line for each
  WebSocket request too, since the engine chain runs however the app is served.
- ``full-noaccess``: ``full`` with ``access_log = false``: the connect level alone.
- ``full-hot``: ``full`` with a connect limit of 1 000 000 per minute, for every client on one
  address (``connect_rate.py --addresses 0``): one hot rate-limit key whose moving window
  holds every connection of the last minute.
- ``logging``, ``jwt``, ``ratelimit``: one of ``full``'s plugins alone (where its cost goes).
- ``byhand``: no siomw; the connect handler does ``full``'s work by hand (``bench/byhand.py``:
  PyJWT, a ``limits`` moving window, one structlog line).
- ``engine``: ``full`` plus the engine level's members: jwt's handshake check, an HTTP
  request limit and the headers plugin (``bench/polling_rate.py``); on ASGI served through
  ``mw.asgi_app()``.

With ``SIOMW_BENCH_STATS=1`` in the environment, ``GET /bench/memory`` (outside the engine
path) answers ``{"traced": BYTES, "sockets": N}`` after a full ``gc.collect()``: the bytes
tracemalloc traces (start the server with ``PYTHONTRACEMALLOC=1``) and the sockets connected
to ``"/"`` (``bench/memory_rate.py``). ``SIOMW_BENCH_THREADS`` sets the ``wsgi`` kind's
gunicorn threads (default 100: one per connected WebSocket); ``SIOMW_BENCH_PING_INTERVAL``
the Engine.IO ping interval in seconds (python-engineio's default: 25).

KIND (default ``asgi``), each served as its users serve it:

- ``asgi``: ``socketio.AsyncServer(async_mode="asgi")`` in ``socketio.ASGIApp``, uvicorn.
- ``aiohttp``: ``socketio.AsyncServer(async_mode="aiohttp")`` attached to an
  ``aiohttp.web.Application`` (``sio.attach(app)``), served by aiohttp's runner
  (``web.run_app``).
- ``wsgi``: ``socketio.Server(async_mode="threading")`` in ``socketio.WSGIApp``, under
  gunicorn's ``gthread`` worker (``gunicorn -w 1 --threads 100``; WebSocket through
  simple-websocket, one thread per connected client).
- ``gevent``: ``socketio.Server(async_mode="gevent")`` in ``socketio.WSGIApp``, under
  gunicorn's ``gevent`` worker (``gunicorn -w 1 -k gevent``).

For ``wsgi`` and ``gevent`` this process becomes gunicorn (``os.execv``: same pid), whose one
worker imports :func:`wsgi_app` from this module; ``noopN`` members there are plain ``def``
functions, as a sync server's users write them.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

import socketio

from siomw_core import CallNext, Config, CoreSettings, Siomw, Socket

KINDS = ("asgi", "aiohttp", "wsgi", "gevent")
#: the python-socketio ``async_mode`` of each kind
ASYNC_MODES = {"asgi": "asgi", "aiohttp": "aiohttp", "wsgi": "threading", "gevent": "gevent"}
#: gunicorn's worker options of the sync kinds (one worker: Socket.IO sessions are per process)
GUNICORN = {"wsgi": ["-k", "gthread", "--threads", os.environ.get("SIOMW_BENCH_THREADS", "100")],
            "gevent": ["-k", "gevent", "--worker-connections", "1000"]}

FULL: dict[str, dict[str, object]] = {
    "logging": {"file": os.devnull},
    "jwt": {"algorithms": ["HS256"]},
    "ratelimit": {"connect": "1000/minute", "strategy": "moving-window"},
}
NOACCESS: dict[str, dict[str, object]] = {
    **FULL, "logging": {"file": os.devnull, "access_log": False}}
HOT: dict[str, dict[str, object]] = {
    **FULL, "ratelimit": {"connect": "1000000/minute", "strategy": "moving-window"}}
ENGINE: dict[str, dict[str, object]] = {
    "logging": {"file": os.devnull},
    "jwt": {"algorithms": ["HS256"], "handshake": True},
    # limits high enough never to refuse: the benchmark measures their cost
    "ratelimit": {"connect": "100000/minute", "http": "100000/minute"},
    "headers": {},
}


def _server(kind: str, byhand: bool = False) -> socketio.AsyncServer | socketio.Server:
    """The server of ``kind`` with an accepting connect handler (``async def`` on the async
    kinds, ``def`` on the sync ones; ``byhand``: ``bench/byhand.py``'s)."""
    # memory_rate.py holds thousands of idle sockets: pings would only add noise there
    options: dict[str, Any] = {}
    if os.environ.get("SIOMW_BENCH_PING_INTERVAL"):
        options["ping_interval"] = float(os.environ["SIOMW_BENCH_PING_INTERVAL"])
    if byhand:
        import byhand as hand

        made: socketio.AsyncServer | socketio.Server = hand.server(
            kind, ASYNC_MODES[kind], options)
        return made
    if kind in ("asgi", "aiohttp"):
        asio = socketio.AsyncServer(async_mode=ASYNC_MODES[kind], **options)

        @asio.event
        async def connect(sid: str, environ: dict[str, object], auth: object) -> None:
            return None

        return asio
    sio = socketio.Server(async_mode=ASYNC_MODES[kind], **options)

    @sio.on("connect")
    def connect_sync(sid: str, environ: dict[str, object], auth: object) -> None:
        return None

    return sio


def _noop_members(mw: Siomw, count: int, blocking: bool) -> None:
    """``count`` no-op connect members: plain ``def`` when ``blocking`` (sync servers)."""
    for i in range(count):
        if blocking:

            def noop(socket: Socket, call_next: Any) -> None:
                call_next()

            mw.use(noop, name=f"noop{i}")
        else:

            async def anoop(socket: Socket, call_next: CallNext) -> None:
                await call_next()

            mw.use(anoop, name=f"noop{i}")


def check(mode: str, kind: str) -> None:
    """Refuse an unknown ``mode`` or ``kind``.

    Raises:
        SystemExit: one line naming the bad argument.
    """
    if kind not in KINDS:
        raise SystemExit(f"bench/server.py: unknown kind {kind!r} (one of {', '.join(KINDS)})")
    if mode not in ("bare", "byhand", "full", "full-noaccess", "full-hot", "engine",
                    *FULL) and not (
            mode.startswith("noop") and mode[4:].isdigit()):
        raise SystemExit(f"bench/server.py: unknown mode {mode!r}")


def check_modes(parser: argparse.ArgumentParser, modes: list[str], kind: str,
                what: str = "figures") -> None:
    """A benchmark's ``--modes``: bare among them (its ``what``, figures or ratios, are
    against bare), each known on ``kind`` (:func:`check`); else ``parser.error`` with the
    one line (exit status 2)."""
    if "bare" not in modes:
        parser.error(f"--modes must include bare (the {what} are against it)")
    for mode in modes:
        try:
            check(mode, kind)
        except SystemExit as exc:
            parser.error(str(exc).removeprefix("bench/server.py: "))


def build(mode: str, kind: str = "asgi") -> socketio.AsyncServer | socketio.Server:
    """The server of ``kind`` (one of :data:`KINDS`) in ``mode`` (see the module docstring).

    Raises:
        SystemExit: an unknown mode or kind.
    """
    check(mode, kind)
    sio = _server(kind, byhand=mode == "byhand")
    if mode in ("bare", "byhand"):
        return sio
    if mode.startswith("noop"):
        mw = Siomw(sio, config=Config("bench", CoreSettings(plugins=[])))
        _noop_members(mw, int(mode[4:]), blocking=isinstance(sio, socketio.Server))
        return sio
    tables = {"full": FULL, "engine": ENGINE, "full-noaccess": NOACCESS,
              "full-hot": HOT}.get(mode) or {mode: FULL[mode]}
    Siomw(sio, config=Config("bench", CoreSettings(plugins=list(tables)), tables=tables))
    return sio


STATS_PATH = "/bench/memory"


def memory_stats(sio: socketio.AsyncServer | socketio.Server) -> bytes:
    """``{"traced", "sockets"}`` as JSON, after a full collection (see the module). With
    ``SIOMW_BENCH_SNAPSHOTS`` (a directory) set, each reading also dumps a tracemalloc
    snapshot there, numbered from 0 (``memory_rate.py --top`` compares them)."""
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else -1
    folder = os.environ.get("SIOMW_BENCH_SNAPSHOTS")
    if folder and tracemalloc.is_tracing():
        taken = len(os.listdir(folder))
        tracemalloc.take_snapshot().dump(os.path.join(folder, f"{taken}.snap"))
    sockets = sum(1 for _ in sio.manager.get_participants("/", None))
    return json.dumps({"traced": traced, "sockets": sockets}).encode()


def stats_asgi(sio: socketio.AsyncServer) -> Callable[..., Any] | None:
    """The ASGI app answering :data:`STATS_PATH` (None without ``SIOMW_BENCH_STATS``)."""
    if not os.environ.get("SIOMW_BENCH_STATS"):
        return None

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        found = scope["path"] == STATS_PATH
        body = memory_stats(sio) if found else b""
        await send({"type": "http.response.start", "status": 200 if found else 404,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    return app


def wsgi_app(mode: str, kind: str) -> socketio.WSGIApp:
    """The WSGI application gunicorn's worker serves for the sync kinds."""
    sio = build(mode, kind)
    stats = None
    if os.environ.get("SIOMW_BENCH_STATS"):
        def stats(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            if environ.get("PATH_INFO") != STATS_PATH:
                start_response("404 Not Found", [])
                return [b""]
            start_response("200 OK", [("Content-Type", "application/json")])
            return [memory_stats(sio)]
    return socketio.WSGIApp(sio, stats)


def serve(mode: str, port: int, kind: str) -> None:
    """Serve ``mode`` on ``127.0.0.1:port`` as ``kind``'s users do; never returns."""
    if kind in GUNICORN:
        check(mode, kind)  # here, before gunicorn starts
        argv = [sys.executable, "-m", "gunicorn", "-w", "1", *GUNICORN[kind],
                "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                "--chdir", os.path.dirname(os.path.abspath(__file__)),
                f"server:wsgi_app({mode!r}, {kind!r})"]
        os.execv(sys.executable, argv)
    sio = build(mode, kind)
    if kind == "aiohttp":
        from aiohttp import web

        app = web.Application()
        sio.attach(app)
        if os.environ.get("SIOMW_BENCH_STATS"):
            async def stats(request: web.Request) -> web.Response:
                return web.Response(body=memory_stats(sio), content_type="application/json")
            app.router.add_get(STATS_PATH, stats)
        web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)
        return
    import uvicorn

    stack = getattr(sio, "_siomw_stack", None)
    # the engine chain runs only in "engine" mode; the others measure the connect level
    assert isinstance(sio, socketio.AsyncServer)
    other = stats_asgi(sio)
    asgi = (stack.asgi_app(other) if mode == "engine" and stack
            else socketio.ASGIApp(sio, other))
    uvicorn.run(asgi, host="127.0.0.1", port=port, log_level="error", access_log=False)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "asgi")
