"""The engine level under ASGI only: Starlette's middlewares as members, the other routes of
the wrapped app, mounting under a prefix, serving a bare ``socketio.ASGIApp``, and the
examples of docs/engine-middlewares.md, on real uvicorn servers with real clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import socketio
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request as HttpRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from siomw_core import CallNext, Refusal, Request, Socket
from siomw_core.testing import close_client, connect_result, serve
from tests.docs_js import requires_docs_js, run_example_js
from tests.levels.engine_kinds import (
    EXAMPLES,
    HANDSHAKE,
    Kind,
    curl,
    deny_when_asked,
    load_example,
)

ASGI = Kind("asgi")


def make(cors: Any = "*", **core: Any) -> Any:
    return ASGI.make(cors, **core)


async def test_other_asgi_routes_untouched() -> None:
    """Routes of a wrapped Starlette app (other_asgi_app) never run the engine chain."""
    calls: list[str] = []

    async def health(request: HttpRequest) -> PlainTextResponse:
        return PlainTextResponse("ok")

    web = Starlette(routes=[Route("/health", health), Route("/socket.iox", health)])
    _, mw = make()

    @mw.engine.use
    async def counted(request: Request, call_next: CallNext) -> None:
        calls.append(request.path)
        raise Refusal("closed", {"code": "denied"}, status=403)

    async with serve(mw.asgi_app(other_asgi_app=web)) as url:
        for path in ("/health", "/socket.iox"):
            raw = await curl(url + path)
            assert (raw.status, raw.body) == (200, b"ok")
        assert calls == []
        assert (await curl(url + "/socket.io")).status == 403  # the engine path, no slash
        assert (await curl(url + HANDSHAKE)).status == 403
    assert calls == ["/socket.io", "/socket.io/"]


# --- standard ASGI middleware as members ------------------------------------------------------


async def test_session_middleware_member() -> None:
    """SessionMiddleware as a member (express-session): a value an engine member puts in the
    session on the handshake is read at the connect level and in the connect handler, and
    its Set-Cookie reaches the client; the cookie sent back restores the session."""
    sio, mw = make()
    mw.engine.use_asgi(SessionMiddleware, secret_key="test secret", name="session",
                       priority=100)
    seen: dict[str, Any] = {}

    @mw.engine.use(after="session")
    async def login(request: Request, call_next: CallNext) -> None:
        session = request.session
        seen.setdefault("engine", []).append(dict(session))
        if request.is_handshake:
            session["user"] = request.query.get("user", "nobody")
        await call_next()

    @mw.use
    async def from_session(socket: Socket, call_next: CallNext) -> None:
        seen["connect"] = dict(socket.handshake.session)
        await call_next()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        seen["handler"] = dict(environ["asgi.scope"]["session"])

    async with serve(mw.asgi_app()) as url:
        outcome, _, client = await connect_result(f"{url}?user=ann", transports=["polling"])
        assert outcome == "connect"
        await close_client(client)
        assert seen["connect"] == {"user": "ann"}
        assert seen["handler"] == {"user": "ann"}

        raw = await curl(url + HANDSHAKE + "&user=bob")
        cookie = raw.header("set-cookie")
        assert raw.status == 200 and cookie is not None and cookie.startswith("session=")
        assert "httponly" in cookie.lower()
        seen["engine"].clear()
        again = await curl(url + HANDSHAKE, "-H", f"Cookie: {cookie.split(';')[0]}")
        assert again.status == 200
        assert seen["engine"] == [{"user": "bob"}]


async def test_trusted_host_middleware_answers_itself() -> None:
    """TrustedHostMiddleware answers 400 for a wrong Host; outer members see a Refusal with
    code "answered" and that status; inner members and the engine never run."""
    _, mw = make()
    outer_saw: list[tuple[Any, int]] = []
    inner_calls: list[str] = []

    @mw.engine.use(priority=100)
    async def outer(request: Request, call_next: CallNext) -> None:
        try:
            await call_next()
        except Refusal as refusal:
            outer_saw.append((refusal.data, refusal.status))
            raise

    mw.engine.use_asgi(TrustedHostMiddleware, name="hosts", priority=50,
                       allowed_hosts=["127.0.0.1"])

    @mw.engine.use
    async def inner(request: Request, call_next: CallNext) -> None:
        inner_calls.append(request.method)
        await call_next()

    async with serve(mw.asgi_app()) as url:
        bad = await curl(url + HANDSHAKE, "-H", "Host: evil.example")
        good = await curl(url + HANDSHAKE)
    assert (bad.status, bad.body) == (400, b"Invalid host header")
    assert outer_saw == [({"code": "answered", "by": "hosts"}, 400)]
    assert good.status == 200
    assert inner_calls == ["GET"]


async def test_cors_middleware_member_with_preflight() -> None:
    """Starlette's CORSMiddleware as a member (engine CORS off) answers preflight itself and
    adds its headers to the engine's responses."""
    _, mw = make(cors=[])  # python-engineio's own CORS handling off
    mw.engine.use_asgi(CORSMiddleware, name="cors", allow_origins=["http://app.example"],
                       allow_methods=["GET", "POST"], allow_credentials=True)
    calls: list[str] = []

    @mw.engine.use
    async def inner(request: Request, call_next: CallNext) -> None:
        calls.append(request.method)
        await call_next()

    async with serve(mw.asgi_app()) as url:
        pre = await curl(url + HANDSHAKE, "-X", "OPTIONS", "-H", "Origin: http://app.example",
                         "-H", "Access-Control-Request-Method: POST")
        get = await curl(url + HANDSHAKE, "-H", "Origin: http://app.example")
        other = await curl(url + HANDSHAKE, "-H", "Origin: http://evil.example")
    assert pre.status == 200
    assert pre.header("access-control-allow-origin") == "http://app.example"
    assert "POST" in (pre.header("access-control-allow-methods") or "")
    assert get.status == 200 and get.body.startswith(b"0{")
    assert get.all("access-control-allow-origin") == ["http://app.example"]
    assert other.header("access-control-allow-origin") is None
    assert calls == ["GET", "GET"]  # not run for the preflight


