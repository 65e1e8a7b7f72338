"""The engine level (Node's ``io.engine.use``) on every server kind, real servers and clients.

Each scenario runs on ASGI (uvicorn, ``mw.asgi_app()``), aiohttp (``sio.attach(app)``) and
WSGI (``socketio.WSGIApp`` of a threading ``socketio.Server`` under Werkzeug): the
``engine_kind`` fixture (:mod:`tests.levels.engine_kinds`). Raw responses are read with
``curl -i``; WebSocket requests with the ``websockets`` library; clients are python-socketio's
``AsyncClient`` and the reference JS ``socket.io-client``. ASGI-only matters (Starlette's
middlewares, mounting, the docs' examples) are in ``test_engine_asgi.py``; framework
middlewares per kind in ``test_engine_members.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import websockets

from siomw_core import CallNext, OrderingError, Refusal, Request, Socket
from siomw_core.testing import close_client, connect_result
from tests.conftest import requires_js
from tests.jsclient import js_outcome
from tests.levels.engine_kinds import (
    DENIED,
    HANDSHAKE,
    INTERNAL,
    Kind,
    curl,
    deny_when_asked,
    eventually,
    view,
)


@contextlib.asynccontextmanager
async def recording(kind: Kind, **core: Any) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A server whose one engine member records ``view(request)`` and the final status."""
    sio, mw = kind.make(**core)
    rows: list[dict[str, Any]] = []

    @mw.engine.use
    async def recorder(request: Request, call_next: CallNext) -> None:
        row = view(request)
        rows.append(row)
        await call_next()
        row["final_status"] = request.status
        row["bytes_sent"] = request.bytes_sent

    async with kind.serve(sio, mw) as url:
        yield url, rows


def ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


# --- registering ----------------------------------------------------------------------------


async def test_use_forms_and_order() -> None:
    """engine.use works as a call, a bare decorator and a decorator with ordering arguments;
    the chain order (placed, describe, and at run time) follows before/after and priority."""
    kind = Kind("asgi")
    sio, mw = kind.make()
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
    mw.engine.use(member("e"), name="session", priority=100)

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
        mw.engine.use(member("f"), before="d", after="c_named")
    assert [p.middleware.name for p in mw.placed("engine")] == names

    async with kind.serve(sio, mw) as url:
        assert (await curl(url + HANDSHAKE)).status == 200
    assert calls == ["e", "d", "a", "c", "b"]  # c is the function registered as "c_named"


async def test_preflight_members_only_in_preflight_chain() -> None:
    """engine_chain(preflight=True) holds only members declared preflight=True."""
    _, mw = Kind("asgi").make()

    async def plain(request: Request, call_next: CallNext) -> None:
        await call_next()

    async def pre(request: Request, call_next: CallNext) -> None:
        await call_next()

    mw.engine.use(plain)
    mw.engine.use(pre, preflight=True)
    assert {m.name for m in mw.engine_chain()} == {"plain", "pre"}
    assert {m.name for m in mw.engine_chain(preflight=True)} == {"pre"}


# --- what a member sees -----------------------------------------------------------------------


async def test_request_view_polling_session(engine_kind: Kind) -> None:
    """Polling: the handshake GET (no sid), POSTs and long-poll GETs carrying the sid; the
    same view on every kind."""
    async with recording(engine_kind) as (url, rows):
        outcome, _, client = await connect_result(url, transports=["polling"])
        assert outcome == "connect"
        eio_sid = client.eio.sid
        await eventually(lambda: any(r["method"] == "GET" and r["sid"] for r in rows))
        await eventually(lambda: any(r["method"] == "POST" and "final_status" in r
                                     for r in rows))
        await close_client(client)
    handshake = rows[0]
    assert handshake == {
        "method": "GET", "path": "/socket.io/", "sid": None, "is_handshake": True,
        "transport": "polling", "is_upgrade": False, "query": ["EIO", "t", "transport"],
        "address": "127.0.0.1", "secure": False, "cookies": {}, "status": None,
        "scheme": "http", "final_status": 200, "bytes_sent": handshake["bytes_sent"],
    }
    assert handshake["bytes_sent"] > 50  # the OPEN packet
    post = next(r for r in rows if r["method"] == "POST")
    assert (post["sid"], post["is_handshake"], post["transport"], post["is_upgrade"]) == (
        eio_sid, False, "polling", False)
    assert post["query"] == ["EIO", "sid", "transport"]
    assert post["final_status"] == 200
    poll = next(r for r in rows[1:] if r["method"] == "GET")
    assert (poll["sid"], poll["is_handshake"], poll["is_upgrade"]) == (eio_sid, False, False)


