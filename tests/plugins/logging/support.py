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

from siomw_core import Config, CoreSettings, Siomw, attach
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
    """Serve a :func:`make_server` app writing to ``log_file``; yield ``(url, mw)``."""
    sio, mw = make_server({"file": str(log_file), **table}, core)
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
