"""Shared helpers of the logging plugin's tests: a real server and its log file."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import siomw_logging

from siomw_core import CallNext, Config, CoreSettings, Identity, Siomw, Socket, attach, set_identity
from siomw_core.testing import serve
from tests.plugins.kinds import new_server, served

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
    table: dict[str, Any], core: CoreSettings | None = None, kind: str = "async",
    **server: Any,
) -> tuple[Any, Siomw]:
    """A server of ``kind`` (:mod:`tests.plugins.kinds`) accepting every namespace, with
    the logging plugin configured by ``table`` (``server``: more server arguments, e.g.
    ``cors_allowed_origins``)."""
    sio = new_server(kind, namespaces="*", **server)

    @sio.on("connect", namespace="*")
    def connect(namespace: str, sid: str, environ: dict[str, Any], auth: Any) -> None:
        return None

    config = Config(source="test", core=core or CoreSettings(), tables={"logging": table})
    mw = attach(sio, config=config, entry_points=False, local_plugins=[("logging", siomw_logging)])
    return sio, mw


@contextlib.asynccontextmanager
async def logged_server(
    log_file: Path, *, core: CoreSettings | None = None, kind: str = "async", **table: Any
) -> AsyncIterator[tuple[str, Siomw]]:
    """Serve a :func:`make_server` app of ``kind`` writing to ``log_file``, its ``http``
    lines off unless ``access_log`` is given (the engine chain runs for
    ``socketio.ASGIApp`` and ``socketio.WSGIApp`` too); yield ``(url, mw)``."""
    sio, mw = make_server({"file": str(log_file), "access_log": False, **table}, core, kind)
    async with served(sio) as url:
        yield url, mw


@contextlib.asynccontextmanager
async def engine_server(
    log_file: Path, *, server: dict[str, Any] | None = None, kind: str = "async",
    **table: Any,
) -> AsyncIterator[tuple[str, Siomw]]:
    """Like :func:`logged_server`, with the ``http`` lines on, serving ``mw.asgi_app()``
    (a sync server: ``socketio.WSGIApp``); ``server``: server arguments."""
    sio, mw = make_server({"file": str(log_file), **table}, kind=kind, **(server or {}))
    if kind != "async":
        async with served(sio) as url:
            yield url, mw
        return
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
    kind: str = "async", **server: Any,
) -> tuple[Any, Siomw]:
    """A server of ``kind`` with the logging plugin configured by ``table`` and these
    handlers on "/": ``echo`` (answers its arguments) and ``quiet`` (answers nothing); each
    records ``(name, args)`` in ``received``. A connect middleware sets the identity whose
    ``sub`` is ``auth["name"]`` (none without it)."""
    sio = new_server(kind, **server)
    seen = received if received is not None else []

    @sio.event
    def echo(sid: str, *args: Any) -> Any:
        seen.append(("echo", list(args)))
        return list(args)

    @sio.event
    def quiet(sid: str, *args: Any) -> None:
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
    server: dict[str, Any] | None = None, kind: str = "async", **table: Any,
) -> AsyncIterator[tuple[str, Siomw]]:
    """Serve an :func:`event_app` of ``kind`` writing to ``log_file`` (``events = true``
    unless ``table`` says otherwise, no access log); yield ``(url, mw)``."""
    settings = {"file": str(log_file), "events": True, "access_log": False, **table}
    sio, mw = event_app(settings, received=received, kind=kind, **(server or {}))
    async with served(sio) as url:
        yield url, mw
