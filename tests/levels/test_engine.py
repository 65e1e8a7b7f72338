"""The engine level (Node's ``io.engine.use``) on real uvicorn servers with real clients.

Every server here is ``serve(mw.asgi_app())``. Raw responses are read with ``curl -i`` in a
subprocess (status, headers, body exactly as on the wire); WebSocket requests with the
``websockets`` library; clients are python-socketio's ``AsyncClient`` and the reference JS
``socket.io-client``. Starlette's middlewares are the standard ASGI middlewares used as members.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest
import socketio
import websockets
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request as HttpRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from siomw_core import (
    CallNext,
    Config,
    CoreSettings,
    OrderingError,
    Refusal,
    Request,
    Siomw,
    Socket,
    attach,
)
from siomw_core.testing import close_client, connect_result, serve
from tests.conftest import requires_js
from tests.docs_js import requires_docs_js, run_example_js
from tests.jsclient import js_outcome

HANDSHAKE = "/socket.io/?EIO=4&transport=polling"
INTERNAL = {"message": "Internal server error", "data": {"code": "internal_error"}}
DENIED = {"message": "no entry", "data": {"code": "denied"}}
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def make(cors: Any = "*", **core: Any) -> tuple[socketio.AsyncServer, Siomw]:
    """A server with siomw attached, no installed plugins, embedded defaults plus ``core``."""
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=cors,
                               ping_interval=1, ping_timeout=1)
    return sio, attach(sio, config=Config(source="test", core=CoreSettings(**core)),
                       entry_points=False)


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


async def eventually(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
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
        "status": request.status, "scope_type": request.scope["type"],
    }


@contextlib.asynccontextmanager
async def recording(**core: Any) -> AsyncIterator[tuple[str, list[dict[str, Any]],
                                                        socketio.AsyncServer]]:
    """A server whose one engine member records ``view(request)`` and the final status."""
    sio, mw = make(**core)
    rows: list[dict[str, Any]] = []

    @mw.engine.use
    async def recorder(request: Request, call_next: CallNext) -> None:
        row = view(request)
        rows.append(row)
        await call_next()
        row["final_status"] = request.status
        row["bytes_sent"] = request.bytes_sent

    async with serve(mw.asgi_app()) as url:
        yield url, rows, sio


# --- registering ----------------------------------------------------------------------------


async def test_use_forms_and_order() -> None:
    """engine.use works as a call, a bare decorator and a decorator with ordering arguments;
    the chain order (placed, describe, and at run time) follows before/after and priority."""
    _, mw = make()
    calls: list[str] = []

    def member(label: str) -> Callable[[Request, CallNext], Any]:
        async def run(request: Request, call_next: CallNext) -> None:
            calls.append(label)
            await call_next()
        run.__name__ = label
        return run

    first = member("a")
    assert mw.engine.use(first) is first  # call form returns the function

    @mw.engine.use
    async def b(request: Request, call_next: CallNext) -> None:
        calls.append("b")
        await call_next()

    mw.engine.use(member("c"), name="c_named", priority=10, after="a")
    mw.engine.use(priority=5, before=["a"])(member("d"))
    mw.engine.use_asgi(SessionMiddleware, secret_key="k", name="session", priority=100)

    names = [p.middleware.name for p in mw.placed("engine")]
    assert names == ["session", "d", "a", "c_named", "b"]
    described = mw.describe()["engine"]
    assert [row["name"] for row in described] == names
    assert all(row["plugin"] is None for row in described)
    assert [row["priority"] for row in described] == [100, 5, 0, 10, 0]
    assert all(isinstance(row["reason"], str) and row["reason"] for row in described)
    assert mw.describe()["connect"] == {"/": []}  # engine members stay out of connect chains

    # a cycle is refused at registration; nothing is added
    with pytest.raises(OrderingError, match="cycle"):
        mw.engine.use(member("e"), before="d", after="c_named")
    assert [p.middleware.name for p in mw.placed("engine")] == names

    async with serve(mw.asgi_app()) as url:
        assert (await curl(url + HANDSHAKE)).status == 200
    assert calls == ["d", "a", "c", "b"]  # c is the function registered as "c_named"


async def test_preflight_members_only_in_preflight_chain() -> None:
    """engine_chain(preflight=True) holds only members declared preflight=True (and ASGI
    members, which default to preflight=True)."""
    _, mw = make()

    async def plain(request: Request, call_next: CallNext) -> None:
        await call_next()

    async def pre(request: Request, call_next: CallNext) -> None:
        await call_next()

    mw.engine.use(plain)
    mw.engine.use(pre, preflight=True)
    mw.engine.use_asgi(CORSMiddleware, name="cors", allow_origins=["*"])
    assert {m.name for m in mw.engine_chain()} == {"plain", "pre", "cors"}
    assert {m.name for m in mw.engine_chain(preflight=True)} == {"pre", "cors"}


# --- what a member sees -----------------------------------------------------------------------


async def test_request_view_polling_session() -> None:
    """Polling: the handshake GET (no sid), POSTs and long-poll GETs carrying the sid."""
    async with recording() as (url, rows, _):
        outcome, _, client = await connect_result(url, transports=["polling"])
        assert outcome == "connect"
        eio_sid = client.eio.sid
        await eventually(lambda: any(r["method"] == "GET" and r["sid"] for r in rows))
        await close_client(client)
    handshake = rows[0]
    assert handshake == {
        "method": "GET", "path": "/socket.io/", "sid": None, "is_handshake": True,
        "transport": "polling", "is_upgrade": False, "query": ["EIO", "t", "transport"],
        "address": "127.0.0.1", "secure": False, "cookies": {}, "status": None,
        "scope_type": "http", "final_status": 200, "bytes_sent": handshake["bytes_sent"],
    }
    assert handshake["bytes_sent"] > 50  # the OPEN packet
    post = next(r for r in rows if r["method"] == "POST")
    assert (post["sid"], post["is_handshake"], post["transport"], post["is_upgrade"]) == (
        eio_sid, False, "polling", False)
    assert post["query"] == ["EIO", "sid", "transport"]
    assert post["final_status"] == 200
    poll = next(r for r in rows[1:] if r["method"] == "GET")
    assert (poll["sid"], poll["is_handshake"], poll["is_upgrade"]) == (eio_sid, False, False)


async def test_request_view_websocket_upgrade_with_sid() -> None:
    """The upgrade of a polling session: a WebSocket request with the sid, not a handshake;
    its status (101) is known once the WebSocket closes."""
    async with recording() as (url, rows, _):
        outcome, _, client = await connect_result(url)  # polling, then the upgrade
        assert outcome == "connect"
        eio_sid = client.eio.sid
        await eventually(lambda: any(r["is_upgrade"] for r in rows))
        await eventually(lambda: client.transport() == "websocket")
        await client.disconnect()
        upgrade = next(r for r in rows if r["is_upgrade"])
        await eventually(lambda: "final_status" in upgrade)
    assert rows[0]["is_handshake"] and rows[0]["transport"] == "polling"
    assert {k: upgrade[k] for k in ("method", "sid", "is_handshake", "transport", "scope_type",
                                    "status", "final_status")} == {
        "method": "GET", "sid": eio_sid, "is_handshake": False, "transport": "websocket",
        "scope_type": "websocket", "status": None, "final_status": 101,
    }


async def test_request_view_websocket_only_handshake() -> None:
    """A WebSocket-only client's one request is both the handshake and an upgrade."""
    async with recording() as (url, rows, _):
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        await eventually(lambda: "final_status" in rows[0])
    assert len(rows) == 1
    assert {k: rows[0][k] for k in ("method", "sid", "is_handshake", "transport", "is_upgrade",
                                    "address", "final_status")} == {
        "method": "GET", "sid": None, "is_handshake": True, "transport": "websocket",
        "is_upgrade": True, "address": "127.0.0.1", "final_status": 101,
    }


