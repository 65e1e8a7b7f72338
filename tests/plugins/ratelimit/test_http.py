"""The ratelimit-http engine middleware against real servers and clients (memory storage):
429 refusals with Retry-After and RateLimit-* headers, what each client shows, and which
HTTP requests count in "handshake" and "all" modes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
import socketio
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from siomw_core import Middleware, Request
from siomw_core.testing import close_client, connect_result
from tests.conftest import requires_js
from tests.jsclient import js_outcome
from tests.plugins.kinds import KINDS

from .support import (
    POLLING,
    RATELIMIT_HEADERS,
    WEBSOCKET,
    Polling,
    assert_http_rate_limited,
    attempt,
    curl,
    engine_server,
    serving,
)

REFUSED = {"code": "rate_limited", "limit": "2 per 1 minute"}


def ws_url(url: str, query: str = WEBSOCKET) -> str:
    """The engine's WebSocket URL on the test server."""
    return url.replace("http://", "ws://", 1) + query


@pytest.mark.parametrize("kind", KINDS)
async def test_third_handshake_gets_429_seen_by_curl(kind: str) -> None:
    """http = "2/minute": curl's third handshake gets 429, Retry-After, RateLimit-*, JSON
    body, on both server kinds (the WSGI engine seam answers the sync server's)."""
    sio, mw = engine_server({"http": "2/minute"}, kind=kind)
    async with serving(sio, mw) as url:
        answers = [await curl(url + POLLING) for _ in range(3)]
    for status, headers, body in answers[:2]:
        assert status == 200 and body.startswith("0{"), body
        assert not any(name in headers for name in RATELIMIT_HEADERS)  # headers = false
    assert_http_rate_limited(*answers[2], "2 per 1 minute", 2)


async def test_third_handshake_gets_429_seen_by_aiohttp() -> None:
    """The same refusal read with aiohttp: status, headers and the JSON body's shape."""
    sio, mw = engine_server({"http": "2/minute"})
    async with serving(sio, mw) as url, aiohttp.ClientSession() as session:
        client = Polling(session, url)
        assert (await client.handshake())[0] == 200
        assert (await client.handshake())[0] == 200
        status, headers, body = await client.handshake()
    assert_http_rate_limited(status, headers, body, "2 per 1 minute", 2)


async def test_python_polling_client_gets_the_body_as_connect_error_data() -> None:
    """python AsyncClient over polling: connect_error receives the 429's JSON body;
    over websocket only "Connection error"."""
    sio, mw = engine_server({"http": "2/minute"})
    async with serving(sio, mw) as url:
        assert (await attempt(url, transports=["polling"]))[0] == "connect"
        assert (await attempt(url, transports=["polling"]))[0] == "connect"
        outcome, data = await attempt(url, transports=["polling"])
        ws_outcome = await attempt(url, transports=["websocket"])
    assert outcome == "connect_error"
    assert data["message"] == "Too many requests"
    assert {k: data["data"][k] for k in ("code", "limit")} == REFUSED
    assert 1 <= data["data"]["retry_after"] <= 60
    assert ws_outcome == ("connect_error", "Connection error")


@requires_js
async def test_js_client_sees_xhr_poll_error_429() -> None:
    """The JS client over polling reports "xhr poll error" with description 429; over
    websocket "websocket error"."""
    sio, mw = engine_server({"http": "1/minute"})
    async with serving(sio, mw) as url:
        first = await js_outcome(url, transports=["polling"])
        polling = await js_outcome(url, transports=["polling"])
        websocket = await js_outcome(url, transports=["websocket"])
    assert first["event"] == "connect"
    assert polling["event"] == "connect_error"
    assert polling["message"] == "xhr poll error" and polling["description"] == 429
    assert websocket["event"] == "connect_error" and websocket["message"] == "websocket error"


