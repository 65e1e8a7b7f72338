"""Shared helpers of the logging plugin's tests: a real server and its log file."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import siomw_logging
import socketio

from siomw_core import CallNext, Config, CoreSettings, Identity, Siomw, Socket, attach, set_identity
from siomw_core.testing import serve

Line = dict[str, Any]


def read_lines(path: Path) -> list[Line]:
    """Every JSON line written so far (each line must parse on its own)."""
    if not path.exists():
        return []
    return [json.loads(raw) for raw in path.read_text(encoding="utf-8").splitlines() if raw]


async def wait_for(
    path: Path, predicate: Callable[[Line], bool], *, count: int = 1, timeout: float = 5.0
) -> list[Line]:
    """The lines matching ``predicate`` once there are ``count`` of them (bounded wait)."""
    for _ in range(int(timeout / 0.02)):
        found = [line for line in read_lines(path) if predicate(line)]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {count} matching line(s) within {timeout} s: {read_lines(path)}")


def connects(path: Path) -> list[Line]:
    """The ``connect`` lines written so far."""
    return [line for line in read_lines(path) if line["event"] == "connect"]


def http_lines(path: Path) -> list[Line]:
    """The ``http`` lines (engine level) written so far."""
    return [line for line in read_lines(path) if line["event"] == "http"]


def make_server(
    table: dict[str, Any], core: CoreSettings | None = None, **server: Any
) -> tuple[socketio.AsyncServer, Siomw]:
    """A server accepting every namespace, with the logging plugin configured by ``table``
    (``server``: more ``socketio.AsyncServer`` arguments, e.g. ``cors_allowed_origins``)."""
    sio = socketio.AsyncServer(async_mode="asgi", namespaces="*", **server)

    @sio.on("connect", namespace="*")
    async def connect(namespace: str, sid: str, environ: dict[str, Any], auth: Any) -> None:
        return None

    config = Config(source="test", core=core or CoreSettings(), tables={"logging": table})
    mw = attach(sio, config=config, entry_points=False, local_plugins=[("logging", siomw_logging)])
    return sio, mw


@contextlib.asynccontextmanager
async def logged_server(
    log_file: Path, *, core: CoreSettings | None = None, **table: Any
) -> AsyncIterator[tuple[str, Siomw]]:
    """Serve a :func:`make_server` app writing to ``log_file``, its ``http`` lines off unless
    ``access_log`` is given (the engine chain runs for ``socketio.ASGIApp`` too); yield
    ``(url, mw)``."""
    sio, mw = make_server({"file": str(log_file), "access_log": False, **table}, core)
    async with serve(socketio.ASGIApp(sio)) as url:
        yield url, mw


@contextlib.asynccontextmanager
async def engine_server(
    log_file: Path, *, server: dict[str, Any] | None = None, **table: Any
) -> AsyncIterator[tuple[str, Siomw]]:
    """Like :func:`logged_server`, but serving ``mw.asgi_app()`` so that the engine chain
    (and the ``http`` lines) run; ``server``: ``socketio.AsyncServer`` arguments."""
    _, mw = make_server({"file": str(log_file), **table}, **(server or {}))
    async with serve(mw.asgi_app()) as url:
        yield url, mw


def event_lines(path: Path) -> list[Line]:
    """The ``event`` lines (event level) written so far."""
    return [line for line in read_lines(path) if line["event"] == "event"]


#: the keys of an ``event`` line, in order (``args`` only with ``event_args = true``)
EVENT_KEYS = ["event", "name", "outcome", "code", "message", "ack", "sid", "namespace", "user",
              "duration_ms", "sample", "level", "timestamp"]
EVENT_KEYS_WITH_ARGS = [*EVENT_KEYS[:11], "args", *EVENT_KEYS[11:]]


def event_app(
    table: dict[str, Any], *, received: list[tuple[str, list[Any]]] | None = None,
    **server: Any,
) -> tuple[socketio.AsyncServer, Siomw]:
    """A server with the logging plugin configured by ``table`` and these handlers on "/":
    ``echo`` (answers its arguments) and ``quiet`` (answers nothing); each records
    ``(name, args)`` in ``received``. A connect middleware sets the identity whose ``sub``
    is ``auth["name"]`` (none without it)."""
    sio = socketio.AsyncServer(async_mode="asgi", **server)
    seen = received if received is not None else []

    @sio.event
    async def echo(sid: str, *args: Any) -> Any:
        seen.append(("echo", list(args)))
        return list(args)

    @sio.event
    async def quiet(sid: str, *args: Any) -> None:
        seen.append(("quiet", list(args)))

    config = Config(source="test", core=CoreSettings(), tables={"logging": table})
    mw = attach(sio, config=config, entry_points=False, local_plugins=[("logging", siomw_logging)])

    @mw.use
    async def sign_in(socket: Socket, call_next: CallNext) -> None:
        name = socket.handshake.auth.get("name") if isinstance(socket.handshake.auth,
                                                               dict) else None
        if isinstance(name, str):
            set_identity(socket, Identity(sub=name, source="test"))
        await call_next()

    return sio, mw


@contextlib.asynccontextmanager
async def event_server(
    log_file: Path, *, received: list[tuple[str, list[Any]]] | None = None,
    server: dict[str, Any] | None = None, **table: Any,
) -> AsyncIterator[tuple[str, Siomw]]:
    """Serve an :func:`event_app` writing to ``log_file`` (``events = true`` unless
    ``table`` says otherwise, no access log); yield ``(url, mw)``."""
    settings = {"file": str(log_file), "events": True, "access_log": False, **table}
    sio, mw = event_app(settings, received=received, **(server or {}))
    async with serve(socketio.ASGIApp(sio)) as url:
        yield url, mw