async def test_state_reaches_connect_level() -> None:
    """request.state of the handshake is socket.handshake.state at the connect level, also
    when the CONNECT packet arrives on a later POST."""
    _, mw = make()
    seen: list[Any] = []

    @mw.engine.use
    async def mark(request: Request, call_next: CallNext) -> None:
        if request.is_handshake:
            request.state["user"] = request.query.get("user")
        await call_next()

    @mw.use
    async def read(socket: Socket, call_next: CallNext) -> None:
        seen.append(dict(socket.handshake.state))
        await call_next()

    async with serve(mw.asgi_app()) as url:
        for transport in ("polling", "websocket"):
            outcome, _, client = await connect_result(f"{url}?user=ann-{transport}",
                                                      transports=[transport])
            assert outcome == "connect"
            await close_client(client)
    assert seen == [{"user": "ann-polling"}, {"user": "ann-websocket"}]


async def test_hostile_request_fields_never_fail() -> None:
    """Odd cookies, repeated query keys, odd headers: the view parses or skips, never 500s."""
    async with recording() as (url, rows, _):
        raw = await curl(url + HANDSHAKE + "&a=1&a=2&%ff=%00&=x",
                         "-H", 'Cookie: a="\\x7f; ;;==; b=2; =; c',
                         "-H", "X-Forwarded-For: not-an-ip",
                         "-H", "X-Weird: \t v\u00e9".encode().decode("latin-1"))
        assert raw.status == 200
    row = rows[0]
    assert row["final_status"] == 200
    assert row["address"] == "127.0.0.1"
    assert isinstance(row["cookies"], dict)
    assert "a" in row["query"]