async def test_request_view_websocket_upgrade_with_sid(engine_kind: Kind) -> None:
    """The upgrade of a polling session: a WebSocket request with the sid, not a handshake;
    its status (101) is known once it was accepted."""
    async with recording(engine_kind) as (url, rows):
        outcome, _, client = await connect_result(url)  # polling, then the upgrade
        assert outcome == "connect"
        eio_sid = client.eio.sid
        await eventually(lambda: any(r["is_upgrade"] for r in rows))
        await eventually(lambda: client.transport() == "websocket")
        await client.disconnect()
        upgrade = next(r for r in rows if r["is_upgrade"])
        await eventually(lambda: "final_status" in upgrade)
    assert rows[0]["is_handshake"] and rows[0]["transport"] == "polling"
    assert {k: upgrade[k] for k in ("method", "sid", "is_handshake", "transport", "status",
                                    "final_status")} == {
        "method": "GET", "sid": eio_sid, "is_handshake": False, "transport": "websocket",
        "status": None, "final_status": 101,
    }


async def test_request_view_websocket_only_handshake(engine_kind: Kind) -> None:
    """A WebSocket-only client's one request is both the handshake and an upgrade."""
    async with recording(engine_kind) as (url, rows):
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        await eventually(lambda: bool(rows) and "final_status" in rows[0])
    assert len(rows) == 1
    assert {k: rows[0][k] for k in ("method", "sid", "is_handshake", "transport", "is_upgrade",
                                    "address", "final_status")} == {
        "method": "GET", "sid": None, "is_handshake": True, "transport": "websocket",
        "is_upgrade": True, "address": "127.0.0.1", "final_status": 101,
    }


async def test_state_reaches_connect_level(engine_kind: Kind) -> None:
    """request.state of the handshake is socket.handshake.state at the connect level, also
    when the CONNECT packet arrives on a later POST; the handshake's views are the engine
    request's (address, headers, url)."""
    sio, mw = engine_kind.make()
    seen: list[Any] = []

    @mw.engine.use
    async def mark(request: Request, call_next: CallNext) -> None:
        if request.is_handshake:
            request.state["user"] = request.query.get("user")
        await call_next()

    @mw.use
    async def read(socket: Socket, call_next: CallNext) -> None:
        handshake = socket.handshake
        seen.append((dict(handshake.state), handshake.address, handshake.headers.get("x-who"),
                     handshake.url.split("?")[0], handshake.secure))
        await call_next()

    async with engine_kind.serve(sio, mw) as url:
        for transport in ("polling", "websocket"):
            outcome, _, client = await connect_result(f"{url}?user=ann-{transport}",
                                                      headers={"X-Who": transport},
                                                      transports=[transport])
            assert outcome == "connect"
            await close_client(client)
    assert seen == [({"user": "ann-polling"}, "127.0.0.1", "polling", "/socket.io/", False),
                    ({"user": "ann-websocket"}, "127.0.0.1", "websocket", "/socket.io/", False)]


async def test_hostile_request_fields_never_fail(engine_kind: Kind) -> None:
    """Odd cookies, repeated query keys, odd headers: the view parses or skips, never 500s."""
    async with recording(engine_kind) as (url, rows):
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


