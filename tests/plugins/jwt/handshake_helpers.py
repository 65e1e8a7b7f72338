"""Helpers for the tests of the ``jwt-handshake`` engine member: a real server (behind
``mw.asgi_app()`` unless said otherwise), a decoder that counts its calls, raw HTTP and curl."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import siomw_jwt
import socketio
from aiohttp import web
from siomw_jwt import JwtOptions, TokenDecoder, build_middlewares
from siomw_jwt.keys import load_keys

from siomw_core import Config, CoreSettings, Middleware, Siomw, attach, hookimpl
from siomw_core.testing import serve
from tests.levels.engine_kinds import serve_aiohttp
from tests.plugins.jwt.helpers import AUDIENCE, ISSUER

#: the [jwt] table of the handshake tests
HANDSHAKE_TABLE: dict[str, Any] = {
    "audience": AUDIENCE,
    "issuer": ISSUER,
    "handshake": True,
    "namespaces": {
        "/admin": {"scopes": ["admin"]},
        "/public": {"anonymous": True},
    },
}
ENGINE_PATH = "/socket.io/?EIO=4&transport=polling"


class CountingDecoder:
    """Wraps the plugin's own :class:`TokenDecoder` and counts ``decode`` calls."""

    def __init__(self, inner: TokenDecoder) -> None:
        self.inner = inner
        self.calls = 0

    def decode(self, token: str) -> dict[str, Any]:
        self.calls += 1
        return self.inner.decode(token)


class CountingJwt:
    """The jwt plugin with a :class:`CountingDecoder` (an in-code plugin named "jwt")."""

    def __init__(self) -> None:
        self.decoder: CountingDecoder | None = None

    @hookimpl
    def siomw_config_schema(self) -> type[JwtOptions]:
        return JwtOptions

    @hookimpl
    def siomw_middlewares(self, config: JwtOptions, settings: CoreSettings) -> list[Middleware]:
        self.decoder = CountingDecoder(TokenDecoder(config, load_keys(config)))
        return build_middlewares(config, self.decoder)

    @property
    def calls(self) -> int:
        assert self.decoder is not None
        return self.decoder.calls


@dataclass
class Served:
    """What :func:`handshake_server` yields."""

    url: str
    mw: Siomw
    sessions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def handshake_server(
    table: dict[str, Any] | None = None,
    *,
    plugin: object = siomw_jwt,
    namespaces: Iterable[str] = ("/", "/admin", "/public"),
    served: str = "asgi_app",
    setup: Callable[[Siomw], None] | None = None,
    **server: Any,
) -> AsyncIterator[Served]:
    """A real server with the jwt plugin, ``served`` as: ``"asgi_app"`` (``mw.asgi_app()``),
    ``"bare"`` (the user's own ``socketio.ASGIApp(sio)``: the engine chain runs too), or
    ``"aiohttp_late"`` (``sio.attach(app)`` before siomw is attached: aiohttp then holds
    python-engineio's own handler and the engine chain does not run). Connect handlers
    record ``(namespace, session)``. ``server``: ``socketio.AsyncServer`` arguments."""
    late = served == "aiohttp_late"
    sio = socketio.AsyncServer(async_mode="aiohttp" if late else "asgi", **server)
    web_app = web.Application() if late else None
    if web_app is not None:
        sio.attach(web_app)
    sessions: list[tuple[str, dict[str, Any]]] = []
    for namespace in namespaces:
        async def connect(sid: str, environ: Any, auth: Any, namespace: str = namespace) -> None:
            sessions.append((namespace, await sio.get_session(sid, namespace=namespace)))

        sio.on("connect", connect, namespace=namespace)
    config = Config(source="test", core=CoreSettings(),
                    tables={"jwt": HANDSHAKE_TABLE if table is None else table})
    mw = attach(sio, config=config, entry_points=False, local_plugins=[("jwt", plugin)])
    if setup is not None:
        setup(mw)
    serving = (serve_aiohttp(sio, web_app) if web_app is not None
               else serve(mw.asgi_app() if served == "asgi_app" else socketio.ASGIApp(sio)))
    async with serving as url:
        try:
            yield Served(url, mw, sessions)
        finally:  # end pending long-polls now, not at uvicorn's graceful-shutdown timeout
            for sock in list(sio.eio.sockets.values()):
                await sock.close(wait=False)  # a CLOSE packet ends a pending poll


@dataclass
class CurlResponse:
    """A response as ``curl -i`` printed it."""

    status: int
    headers: dict[str, str]  # lower-case names
    body: str
    raw: str

    def json(self) -> Any:
        return json.loads(self.body)


async def curl(url: str, *args: str) -> CurlResponse:
    """Run ``curl -i`` (loopback only: proxies off) and parse its output."""
    proc = await asyncio.create_subprocess_exec(
        "curl", "-si", "--noproxy", "*", "--max-time", "10", *args, url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 0, err.decode()
    raw = out.decode("latin-1")
    head, _, body = raw.partition("\r\n\r\n")
    status_line, *lines = head.split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return CurlResponse(int(status_line.split()[1]), headers, body, raw)
