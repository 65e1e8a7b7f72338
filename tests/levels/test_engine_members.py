"""Framework middlewares as engine members, per server kind, on real servers: WSGI
(Werkzeug's ``ProxyFix``) under WSGI, aiohttp middlewares under aiohttp, uvicorn's
``ProxyHeadersMiddleware`` under ASGI; a member of the wrong kind is refused in one line;
plain ``def`` members on a sync server."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from starlette.middleware.sessions import SessionMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from siomw_core import (
    CallNext,
    ConfigError,
    Refusal,
    Request,
    Socket,
    aiohttp_middleware,
    asgi_middleware,
    attach,
    hookimpl,
    wsgi_middleware,
)
from siomw_core.config import Config, CoreSettings
from siomw_core.testing import close_client, connect_result
from tests.levels.engine_kinds import (
    HANDSHAKE,
    Kind,
    curl,
    load_example,
    serve_aiohttp,
)
from tests.sync_server import serving

FORWARDED = ["-H", "X-Forwarded-For: 9.9.9.9", "-H", "X-Forwarded-Proto: https"]


def watch(mw: Any, seen: list[tuple[str, str, str]], *, priority: int, label: str) -> None:
    """An engine member recording (label, address, scheme) of each handshake."""

    async def watcher(request: Request, call_next: CallNext) -> None:
        if request.is_handshake:
            seen.append((label, request.address, request.scheme))
        await call_next()

    mw.engine.use(watcher, name=label, priority=priority)


@pytest.mark.parametrize("kind_name", ["wsgi", "asgi"])
async def test_proxy_middleware_member_rewrites_what_inner_members_see(kind_name: str) -> None:
    """Werkzeug's ProxyFix (WSGI) and uvicorn's ProxyHeadersMiddleware (ASGI) as members:
    members inside see the forwarded client and scheme, members outside the TCP peer; the
    connect level's handshake is the rewritten request."""
    kind = Kind(kind_name)
    sio, mw = kind.make()
    seen: list[tuple[str, str, str]] = []
    watch(mw, seen, priority=100, label="outer")
    if kind.sync:
        mw.engine.use_wsgi(ProxyFix, name="proxy", priority=50, x_for=1, x_proto=1)
    else:
        mw.add(asgi_middleware(ProxyHeadersMiddleware, name="proxy", priority=50,
                               trusted_hosts="127.0.0.1"))
    watch(mw, seen, priority=0, label="inner")
    addresses: list[str] = []

    @mw.use
    async def record(socket: Socket, call_next: CallNext) -> None:
        addresses.append(socket.handshake.address)
        await call_next()

    async with kind.serve(sio, mw) as url:
        raw = await curl(url + HANDSHAKE, *FORWARDED)
        assert raw.status == 200
        outcome, _, client = await connect_result(
            url, headers={"X-Forwarded-For": "8.8.8.8"}, transports=["polling"])
        assert outcome == "connect"
        await close_client(client)
    assert seen[:2] == [("outer", "127.0.0.1", "http"), ("inner", "9.9.9.9", "https")]
    assert addresses == ["8.8.8.8"]