# --- response headers and refusals on the wire -----------------------------------------------


async def test_response_headers_on_engine_responses_and_refusals() -> None:
    """Headers a member appends reach the engine's polling and WebSocket responses, and
    a refusal by an inner member."""
    _, mw = make()

    @mw.engine.use(priority=10)
    async def stamp(request: Request, call_next: CallNext) -> None:
        request.response_headers.append(("X-Engine", "yes"))
        await call_next()

    @mw.engine.use
    async def deny(request: Request, call_next: CallNext) -> None:
        deny_when_asked(request)
        await call_next()

    async with serve(mw.asgi_app()) as url:
        ok = await curl(url + HANDSHAKE)
        assert ok.status == 200 and ok.header("x-engine") == "yes"
        refused = await curl(url + HANDSHAKE, "-H", "X-Deny: 1")
        assert refused.status == 401 and refused.header("x-engine") == "yes"
        ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        async with websockets.connect(ws_url) as ws:
            assert ws.response is not None
            assert ws.response.headers["x-engine"] == "yes"
        with pytest.raises(websockets.exceptions.InvalidStatus) as info:
            async with websockets.connect(ws_url, additional_headers={"X-Deny": "1"}):
                pass
        assert info.value.response.headers["x-engine"] == "yes"


@pytest.mark.parametrize(
    ("cors", "origin", "allow_origin"),
    [
        ("*", "http://app.example", "http://app.example"),
        ("*", None, None),
        (["http://app.example"], "http://app.example", "http://app.example"),
        (["http://app.example"], "http://evil.example", None),
    ],
)
async def test_refusal_on_the_wire(cors: Any, origin: str | None,
                                   allow_origin: str | None) -> None:
    """A refusal answers with its status, application/json, {"message","data"}, its headers
    and the CORS headers python-engineio gives its own responses to that Origin."""
    _, mw = make(cors=cors)

    @mw.engine.use
    async def deny(request: Request, call_next: CallNext) -> None:
        deny_when_asked(request)
        await call_next()

    args = ["-H", "X-Deny: 1"] + (["-H", f"Origin: {origin}"] if origin else [])
    async with serve(mw.asgi_app()) as url:
        raw = await curl(url + HANDSHAKE, *args)
        engine_own = await curl(url + HANDSHAKE, *args[2:])
    assert raw.status == 401
    assert raw.header("content-type") == "application/json"
    assert raw.header("content-length") == str(len(raw.body))
    assert raw.json() == DENIED
    assert raw.header("www-authenticate") == 'Bearer realm="socket.io"'
    assert raw.header("access-control-allow-origin") == allow_origin
    if allow_origin is not None:
        assert raw.header("access-control-allow-credentials") == "true"
        # the same CORS answer as the engine's own response to that request
        assert engine_own.header("access-control-allow-origin") == allow_origin


async def test_refused_websocket_gets_real_status() -> None:
    """A refused WebSocket request is answered with the refusal's status, headers and JSON
    body (ASGI WebSocket Denial Response), not a bare 403."""
    _, mw = make()

    @mw.engine.use
    async def deny(request: Request, call_next: CallNext) -> None:
        deny_when_asked(request)
        await call_next()

    async with serve(mw.asgi_app()) as url:
        ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        with pytest.raises(websockets.exceptions.InvalidStatus) as info:
            async with websockets.connect(ws_url, additional_headers={
                "X-Deny": "1", "Origin": "http://app.example",
            }):
                pass
    response = info.value.response
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.headers["www-authenticate"] == 'Bearer realm="socket.io"'
    assert response.headers["access-control-allow-origin"] == "http://app.example"
    assert json.loads(bytes(response.body or b"")) == DENIED