async def test_handshake_mode_never_counts_an_established_polling_session() -> None:
    """http_requests = "handshake": a polling client's POSTs and long-poll GETs spend
    nothing: 12 acknowledged events under "2/minute", then one more handshake still fits."""
    sio, mw = engine_server({"http": "2/minute"})
    async with serving(sio, mw) as url:
        outcome, _, client = await connect_result(url, transports=["polling"])
        assert outcome == "connect"
        try:
            for i in range(12):
                assert await client.call("echo", i, timeout=5) == [i]
            assert client.transport() == "polling" and client.connected
        finally:
            await close_client(client)
        assert (await curl(url + POLLING))[0] == 200
        assert (await curl(url + POLLING))[0] == 429


async def test_handshake_mode_counts_requests_exactly() -> None:
    """Driven by hand: only sid-less requests count; 10 POST/GET pairs of a session pass."""
    sio, mw = engine_server({"http": "2/minute"})
    async with serving(sio, mw) as url, aiohttp.ClientSession() as session:
        client = Polling(session, url)
        assert (await client.handshake())[0] == 200
        assert (await client.post("40"))[0] == 200
        assert (await client.get())[2].startswith("40")
        for i in range(10):
            assert (await client.post(f'42{i}["echo",{i}]'))[0] == 200
            assert (await client.get())[2] == f"43{i}[[{i}]]"
        assert (await Polling(session, url).handshake())[0] == 200
        status, headers, body = await Polling(session, url).handshake()
    assert_http_rate_limited(status, headers, body, "2 per 1 minute", 2)


async def test_all_mode_counts_every_request_exactly() -> None:
    """http_requests = "all" with "5/minute": handshake, POST, GET, POST, GET pass; the
    sixth request (a POST of the session) gets the 429."""
    sio, mw = engine_server({"http": "5/minute", "http_requests": "all"})
    async with serving(sio, mw) as url, aiohttp.ClientSession() as session:
        client = Polling(session, url)
        assert (await client.handshake())[0] == 200
        assert (await client.post("40"))[0] == 200
        assert (await client.get())[0] == 200
        assert (await client.post('420["echo",1]'))[0] == 200
        assert (await client.get())[2] == "430[[1]]"
        status, headers, body = await client.post('421["echo",2]')
    assert_http_rate_limited(status, headers, body, "5 per 1 minute", 5)


async def test_all_mode_ends_a_chatty_polling_client() -> None:
    """http_requests = "all": a polling client sending events is cut off once its requests
    spend the budget (the python client drops the session on the 429)."""
    sio, mw = engine_server({"http": "8/minute", "http_requests": "all"}, ping_interval=1)
    async with serving(sio, mw) as url:
        outcome, _, client = await connect_result(url, transports=["polling"])
        assert outcome == "connect"
        gone = asyncio.Event()
        client.on("disconnect", lambda *_: gone.set())
        answered = 0
        try:
            for i in range(10):
                try:
                    await client.call("echo", i, timeout=1.5)
                except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
                    break
                answered += 1
            await asyncio.wait_for(gone.wait(), 5)
        finally:
            await close_client(client)
        assert 1 <= answered < 8, answered
        assert (await curl(url + POLLING))[0] == 429


@pytest.mark.parametrize("kind", KINDS)
async def test_websocket_only_handshakes_are_counted_and_refused_with_429(kind: str) -> None:
    """WebSocket-only handshakes (no sid) count; the third gets the real 429 with headers
    and JSON body (WebSocket Denial Response), on both server kinds."""
    sio, mw = engine_server({"http": "2/minute"}, kind=kind)
    async with serving(sio, mw) as url:
        for _ in range(2):
            async with ws_connect(ws_url(url)) as ws:
                assert str(await ws.recv()).startswith("0{")
        with pytest.raises(InvalidStatus) as info:
            async with ws_connect(ws_url(url)):
                pass
    response = info.value.response
    headers = {k.lower(): v for k, v in response.headers.raw_items()}
    assert_http_rate_limited(response.status_code, headers, bytes(response.body or b""),
                             "2 per 1 minute", 2)