async def test_response_hooks(engine_kind: Kind) -> None:
    """on_start runs when the response starts (a WebSocket's at its 101, while the
    connection is open), on_end when the request is over; both see the status."""
    sio, mw = engine_kind.make()
    events: list[tuple[str, bool, int | None]] = []

    @mw.engine.use
    async def hooks(request: Request, call_next: CallNext) -> None:
        request.on_start(lambda r: events.append(("start", r.is_upgrade, r.status)))
        request.on_end(lambda r: events.append(("end", r.is_upgrade, r.status)))
        await call_next()

    async with engine_kind.serve(sio, mw) as url:
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await eventually(lambda: ("start", True, 101) in events)
        assert ("end", True, 101) not in events  # the WebSocket is still open
        await client.disconnect()
        await eventually(lambda: ("end", True, 101) in events)
        await curl(url + HANDSHAKE)
        await eventually(lambda: ("end", False, 200) in events)
    assert events[-2:] == [("start", False, 200), ("end", False, 200)]


# --- response headers and refusals on the wire -----------------------------------------------


async def test_response_headers_on_engine_responses_and_refusals(engine_kind: Kind) -> None:
    """Headers a member appends reach the engine's polling responses, a refusal by an inner
    member, a refused WebSocket request and (ASGI, aiohttp) a WebSocket's 101."""
    sio, mw = engine_kind.make()

    @mw.engine.use(priority=10)
    async def stamp(request: Request, call_next: CallNext) -> None:
        request.response_headers.append(("X-Engine", "yes"))
        await call_next()

    @mw.engine.use
    async def deny(request: Request, call_next: CallNext) -> None:
        deny_when_asked(request)
        await call_next()

    async with engine_kind.serve(sio, mw) as url:
        ok = await curl(url + HANDSHAKE)
        assert ok.status == 200 and ok.header("x-engine") == "yes"
        refused = await curl(url + HANDSHAKE, "-H", "X-Deny: 1")
        assert refused.status == 401 and refused.header("x-engine") == "yes"
        async with websockets.connect(ws_url(url)) as ws:
            assert ws.response is not None
            # simple-websocket writes the WSGI 101 itself: no added headers there
            expected = None if engine_kind.sync else "yes"
            assert ws.response.headers.get("x-engine") == expected
        with pytest.raises(websockets.exceptions.InvalidStatus) as info:
            async with websockets.connect(ws_url(url), additional_headers={"X-Deny": "1"}):
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
async def test_refusal_on_the_wire(engine_kind: Kind, cors: Any, origin: str | None,
                                   allow_origin: str | None) -> None:
    """A refusal answers with its status, application/json, {"message","data"}, its headers
    and the CORS headers python-engineio gives its own responses to that Origin."""
    sio, mw = engine_kind.make(cors=cors)

    @mw.engine.use
    async def deny(request: Request, call_next: CallNext) -> None:
        deny_when_asked(request)
        await call_next()

    args = ["-H", "X-Deny: 1"] + (["-H", f"Origin: {origin}"] if origin else [])
    async with engine_kind.serve(sio, mw) as url:
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


async def test_refused_websocket_gets_real_status(engine_kind: Kind) -> None:
    """A refused WebSocket request is answered with the refusal's status, headers and JSON
    body before any upgrade (ASGI: the WebSocket Denial Response), not a bare 403."""
    sio, mw = engine_kind.make()

    @mw.engine.use
    async def deny(request: Request, call_next: CallNext) -> None:
        deny_when_asked(request)
        await call_next()

    async with engine_kind.serve(sio, mw) as url:
        with pytest.raises(websockets.exceptions.InvalidStatus) as info:
            async with websockets.connect(ws_url(url), additional_headers={
                "X-Deny": "1", "Origin": "http://app.example",
            }):
                pass
    response = info.value.response
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.headers["www-authenticate"] == 'Bearer realm="socket.io"'
    assert response.headers["access-control-allow-origin"] == "http://app.example"
    assert json.loads(bytes(response.body or b"")) == DENIED


async def test_preflight_passes_untouched_unless_member_opts_in(engine_kind: Kind) -> None:
    """CORS preflight (OPTIONS) skips members unless declared preflight=True; such a member
    sees it and may refuse it (with CORS headers)."""
    sio, mw = engine_kind.make()
    seen: list[str] = []

    @mw.engine.use
    async def refuse_all(request: Request, call_next: CallNext) -> None:
        seen.append(f"refuse_all {request.method}")
        raise Refusal("no", {"code": "denied"}, status=403)

    preflight = ["-X", "OPTIONS", "-H", "Origin: http://app.example",
                 "-H", "Access-Control-Request-Method: POST"]
    async with engine_kind.serve(sio, mw) as url:
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