async def test_refusal_inside_cors_middleware_member_carries_its_headers() -> None:
    """A refusal by a member inside an ASGI CORSMiddleware member carries CORSMiddleware's
    Access-Control-Allow-Origin, so that a browser can read it."""
    _, mw = make(cors=[])
    mw.engine.use_asgi(CORSMiddleware, name="cors", priority=10,
                       allow_origins=["http://app.example"], allow_credentials=True)

    @mw.engine.use
    async def deny(request: Request, call_next: CallNext) -> None:
        deny_when_asked(request)
        await call_next()

    async with serve(mw.asgi_app()) as url:
        raw = await curl(url + HANDSHAKE, "-H", "Origin: http://app.example", "-H", "X-Deny: 1")
    assert raw.status == 401
    assert raw.header("access-control-allow-origin") == "http://app.example"


# --- the examples of docs/engine-middlewares.md -----------------------------------------------


async def test_example_registering(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """engine_registering.py: the handshake needs X-API-Key (401 with WWW-Authenticate and
    JSON otherwise); every engine request is logged; X-Served-By is added."""
    ex = load_example("engine_registering", monkeypatch, tmp_path)
    async with serve(ex.app) as url:
        refused = await curl(url + HANDSHAKE)
        assert refused.status == 401
        assert refused.json() == {"message": "missing or wrong API key",
                                  "data": {"code": "invalid_api_key"}}
        assert refused.header("www-authenticate") == 'ApiKey realm="socket.io"'
        outcome, _, client = await connect_result(url, headers={"X-API-Key": "s3cret"},
                                                  transports=["polling"])
        assert outcome == "connect"
        await close_client(client)
        ok = await curl(url + HANDSHAKE, "-H", "X-API-Key: s3cret")
        assert ok.header("x-served-by") == "siomw"
    assert ex.access_log[0] == ("GET", "polling", True, 401)
    assert ex.access_log[1] == ("GET", "polling", True, 200)
    assert ("POST", "polling", False, 200) in ex.access_log


@requires_docs_js
async def test_example_client_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """engine_client_errors.mjs, run as its comment says, prints what the JS client reports
    for a 401 handshake."""
    ex = load_example("engine_registering", monkeypatch, tmp_path)
    async with serve(ex.app) as url:
        lines = await run_example_js("engine_client_errors.mjs", URL=url)
    assert [json.loads(line) for line in lines] == [
        ["polling", "xhr poll error", "TransportError", "401"],
        ["websocket", "websocket error", "TransportError", "Unexpected server response: 401"],
    ]


async def test_example_session(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """engine_session.py: the handshake counts visits in the session; the connect level and
    the handlers read it; the cookie sent back brings the count back."""
    ex = load_example("engine_session", monkeypatch, tmp_path)
    async with serve(ex.app) as url:
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        assert await client.call("visits", timeout=5) == 1
        await client.disconnect()
        first = await curl(url + HANDSHAKE)
        cookie = (first.header("set-cookie") or "").split(";")[0]
        assert cookie.startswith("session=")
        for transport in ("polling", "websocket"):  # the cookie rides on the handshake
            outcome, _, client = await connect_result(url, headers={"Cookie": cookie},
                                                      transports=[transport])
            assert outcome == "connect"
            assert await client.call("visits", timeout=5) == 2
            await close_client(client)


async def test_example_starlette(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """engine_starlette.py: /health is served by Starlette, a wrong Host gets the
    TrustedHostMiddleware's 400 at the engine, the right one connects."""
    ex = load_example("engine_starlette", monkeypatch, tmp_path)
    async with serve(ex.app) as url:
        assert (await curl(url + "/health")).body == b"ok"
        bad = await curl(url + HANDSHAKE, "-H", "Host: evil.example")
        assert bad.status == 400
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()


def test_example_proxies_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """engine_proxies.toml loads; its trusted_proxies are the ones the page shows."""
    from siomw_core import load_config

    monkeypatch.delenv("SIOMW_TRUSTED_PROXIES", raising=False)
    config = load_config(EXAMPLES / "engine_proxies.toml")
    assert config.core.trusted_proxies == ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]


# --- however it is served (issue 8 item 6) -------------------------------------------------
@pytest.mark.parametrize("served", ["bare", "asgi_app", "wrap", "engineio"])
async def test_the_chain_runs_however_served(served: str, caplog: pytest.LogCaptureFixture
                                             ) -> None:
    """socketio.ASGIApp(sio) built by the user, mw.asgi_app(), mw.wrap(ASGIApp) and
    engineio.ASGIApp(sio.eio) all run the engine chain (it is in python-engineio's
    handle_request), over both transports; nothing is warned."""
    import engineio

    caplog.set_level(logging.WARNING, logger="siomw")
    sio, mw = make()
    ran: list[tuple[str, str | None]] = []

    @mw.engine.use(name="api-key")
    async def api_key(request: Request, call_next: CallNext) -> None:
        ran.append((request.method, request.transport))
        await call_next()

    app: Any = (socketio.ASGIApp(sio) if served == "bare"
                else mw.asgi_app() if served == "asgi_app"
                else mw.wrap(socketio.ASGIApp(sio)) if served == "wrap"
                else engineio.ASGIApp(sio.eio, engineio_path="socket.io"))
    async with serve(app) as url:
        for transports in (["polling"], ["websocket"]):
            outcome, data, client = await connect_result(url, transports=transports)
            assert outcome == "connect", data
            await close_client(client)
    assert ("GET", "polling") in ran and ("GET", "websocket") in ran
    assert [r for r in caplog.records if r.name == "siomw"] == []


def test_install_twice_keeps_one_seam() -> None:
    """Installing the engine seam again keeps one wrapper of handle_request, using the
    latest chain."""
    from siomw_core.adapters.engine_seam import install_engine

    sio, mw = make()
    wrapped = sio.eio.handle_request
    level = install_engine(sio, mw.engine_chain, None)
    assert sio.eio.handle_request is wrapped
    assert wrapped._siomw_seam.level is level


# --- mounted under a prefix (item 13) ------------------------------------------------------
async def test_example_mounted_python_client(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """serve_mounted.py: Starlette's Mount("/realtime", mw.asgi_app()) answers
    /realtime/socket.io/ with the engine chain; python-socketio connects with
    socketio_path="realtime/socket.io" over both transports; / is Starlette's."""
    ex = load_example("serve_mounted", monkeypatch, tmp_path)
    async with serve(ex.api) as url:
        assert (await curl(url + "/")).body == b"home"
        handshake = await curl(url + "/realtime" + HANDSHAKE)
        assert handshake.status == 200
        assert handshake.header("x-served-by") == "siomw"
        assert (await curl(url + HANDSHAKE)).status == 404  # only under the prefix
        for transports in (["polling"], ["websocket"]):
            client = socketio.AsyncClient(reconnection=False)
            await client.connect(url, socketio_path="realtime/socket.io",
                                 transports=transports, wait_timeout=5)
            assert await client.call("echo", {"n": 1}, timeout=5) == {"n": 1}
            await close_client(client)


@requires_docs_js
async def test_example_mounted_js_client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """serve_mounted_client.mjs, run as its comment says: path "/realtime/socket.io/"
    connects over polling and WebSocket and gets its echo back."""
    ex = load_example("serve_mounted", monkeypatch, tmp_path)
    async with serve(ex.api) as url:
        lines = await run_example_js("serve_mounted_client.mjs", URL=url)
    assert [json.loads(line) for line in lines] == [["polling", "hi"], ["websocket", "hi"]]


async def test_root_path_of_the_server() -> None:
    """uvicorn --root-path /realtime (a proxy strips the prefix): the engine answers, members
    see the full path."""
    _sio, mw = make()
    paths: list[str] = []

    @mw.engine.use
    async def record(request: Request, call_next: CallNext) -> None:
        paths.append(request.path)
        await call_next()

    async with serve(mw.asgi_app(), root_path="/realtime") as url:
        outcome, data, client = await connect_result(url, transports=["polling"])
        assert outcome == "connect", data
        await close_client(client)
    assert paths[0] == "/realtime/socket.io/"


async def test_example_hooks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """engine_hooks.py: a WebSocket's start is noted at its 101 (while it is open), its end
    when it closed; a polling request's start and end both with 200."""
    ex = load_example("engine_hooks", monkeypatch, tmp_path)
    async with serve(ex.app) as url:
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        assert [t[:3] for t in ex.timings] == [("start", "websocket", 101)]
        await client.disconnect()
        await curl(url + HANDSHAKE)
    assert [t[:3] for t in ex.timings] == [
        ("start", "websocket", 101), ("end", "websocket", 101),
        ("start", "polling", 200), ("end", "polling", 200),
    ]


async def test_engine_failure_after_the_101_is_logged_once_not_refused(
        caplog: pytest.LogCaptureFixture) -> None:
    """python-engineio raising after a WebSocket's 101 went out (a junk text frame): one
    error line saying so, no claim of a refusal nobody can send, and the server serves on."""
    import websockets

    sio, mw = ASGI.make()

    @mw.engine.use
    async def passthrough(request: Request, call_next: CallNext) -> None:
        await call_next()

    caplog.set_level(logging.ERROR, logger="siomw")
    async with ASGI.serve(sio, mw) as url:
        ws_url = url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
        async with websockets.connect(ws_url) as ws:
            await ws.recv()  # the open packet
            await ws.send("hello")  # not an Engine.IO packet
            with contextlib.suppress(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 2)
        outcome, _, client = await connect_result(url, transports=["websocket"])
        await close_client(client)
    assert outcome == "connect"
    lines = [r.getMessage() for r in caplog.records if r.name == "siomw"]
    assert lines == ["siomw: python-engineio raised while serving <Request GET /socket.io/ "
                     "sid=None>, after its response started"]