async def test_preflight_passes_untouched_unless_member_opts_in() -> None:
    """CORS preflight (OPTIONS) skips members unless declared preflight=True; such a member
    sees it and may refuse it (with CORS headers)."""
    _, mw = make()
    seen: list[str] = []

    @mw.engine.use
    async def refuse_all(request: Request, call_next: CallNext) -> None:
        seen.append(f"refuse_all {request.method}")
        raise Refusal("no", {"code": "denied"}, status=403)

    preflight = ["-X", "OPTIONS", "-H", "Origin: http://app.example",
                 "-H", "Access-Control-Request-Method: POST"]
    async with serve(mw.asgi_app()) as url:
        raw = await curl(url + HANDSHAKE, *preflight)
        assert raw.status == 200  # python-engineio's own preflight answer
        assert raw.header("access-control-allow-origin") == "http://app.example"
        assert "POST" in (raw.header("access-control-allow-methods") or "")
        assert seen == []
        assert (await curl(url + HANDSHAKE)).status == 403  # other requests do run it
        assert seen == ["refuse_all GET"]

        @mw.engine.use(preflight=True, priority=10)
        async def guard_preflight(request: Request, call_next: CallNext) -> None:
            seen.append(f"guard_preflight {request.method}")
            if "x-deny" in request.headers:
                raise Refusal("no preflight", {"code": "denied"}, status=403)
            await call_next()

        seen.clear()
        assert (await curl(url + HANDSHAKE, *preflight)).status == 200
        refused = await curl(url + HANDSHAKE, *preflight, "-H", "X-Deny: 1")
        assert refused.status == 403
        assert refused.header("access-control-allow-origin") == "http://app.example"
        assert seen == ["guard_preflight OPTIONS", "guard_preflight OPTIONS"]


async def test_engine_body_handling_intact() -> None:
    """A polling POST carrying several packets still reaches python-engineio whole after a
    function member and an ASGI member (which wraps receive) ran."""
    sio, mw = make()
    mw.engine.use_asgi(SessionMiddleware, secret_key="k", name="session", priority=10)
    notes: list[Any] = []

    @mw.engine.use
    async def touch(request: Request, call_next: CallNext) -> None:
        assert request.headers and request.query and request.cookies is not None
        await call_next()

    @sio.event
    async def note(sid: str, value: Any) -> None:
        notes.append(value)

    async with serve(mw.asgi_app()) as url, aiohttp.ClientSession() as http:
        async with http.get(url + HANDSHAKE) as r:
            sid = json.loads((await r.text())[1:])["sid"]
        poll = f"{url}/socket.io/?EIO=4&transport=polling&sid={sid}"
        async with http.post(poll, data="40") as r:
            assert r.status == 200
        async with http.get(poll) as r:
            assert (await r.text()).startswith("40{")
        body = "\x1e".join(f'42["note",{{"n":{i},"pad":"{"x" * 3000}"}}]' for i in range(5))
        async with http.post(poll, data=body.encode()) as r:
            assert r.status == 200 and await r.text() == "OK"
        await eventually(lambda: len(notes) == 5)
        async with http.post(poll, data="1") as r:  # CLOSE
            assert r.status == 200
    assert [n["n"] for n in notes] == [0, 1, 2, 3, 4]
    assert all(len(n["pad"]) == 3000 for n in notes)


# --- failures of members ----------------------------------------------------------------------


async def test_member_exception_is_internal_error(caplog: pytest.LogCaptureFixture) -> None:
    """An exception in an engine member answers 500 internal_error JSON, is logged with the
    member's name and traceback, never leaks, and the server keeps serving."""
    _, mw = make()

    @mw.engine.use
    async def exploding(request: Request, call_next: CallNext) -> None:
        if "x-boom" in request.headers:
            raise KeyError("secret detail")
        await call_next()

    async with serve(mw.asgi_app()) as url:
        with caplog.at_level(logging.ERROR, logger="siomw"):
            raw = await curl(url + HANDSHAKE, "-H", "X-Boom: 1", "-H",
                             "Origin: http://app.example")
            ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
            with pytest.raises(websockets.exceptions.InvalidStatus) as info:
                async with websockets.connect(ws_url, additional_headers={"X-Boom": "1"}):
                    pass
        assert raw.status == 500
        assert raw.json() == INTERNAL
        assert b"secret detail" not in raw.body
        assert raw.header("access-control-allow-origin") == "http://app.example"
        assert info.value.response.status_code == 500
        assert json.loads(bytes(info.value.response.body or b"")) == INTERNAL
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"  # still serving
        await client.disconnect()
    records = [r for r in caplog.records if r.name == "siomw" and r.levelno >= logging.ERROR]
    assert len(records) == 2
    assert all("'exploding'" in r.getMessage() and r.exc_info for r in records)