async def test_engine_body_handling_intact(engine_kind: Kind) -> None:
    """A polling POST carrying several packets still reaches python-engineio whole after a
    member that read the request's views."""
    sio, mw = engine_kind.make()
    notes: list[Any] = []

    @mw.engine.use
    async def touch(request: Request, call_next: CallNext) -> None:
        assert request.headers and request.query and request.cookies is not None
        await call_next()

    engine_kind.handler(sio, "note", lambda sid, value: notes.append(value))

    async with engine_kind.serve(sio, mw) as url, aiohttp.ClientSession() as http:
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


async def test_member_exception_is_internal_error(engine_kind: Kind,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """An exception in an engine member answers 500 internal_error JSON, is logged with the
    member's name and traceback, never leaks, and the server keeps serving."""
    sio, mw = engine_kind.make()

    @mw.engine.use
    async def exploding(request: Request, call_next: CallNext) -> None:
        if "x-boom" in request.headers:
            raise KeyError("secret detail")
        await call_next()

    async with engine_kind.serve(sio, mw) as url:
        with caplog.at_level(logging.ERROR, logger="siomw"):
            raw = await curl(url + HANDSHAKE, "-H", "X-Boom: 1", "-H",
                             "Origin: http://app.example")
            with pytest.raises(websockets.exceptions.InvalidStatus) as info:
                async with websockets.connect(ws_url(url), additional_headers={"X-Boom": "1"}):
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
    engine_kind: Kind, caplog: pytest.LogCaptureFixture,
) -> None:
    """A member that returns without call_next or raising refuses with 500 internal_error,
    and a warning names it (Node's request would hang)."""
    sio, mw = engine_kind.make()

    @mw.engine.use
    async def forgetful(request: Request, call_next: CallNext) -> None:
        return None

    async with engine_kind.serve(sio, mw) as url:
        with caplog.at_level(logging.WARNING, logger="siomw"):
            raw = await curl(url + HANDSHAKE)
    assert raw.status == 500
    assert raw.json() == INTERNAL
    assert any("'forgetful'" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)


# --- what each client shows -------------------------------------------------------------------


def refusing(kind: Kind) -> tuple[Any, Any]:
    sio, mw = kind.make()

    @mw.engine.use
    async def deny(request: Request, call_next: CallNext) -> None:
        if request.is_handshake:
            raise Refusal("no entry", {"code": "denied"}, status=401)
        await call_next()

    return sio, mw


async def test_python_client_sees_engine_refusal(engine_kind: Kind) -> None:
    """python-socketio's AsyncClient: over polling connect_error gets the JSON body (or,
    python-engineio 4.15's client closing its HTTP session before it read the body,
    "Connection closed.", as docs/engine-middlewares.md says; the body is on the wire, as
    curl shows); over WebSocket only "Connection error"."""
    sio, mw = refusing(engine_kind)
    async with engine_kind.serve(sio, mw) as url:
        polling = await connect_result(url, transports=["polling"])
        websocket = await connect_result(url, transports=["websocket"])
        raw = await curl(url + HANDSHAKE)
    assert polling[0] == "connect_error"
    assert polling[1] in (DENIED, "Connection closed.")
    assert (raw.status, raw.json()) == (401, DENIED)
    assert websocket[:2] == ("connect_error", "Connection error")


@requires_js
async def test_js_client_sees_engine_refusal(engine_kind: Kind) -> None:
    """The JS client: "xhr poll error" with description = the status over polling,
    "websocket error" over WebSocket; err.data is not available either way."""
    sio, mw = refusing(engine_kind)
    async with engine_kind.serve(sio, mw) as url:
        polling, websocket = await asyncio.gather(
            js_outcome(url, transports=["polling"]), js_outcome(url, transports=["websocket"]))
    assert polling["event"] == "connect_error"
    assert polling["message"] == "xhr poll error"
    assert polling["description"] == 401
    assert "data" not in polling
    assert websocket["event"] == "connect_error"
    assert websocket["message"] == "websocket error"
    assert "data" not in websocket