async def test_websocket_upgrade_of_a_session_counts_only_in_all_mode() -> None:
    """The upgrade of a polling session (it has a sid) is free in "handshake" mode and
    spends a unit in "all" mode."""
    for mode, third in (("handshake", 200), ("all", 429)):
        sio, mw = engine_server({"http": "2/minute", "http_requests": mode})
        async with serving(sio, mw) as url, aiohttp.ClientSession() as session:
            client = Polling(session, url)
            assert (await client.handshake())[0] == 200
            async with ws_connect(ws_url(url, f"{WEBSOCKET}&sid={client.sid}")) as ws:
                await ws.send("2probe")
                assert await ws.recv() == "3probe"
            assert (await Polling(session, url).handshake())[0] == third, mode


async def test_python_client_upgrades_in_handshake_mode() -> None:
    """Under "1/minute" (handshake) a default python client connects and upgrades to
    websocket: only its first request counted."""
    sio, mw = engine_server({"http": "1/minute"})
    async with serving(sio, mw) as url:
        outcome, _, client = await connect_result(url)
        try:
            assert outcome == "connect"
            for _ in range(100):
                if client.transport() == "websocket":
                    break
                await asyncio.sleep(0.02)
            assert client.transport() == "websocket"
            assert await client.call("echo", "x", timeout=5) == ["x"]
        finally:
            await client.disconnect()
        assert (await curl(url + POLLING))[0] == 429


@pytest.mark.parametrize("kind", KINDS)
async def test_headers_true_adds_ratelimit_headers_to_allowed_responses(kind: str) -> None:
    """headers = true: each allowed handshake carries RateLimit-Limit, -Remaining (counting
    down) and -Reset; the fourth is the 429 (both server kinds)."""
    sio, mw = engine_server({"http": "3/minute", "headers": True}, kind=kind)
    async with serving(sio, mw) as url:
        answers = [await curl(url + POLLING) for _ in range(4)]
    for remaining, (status, headers, _) in zip((2, 1, 0), answers, strict=False):
        assert status == 200
        assert headers["ratelimit-limit"] == "3"
        assert headers["ratelimit-remaining"] == str(remaining)
        assert 1 <= int(headers["ratelimit-reset"]) <= 60
        assert "retry-after" not in headers
    assert_http_rate_limited(*answers[3], "3 per 1 minute", 3)


async def test_headers_on_websocket_accept_and_uncounted_requests() -> None:
    """headers = true: a WebSocket handshake's 101 carries them; in "handshake" mode the
    session's POSTs (not counted) do not. (AsyncServer only: on a sync server in threading
    mode simple-websocket writes the 101 itself, without the engine's response headers.)"""
    sio, mw = engine_server({"http": "5/minute", "headers": True})
    async with serving(sio, mw) as url, aiohttp.ClientSession() as session:
        async with ws_connect(ws_url(url)) as ws:
            assert ws.response is not None
            assert ws.response.headers["RateLimit-Remaining"] == "4"
        client = Polling(session, url)
        status, headers, _ = await client.handshake()
        assert status == 200 and headers["RateLimit-Remaining"] == "3"
        status, headers, _ = await client.post("40")
        assert status == 200 and "RateLimit-Remaining" not in headers


async def test_headers_report_the_limit_closest_to_exhaustion() -> None:
    """With "10/minute;2/second" the headers name the per-second limit (fewest remaining),
    and its exhaustion is the refusal."""
    sio, mw = engine_server({"http": "10/minute;2/second", "headers": True})
    async with serving(sio, mw) as url:
        answers = [await curl(url + POLLING) for _ in range(3)]
    assert [(a[1]["ratelimit-limit"], a[1]["ratelimit-remaining"]) for a in answers[:2]] == [
        ("2", "1"), ("2", "0")]
    assert_http_rate_limited(*answers[2], "2 per 1 second", 2, most=1)