async def test_wsgi_member_answering_itself() -> None:
    """A WSGI middleware that answers without calling its app ends the chain with its own
    response; outer members see the "answered" refusal with its status."""
    kind = Kind("wsgi")
    sio, mw = kind.make()
    outer_saw: list[tuple[Any, int]] = []

    def blocking(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def middleware(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            if "HTTP_X_BLOCK" in environ:
                start_response("418 I'm a teapot", [("Content-Type", "text/plain")])
                return [b"blocked"]
            return app(environ, start_response)
        return middleware

    @mw.engine.use(priority=100)
    async def outer(request: Request, call_next: CallNext) -> None:
        try:
            await call_next()
        except Refusal as refusal:
            outer_saw.append((refusal.data, refusal.status))
            raise

    mw.add(wsgi_middleware(blocking, name="block"))
    async with kind.serve(sio, mw) as url:
        raw = await curl(url + HANDSHAKE, "-H", "X-Block: 1")
        ok = await curl(url + HANDSHAKE)
    assert (raw.status, raw.body) == (418, b"blocked")
    assert outer_saw == [({"code": "answered", "by": "block"}, 418)]
    assert ok.status == 200


async def test_aiohttp_middleware_members() -> None:
    """aiohttp middlewares as members: one changes the engine's response, one answers by
    raising web.HTTPForbidden, one passes a clone with another remote on."""
    kind = Kind("aiohttp")
    sio, mw = kind.make()
    seen: list[tuple[str, str, str]] = []
    outer_saw: list[tuple[Any, int]] = []

    @mw.engine.use(priority=100)
    async def outer(request: Request, call_next: CallNext) -> None:
        try:
            await call_next()
        except Refusal as refusal:
            outer_saw.append((refusal.data, refusal.status))
            raise

    @web.middleware
    async def stamp(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        response.headers["X-Aio"] = "stamped"
        return response

    @web.middleware
    async def forbid(request: web.Request, handler: Any) -> web.StreamResponse:
        if "X-Block" in request.headers:
            raise web.HTTPForbidden(text="no")
        return await handler(request.clone(remote="7.7.7.7"))  # type: ignore[no-any-return]

    mw.add(aiohttp_middleware(stamp, priority=50))
    mw.engine.use_aiohttp(forbid, priority=40)  # the registrar's form of the same
    watch(mw, seen, priority=0, label="inner")
    async with kind.serve(sio, mw) as url:
        ok = await curl(url + HANDSHAKE)
        blocked = await curl(url + HANDSHAKE, "-H", "X-Block: 1")
    assert ok.status == 200 and ok.header("x-aio") == "stamped"
    assert ok.body.startswith(b"0{")
    assert seen == [("inner", "7.7.7.7", "http")]
    assert (blocked.status, blocked.body) == (403, b"no")
    assert outer_saw == [({"code": "answered", "by": "forbid"}, 403)]


def _wrong_member(member: str, **declared: Any) -> Any:
    async def passthrough(request: Any, handler: Any) -> Any:
        return await handler(request)

    return (asgi_middleware(SessionMiddleware, name="wrong", secret_key="k", **declared)
            if member == "asgi" else
            wsgi_middleware(ProxyFix, name="wrong", **declared) if member == "wsgi" else
            aiohttp_middleware(passthrough, name="wrong", **declared))


WRONG_KINDS = [("wsgi", "asgi"), ("aiohttp", "asgi"), ("asgi", "wsgi"), ("asgi", "aiohttp"),
               ("wsgi", "aiohttp"), ("aiohttp", "wsgi")]
SERVED = {"wsgi": "a WSGI", "asgi": "an ASGI", "aiohttp": "an aiohttp"}


@pytest.mark.parametrize(("kind_name", "member"), WRONG_KINDS)
def test_member_of_the_wrong_kind_is_refused_when_added(kind_name: str, member: str) -> None:
    """A framework member of another kind than the server is a TypeError when it is added
    (at startup, not at the first request): it names the member, what it is and how the
    server is served; nothing is added."""
    _, mw = Kind(kind_name).make()
    with pytest.raises(TypeError) as info:
        mw.add(_wrong_member(member))
    article = "a" if member == "wsgi" else "an"
    message = str(info.value)
    assert message.startswith(f"engine member 'wrong' (your code) is {article} ")
    assert f"is served as {SERVED[kind_name]} app: use the middleware kind of this " \
           "server" in message
    assert [m.name for m in mw.members("engine")] == []


@pytest.mark.parametrize(("kind_name", "member"), WRONG_KINDS[:2])
def test_plugin_member_of_the_wrong_kind_is_a_startup_error(kind_name: str,
                                                            member: str) -> None:
    """A plugin contributing a member of another kind: attach() fails with the one-line
    ConfigError naming the plugin."""
    class Plugin:
        @hookimpl
        def siomw_middlewares(self) -> list[Any]:
            return [_wrong_member(member)]

    sio = Kind(kind_name).server("*")
    with pytest.raises(ConfigError, match=r"engine member 'wrong' \(plugin 'wrongkind'\) is"):
        attach(sio, config=Config(source="test", core=CoreSettings()),
                          local_plugins=[("wrongkind", Plugin())], entry_points=False)


async def test_plain_def_members_on_a_sync_server() -> None:
    """On a sync socketio.Server engine members may be plain def functions (call_next()
    without await), refusing the same way."""
    kind = Kind("wsgi")
    sio, mw = kind.make()
    calls: list[str] = []

    def plain(request: Request, call_next: Callable[[], None]) -> None:
        calls.append(request.method)
        if "x-deny" in request.headers:
            raise Refusal("no entry", {"code": "denied"}, status=401)
        call_next()

    mw.engine.use(plain)
    async with kind.serve(sio, mw) as url:
        assert (await curl(url + HANDSHAKE)).status == 200
        refused = await curl(url + HANDSHAKE, "-H", "X-Deny: 1")
    assert (refused.status, refused.json()["data"]) == (401, {"code": "denied"})
    assert calls == ["GET", "GET"]


# --- the examples of docs/engine-middlewares.md for WSGI and aiohttp ---------------------------


async def test_example_wsgi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """engine_wsgi.py under Werkzeug: ProxyFix makes the forwarded client the address, so a
    blocked client behind the proxy is refused 403; others connect."""
    ex = load_example("engine_wsgi", monkeypatch, tmp_path)
    with serving(ex.app) as url:
        refused = await curl(url + HANDSHAKE, "-H", "X-Forwarded-For: 203.0.113.7")
        outcome, _, client = await connect_result(
            url, headers={"X-Forwarded-For": "198.51.100.1"}, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
    assert (refused.status, refused.json()) == (
        403, {"message": "address blocked", "data": {"code": "blocked"}})


async def test_example_aiohttp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """engine_aiohttp.py: the aiohttp middleware's header is on the engine's responses."""
    ex = load_example("engine_aiohttp", monkeypatch, tmp_path)
    async with serve_aiohttp(ex.sio, ex.app) as url:
        raw = await curl(url + HANDSHAKE)
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
    assert raw.status == 200 and raw.header("cache-control") == "no-store"