async def test_member_never_calling_next_is_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A member that returns without call_next or raising refuses with 500 internal_error,
    and a warning names it (Node's request would hang)."""
    _, mw = make()

    @mw.engine.use
    async def forgetful(request: Request, call_next: CallNext) -> None:
        return None

    async with serve(mw.asgi_app()) as url:
        with caplog.at_level(logging.WARNING, logger="siomw"):
            raw = await curl(url + HANDSHAKE)
    assert raw.status == 500
    assert raw.json() == INTERNAL
    assert any("'forgetful'" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)


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
        session = request.scope["session"]
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


# --- what each client shows -------------------------------------------------------------------


async def refusing_server() -> tuple[socketio.AsyncServer, Siomw]:
    sio, mw = make()

    @mw.engine.use
    async def deny(request: Request, call_next: CallNext) -> None:
        if request.is_handshake:
            raise Refusal("no entry", {"code": "denied"}, status=401)
        await call_next()

    return sio, mw


async def test_python_client_sees_engine_refusal() -> None:
    """python-socketio's AsyncClient: over polling connect_error gets the JSON body; over
    WebSocket only "Connection error"."""
    _, mw = await refusing_server()
    async with serve(mw.asgi_app()) as url:
        polling = await connect_result(url, transports=["polling"])
        websocket = await connect_result(url, transports=["websocket"])
    assert polling[:2] == ("connect_error", DENIED)
    assert websocket[:2] == ("connect_error", "Connection error")


@requires_js
async def test_js_client_sees_engine_refusal() -> None:
    """The JS client: "xhr poll error" with description = the status over polling,
    "websocket error" over WebSocket; err.data is not available either way."""
    _, mw = await refusing_server()
    async with serve(mw.asgi_app()) as url:
        polling, websocket = await asyncio.gather(
            js_outcome(url, transports=["polling"]), js_outcome(url, transports=["websocket"]))
    assert polling["event"] == "connect_error"
    assert polling["message"] == "xhr poll error"
    assert polling["description"] == 401
    assert "data" not in polling
    assert websocket["event"] == "connect_error"
    assert websocket["message"] == "websocket error"
    assert "data" not in websocket


# --- the examples of docs/engine-middlewares.md -----------------------------------------------


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


# --- served around the chain: the warning (issue 6 item 2) --------------------------------
UNWRAPPED = "engine requests reach python-engineio without the engine chain"


def unwrapped_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "siomw" and r.levelno == logging.WARNING and UNWRAPPED in r.getMessage()]


async def connect_twice(url: str) -> None:
    for transports in (["polling"], ["websocket"]):
        outcome, data, client = await connect_result(url, transports=transports)
        assert outcome == "connect", data
        await close_client(client)


async def test_bare_asgi_app_with_engine_members_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """socketio.ASGIApp(sio) served directly with an engine member: one WARNING, at the first
    engine request, naming the skipped member and what to serve; the member indeed never ran."""
    caplog.set_level(logging.WARNING, logger="siomw")
    sio, mw = make()
    ran: list[str] = []

    @mw.engine.use(name="api-key")
    async def api_key(request: Request, call_next: CallNext) -> None:
        ran.append(request.method)
        await call_next()

    async with serve(socketio.ASGIApp(sio)) as url:
        assert unwrapped_warnings(caplog) == []  # nothing reached the engine yet
        await connect_twice(url)
        await connect_twice(url)
    assert unwrapped_warnings(caplog) == [
        "siomw: engine requests reach python-engineio without the engine chain, so its "
        "members api-key are skipped (socketio.ASGIApp(sio) served directly?); serve "
        "mw.asgi_app() instead (it takes socketio.ASGIApp's arguments), or mw.wrap(asgi_app)"
    ]
    assert ran == []


@pytest.mark.parametrize("served", ["asgi_app", "wrap", "no_members"])
async def test_no_warning_when_the_chain_runs_or_is_empty(
    caplog: pytest.LogCaptureFixture, served: str
) -> None:
    """mw.asgi_app() and mw.wrap(ASGIApp) run the chain: no warning; a bare ASGIApp without
    engine members skips nothing: no warning either."""
    caplog.set_level(logging.WARNING, logger="siomw")
    sio, mw = make()
    ran: list[str] = []
    if served != "no_members":
        @mw.engine.use
        async def member(request: Request, call_next: CallNext) -> None:
            ran.append(request.method)
            await call_next()
    app: Any = (mw.asgi_app() if served == "asgi_app"
                else mw.wrap(socketio.ASGIApp(sio)) if served == "wrap"
                else socketio.ASGIApp(sio))
    async with serve(app) as url:
        await connect_twice(url)
    assert unwrapped_warnings(caplog) == []
    assert bool(ran) == (served != "no_members")


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