async def test_http_and_connect_budgets_are_separate() -> None:
    """Connects do not spend the HTTP budget nor HTTP requests the connect budget."""
    sio, mw = engine_server({"connect": "5/minute", "http": "2/minute"})
    async with serving(sio, mw) as url:
        assert [(await attempt(url))[0] for _ in range(2)] == ["connect"] * 2
        outcome, data = await attempt(url, transports=["polling"])
    assert outcome == "connect_error" and data["message"] == "Too many requests"

    sio, mw = engine_server({"connect": "1/minute", "http": "5/minute"})
    async with serving(sio, mw) as url:
        assert (await attempt(url))[0] == "connect"
        outcome, data = await attempt(url, transports=["polling"])
    assert outcome == "connect_error" and data["message"] == "Too many connection attempts"


async def test_user_key_counts_http_requests_by_address() -> None:
    """key = "user" keys the connect limit only: HTTP requests count by address whatever
    the client's subject."""
    sio, mw = engine_server({"http": "2/minute", "key": "user"}, fake_jwt=True)
    async with serving(sio, mw) as url:
        assert (await attempt(url, auth={"user": {"sub": "alice"}}))[0] == "connect"
        assert (await attempt(url, auth={"user": {"sub": "bob"}}))[0] == "connect"
        outcome, data = await attempt(url, auth={"user": {"sub": "carol"}},
                                      transports=["polling"])
    assert outcome == "connect_error" and data["data"]["code"] == "rate_limited"


async def test_cors_headers_on_the_refusal() -> None:
    """The 429 carries the engine's CORS headers, so that a browser can read it."""
    sio, mw = engine_server({"http": "1/minute"}, cors_allowed_origins=["http://app.example"])
    async with serving(sio, mw) as url:
        origin = ("-H", "Origin: http://app.example")
        assert (await curl(url + POLLING, *origin))[0] == 200
        status, headers, _ = await curl(url + POLLING, *origin)
    assert status == 429
    assert headers["access-control-allow-origin"] == "http://app.example"


async def test_cors_preflights_are_never_counted() -> None:
    """OPTIONS preflights pass without spending the budget, even in "all" mode."""
    sio, mw = engine_server({"http": "1/minute", "http_requests": "all"},
                          cors_allowed_origins="*")
    preflight = ("-X", "OPTIONS", "-H", "Origin: http://app.example",
                 "-H", "Access-Control-Request-Method: GET")
    async with serving(sio, mw) as url:
        for _ in range(3):
            assert (await curl(url + POLLING, *preflight))[0] == 200
        assert (await curl(url + POLLING))[0] == 200
        assert (await curl(url + POLLING))[0] == 429


def test_engine_member_and_its_place() -> None:
    """http set: one engine member "ratelimit-http", priority 2000, before an engine "jwt"
    member even of higher priority; unset: no engine member."""
    _, mw = engine_server({"http": "100/minute"})

    async def jwt(request: Request, call_next: Any) -> None:
        await call_next()

    mw.add(Middleware(name="jwt", func=jwt, level="engine", priority=5000))
    placed = mw.placed("engine")
    assert [p.middleware.name for p in placed] == ["ratelimit-http", "jwt"]
    assert placed[0].middleware.priority == 2000 and not placed[0].middleware.preflight
    assert [m["name"] for m in mw.describe()["engine"]] == ["ratelimit-http", "jwt"]
    _, mw = engine_server({})
    assert mw.describe()["engine"] == []
    assert [p.middleware.name for p in mw.placed("connect", "/")] == ["ratelimit"]


async def test_refusal_body_is_json_for_every_client_kind() -> None:
    """The refusal body parses as the documented JSON whatever the request's Accept."""
    sio, mw = engine_server({"http": "1/minute"})
    async with serving(sio, mw) as url:
        await curl(url + POLLING)
        _, _, body = await curl(url + POLLING, "-H", "Accept: text/html")
    assert json.loads(body)["data"]["code"] == "rate_limited"
