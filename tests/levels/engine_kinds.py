"""The engine level's test harness: one scenario, every server kind.

:class:`Kind` makes a python-socketio server of its kind with siomw attached, and serves it
the way users do, on 127.0.0.1 and a free port:

- ``asgi``: ``socketio.AsyncServer(async_mode="asgi")``, ``mw.asgi_app()`` under uvicorn;
- ``aiohttp``: ``socketio.AsyncServer(async_mode="aiohttp")``, ``sio.attach(app)`` under
  aiohttp's ``AppRunner``;
- ``wsgi``: ``socketio.Server(async_mode="threading")``, ``socketio.WSGIApp(sio)`` under
  Werkzeug's threaded server (WebSocket through simple-websocket).

Raw responses are read with ``curl -i`` in a subprocess (status, headers, body exactly as
on the wire).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import socketio
from aiohttp import web

from siomw_core import Config, CoreSettings, Refusal, Request, Siomw, attach
from siomw_core.testing import serve
from tests.sync_server import serving

HANDSHAKE = "/socket.io/?EIO=4&transport=polling"
INTERNAL = {"message": "Internal server error", "data": {"code": "internal_error"}}
DENIED = {"message": "no entry", "data": {"code": "denied"}}
KIND_NAMES = ("asgi", "aiohttp", "wsgi")
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@dataclass
class Kind:
    """One server kind: how to make its server and how to serve it."""

    name: str

    @property
    def sync(self) -> bool:
        return self.name == "wsgi"

    def server(self, cors: Any = "*") -> Any:
        """A bare python-socketio server of this kind (ping 1 s, so tests end quickly)."""
        options: dict[str, Any] = {"cors_allowed_origins": cors, "ping_interval": 1,
                                   "ping_timeout": 1}
        if self.sync:
            return socketio.Server(async_mode="threading", **options)
        return socketio.AsyncServer(async_mode=self.name, **options)

    def make(self, cors: Any = "*", **core: Any) -> tuple[Any, Siomw]:
        """A server with siomw attached, no installed plugins, embedded defaults + ``core``."""
        sio = self.server(cors)
        return sio, attach(sio, config=Config(source="test", core=CoreSettings(**core)),
                           entry_points=False)

    def handler(self, sio: Any, event: str, fn: Callable[..., Any]) -> None:
        """Register ``fn(sid, *args)`` (a plain function) as ``event``'s handler, as this
        kind wants it (a coroutine function on an AsyncServer)."""
        if self.sync:
            sio.on(event, fn)
            return

        async def handler(*args: Any) -> Any:
            return fn(*args)

        sio.on(event, handler)

    @contextlib.asynccontextmanager
    async def serve(self, sio: Any, mw: Siomw | None = None) -> AsyncIterator[str]:
        """Serve ``sio`` as users of this kind do; yield the base URL."""
        if self.name == "asgi":
            app = mw.asgi_app() if mw is not None else socketio.ASGIApp(sio)
            async with serve(app) as url:
                yield url
        elif self.name == "aiohttp":
            async with serve_aiohttp(sio) as url:
                yield url
        else:
            with serving(socketio.WSGIApp(sio)) as url:
                yield url


@contextlib.asynccontextmanager
async def serve_aiohttp(sio: Any, app: web.Application | None = None) -> AsyncIterator[str]:
    """``sio.attach(app)`` served by aiohttp's ``AppRunner`` on 127.0.0.1:0 (an ``app``
    given is served as it is: ``sio`` was attached to it already)."""
    if app is None:
        app = web.Application()
        sio.attach(app)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@dataclass
class Raw:
    """One HTTP response as curl printed it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


async def curl(url: str, *args: str) -> Raw:
    """``curl -si URL`` with extra arguments; the last response (past a 100 Continue)."""
    proc = await asyncio.create_subprocess_exec(
        "curl", "-si", "--max-time", "5", *args, url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    while True:
        head, _, out = out.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        if status != 100:
            break
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    return Raw(status, headers, out)


def deny_when_asked(request: Request) -> None:
    """Refuse a request carrying ``X-Deny`` (401, a WWW-Authenticate header)."""
    if "x-deny" in request.headers:
        raise Refusal("no entry", {"code": "denied"}, status=401,
                      headers={"WWW-Authenticate": 'Bearer realm="socket.io"'})


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` holds (polled every 10 ms), or fail."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def view(request: Request) -> dict[str, Any]:
    """What a member sees of a request before call_next."""
    return {
        "method": request.method, "path": request.path, "sid": request.sid,
        "is_handshake": request.is_handshake, "transport": request.transport,
        "is_upgrade": request.is_upgrade, "query": sorted(request.query),
        "address": request.address, "secure": request.secure, "cookies": request.cookies,
        "status": request.status, "scheme": request.scheme,
    }


def load_example(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    """Import docs/examples/<name>.py afresh, with no siomw.toml (the example picks its plugins)."""
    monkeypatch.delenv("SIOMW_PLUGINS", raising=False)
    monkeypatch.delenv("SIOMW_CONFIG", raising=False)
    monkeypatch.setenv("SESSION_SECRET", "test-session-secret-0123456789abcdef")
    monkeypatch.chdir(tmp_path)
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
