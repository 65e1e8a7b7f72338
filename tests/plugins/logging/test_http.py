"""The engine-level access log (member "logging-http"): one "http" line per engine request."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import jwt as pyjwt
import pytest
import siomw_logging
import socketio
from starlette.middleware.trustedhost import TrustedHostMiddleware

from siomw_core import Config, CoreSettings, Refusal, Request, attach
from siomw_core.testing import close_client, connect_result, serve
from tests.conftest import requires_js
from tests.jsclient import js_client, js_outcome
from tests.plugins.kinds import KINDS, connect_outcome

from .support import connects, engine_server, http_lines, read_lines, wait_for

HTTP_KEYS = [
    "event", "method", "path", "query", "transport", "sid", "handshake", "upgrade", "status",
    "code", "duration_ms", "bytes", "address", "level", "timestamp",
]
SECRET = "secret123"

Seen = list[tuple[str, str | None, str | None]]


def record(mw: Any) -> Seen:
    """Add an inner engine member recording each finished request (method, transport, sid)
    from its ``on_end`` hook: a WebSocket's ends when it closed (its ``call_next`` returns
    at its 101)."""
    seen: Seen = []

    def finished(request: Request) -> None:
        seen.append((request.method, request.transport, request.sid))

    async def recorder(request: Request, call_next: Any) -> None:
        request.on_end(finished)
        await call_next()

    mw.engine.use(recorder, priority=0, preflight=True)
    return seen


def refuse_handshakes(mw: Any) -> None:
    """Add an engine member refusing every handshake: 401, code invalid_token."""

    async def check(request: Request, call_next: Any) -> None:
        if request.is_handshake:
            raise Refusal("no", {"code": "invalid_token"}, status=401)
        await call_next()

    mw.engine.use(check, name="check")


def assert_line_shape(line: dict[str, Any]) -> None:
    """Every http line has the keys in order, with their types."""
    assert list(line) == HTTP_KEYS
    assert line["path"] == "/socket.io/"
    assert line["method"] in ("GET", "POST", "OPTIONS")
    assert line["transport"] in ("polling", "websocket", None)
    assert line["handshake"] is (line["sid"] is None)
    assert line["upgrade"] is (line["transport"] == "websocket")
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["bytes"] is None or isinstance(line["bytes"], int)
    assert line["address"] == "127.0.0.1"
    status = line["status"]
    warning = line["code"] is not None or (status is not None and status >= 400)
    assert line["level"] == ("warning" if warning else "info")


def same_requests(lines: list[dict[str, Any]], seen: Seen) -> None:
    """The lines are one per recorded request."""
    logged = sorted((x["method"], x["transport"], x["sid"] or "") for x in lines)
    assert logged == sorted((m, t, s or "") for m, t, s in seen)


async def test_polling_one_line_per_request_python(tmp_path: Path) -> None:
    """Python client over polling: one line per request (handshake, long-polls, POSTs)."""
    log = tmp_path / "siomw.log"
    async with engine_server(log) as (url, mw):
        seen = record(mw)
        outcome, _, client = await connect_result(url, transports=["polling"])
        assert outcome == "connect"
        await close_client(client)  # the pending long-poll ends when the server stops
    lines = http_lines(log)
    for line in lines:
        assert_line_shape(line)
    same_requests(lines, seen)
    handshake = lines[0]
    assert (handshake["method"], handshake["handshake"], handshake["status"]) == (
        "GET", True, 200)
    assert handshake["bytes"] > 0 and handshake["query"] is None
    sid = lines[1]["sid"]
    assert sid and all(x["sid"] == sid for x in lines[1:])
    assert {x["method"] for x in lines} == {"GET", "POST"}


@requires_js
@pytest.mark.parametrize("kind", KINDS)
async def test_default_transports_one_line_per_request_js(tmp_path: Path, kind: str) -> None:
    """JS client (polling, then upgrade): every request logged once, the upgrade with 101
    (both server kinds)."""
    log = tmp_path / "siomw.log"
    async with engine_server(log, kind=kind) as (url, mw):
        seen = record(mw)
        observed = await js_client(url)
        assert observed[0]["event"] == "connect"
        await wait_for(log, lambda line: line["event"] == "disconnect")
    lines = http_lines(log)
    for line in lines:
        assert_line_shape(line)
    same_requests(lines, seen)
    [upgrade] = [x for x in lines if x["upgrade"]]
    assert (upgrade["status"], upgrade["handshake"], upgrade["bytes"]) == (101, False, None)
    assert upgrade["sid"] == lines[0]["sid"] or lines[0]["handshake"]


@pytest.mark.parametrize("client", ["python", pytest.param("js", marks=requires_js)])
async def test_websocket_line_written_at_accept(tmp_path: Path, client: str) -> None:
    """A WebSocket request is logged when answered (101), while the connection is open."""
    log = tmp_path / "siomw.log"
    async with engine_server(log) as (url, mw):
        seen = record(mw)
        if client == "python":
            outcome, _, sio_client = await connect_result(url, transports=["websocket"])
            assert outcome == "connect"
            [line] = await wait_for(log, lambda x: x["event"] == "http")
            assert seen == []  # logged before the request (the connection) ended
            await sio_client.disconnect()
        else:
            await js_client(url, transports=["websocket"])
            [line] = await wait_for(log, lambda x: x["event"] == "http")
        await wait_for(log, lambda x: x["event"] == "disconnect")
    assert_line_shape(line)
    assert (line["method"], line["status"], line["bytes"], line["code"]) == (
        "GET", 101, None, None)
    assert (line["handshake"], line["upgrade"], line["transport"]) == (True, True, "websocket")
    assert line["duration_ms"] < 1000
    assert [x["event"] for x in read_lines(log)] == ["http", "connect", "disconnect"]


@pytest.mark.parametrize(
    ("client", "transport"),
    [("python", "polling"), ("python", "websocket"),
     pytest.param("js", "polling", marks=requires_js),
     pytest.param("js", "websocket", marks=requires_js)],
)
@pytest.mark.parametrize("kind", KINDS)
async def test_refused_handshake_logged_with_status_and_code(
    tmp_path: Path, client: str, transport: str, kind: str
) -> None:
    """An engine refusal (401 invalid_token) is one warning line with its status and code
    (both server kinds; each kind's python client)."""
    log = tmp_path / "siomw.log"
    async with engine_server(log, kind=kind) as (url, mw):
        refuse_handshakes(mw)
        if client == "python":
            outcome, data = await connect_outcome(kind, url, transports=[transport])
            assert outcome == "connect_error"
            if transport == "polling":
                assert data == {"message": "no", "data": {"code": "invalid_token"}}
            else:
                assert data == "Connection error"
        else:
            obs = await js_outcome(url, transports=[transport])
            assert obs["event"] == "connect_error"
            if transport == "polling":
                assert (obs["message"], obs["description"]) == ("xhr poll error", 401)
            else:
                assert obs["message"] == "websocket error"
        [line] = await wait_for(log, lambda x: x["event"] == "http")
    assert_line_shape(line)
    assert (line["status"], line["code"], line["level"], line["bytes"]) == (
        401, "invalid_token", "warning", None)
    assert (line["handshake"], line["transport"]) == (True, transport)
    assert connects(log) == []


async def test_refusal_raw_response_and_line(tmp_path: Path) -> None:
    """The line's status is the one the client got (raw HTTP check)."""
    log = tmp_path / "siomw.log"
    async with engine_server(log) as (url, mw):
        refuse_handshakes(mw)
        async with aiohttp.ClientSession() as session, session.get(
            f"{url}/socket.io/?EIO=4&transport=polling"
        ) as response:
            assert response.status == 401
            assert await response.json() == {"message": "no", "data": {"code": "invalid_token"}}
        [line] = await wait_for(log, lambda x: x["event"] == "http")
    assert (line["status"], line["code"]) == (401, "invalid_token")


async def test_asgi_member_answer_is_logged(tmp_path: Path) -> None:
    """A request answered by an inner ASGI middleware (TrustedHost's 400) logs its status,
    code "answered" and body size."""
    log = tmp_path / "siomw.log"
    async with engine_server(log) as (url, mw):
        mw.engine.use_asgi(TrustedHostMiddleware, name="hosts", allowed_hosts=["example.com"])
        async with aiohttp.ClientSession() as session, session.get(
            f"{url}/socket.io/?EIO=4&transport=polling"
        ) as response:
            body = await response.read()
            assert response.status == 400
        [line] = await wait_for(log, lambda x: x["event"] == "http")
    assert (line["status"], line["code"], line["bytes"]) == (400, "answered", len(body))


async def test_engine_error_status_is_a_warning(tmp_path: Path) -> None:
    """A 4xx answered by the engine itself (unknown sid) is a warning line without code."""
    log = tmp_path / "siomw.log"
    async with engine_server(log) as (url, _), aiohttp.ClientSession() as session:
        async with session.get(f"{url}/socket.io/?EIO=4&transport=polling&sid=nope") as resp:
            assert resp.status == 400
            body = await resp.read()
        [line] = await wait_for(log, lambda x: x["event"] == "http")
    assert_line_shape(line)
    assert (line["status"], line["code"], line["level"], line["sid"]) == (
        400, None, "warning", "nope")
    assert line["bytes"] == len(body)


async def test_preflight_logged(tmp_path: Path) -> None:
    """A CORS preflight (OPTIONS) is logged, though members without preflight=True skip it."""
    log = tmp_path / "siomw.log"
    ran: list[str] = []
    async with engine_server(log, server={"cors_allowed_origins": "*"}) as (url, mw):

        @mw.engine.use
        async def app_member(request: Request, call_next: Any) -> None:
            ran.append(request.method)
            await call_next()

        async with aiohttp.ClientSession() as session, session.options(
            f"{url}/socket.io/?EIO=4&transport=polling",
            headers={"Origin": "http://app.example", "Access-Control-Request-Method": "GET"},
        ) as response:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == "http://app.example"
        [line] = await wait_for(log, lambda x: x["event"] == "http")
    assert ran == []
    assert_line_shape(line)
    assert (line["method"], line["status"], line["handshake"], line["level"]) == (
        "OPTIONS", 200, True, "info")


@pytest.mark.parametrize("client", ["python", pytest.param("js", marks=requires_js)])
@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_secrets_in_query_and_headers_never_logged(
    tmp_path: Path, client: str, transport: str
) -> None:
    """?token=secret123 is shown as "[redacted]"; Authorization, Cookie, Proxy-Authorization
    and a Set-Cookie the app sends never appear."""
    log = tmp_path / "siomw.log"
    headers = {
        "Authorization": f"Bearer auth-{SECRET}",
        "Cookie": f"session=cookie-{SECRET}",
        "Proxy-Authorization": f"Basic proxy-{SECRET}",
    }
    query = f"token={SECRET}&access_token=a-{SECRET}&refresh-token=r-{SECRET}&room=lobby"
    async with engine_server(log) as (url, mw):

        @mw.engine.use
        async def set_cookie(request: Request, call_next: Any) -> None:
            request.response_headers.append(("Set-Cookie", f"session=set-{SECRET}"))
            await call_next()

        if client == "python":
            outcome, _, sio_client = await connect_result(
                f"{url}/?{query}", headers=headers, transports=[transport])
            assert outcome == "connect"
            await close_client(sio_client)  # pending long-polls end when the server stops
        else:
            obs = await js_outcome(f"{url}/?{query}", extraHeaders=headers,
                                   transports=[transport])
            assert obs["event"] == "connect"
    lines = http_lines(log)
    assert lines
    for line in lines:
        assert line["query"] == {"token": "[redacted]", "access_token": "[redacted]",
                                 "refresh-token": "[redacted]", "room": "lobby"}
    text = log.read_text()
    assert SECRET not in text
    for word in ("Bearer", "Basic", "cookie", "Cookie", "authorization"):
        assert word not in text


async def test_redact_params_option(tmp_path: Path) -> None:
    """Names in redact_params are redacted too, case-insensitively, "-" read as "_"."""
    log = tmp_path / "siomw.log"
    async with engine_server(log, redact_params=["Room", "tenant_id"]) as (url, _):
        outcome, _, client = await connect_result(
            f"{url}/?room=lobby&TENANT-ID=acme&lang=fr", transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        [line] = await wait_for(log, lambda x: x["event"] == "http")
    assert line["query"] == {"room": "[redacted]", "TENANT-ID": "[redacted]", "lang": "fr"}


async def test_hostile_query_one_bounded_line(tmp_path: Path) -> None:
    """Huge, numerous, newline-bearing query parameters give one bounded, well-formed line."""
    log = tmp_path / "siomw.log"
    params = [f"p{i}=v{i}" for i in range(40)]
    query = "&".join(
        ["big=" + "x" * 4000, "nl=%0A%7B%22event%22%3A%22forged%22%7D", "k" * 300 + "=1",
         "%FF%FE=bytes", *params])
    async with engine_server(log) as (url, _), aiohttp.ClientSession() as session:
        async with session.get(f"{url}/socket.io/?EIO=4&transport=polling&{query}") as resp:
            assert resp.status == 200
        [line] = await wait_for(log, lambda x: x["event"] == "http")
    assert len(log.read_text().splitlines()) == 1
    shown = line["query"]
    assert shown["big"] == "x" * 128 + "..."
    assert shown["nl"] == '\n{"event":"forged"}'
    assert "k" * 128 + "..." in shown
    assert len(shown) == 17 and shown["..."] == "28 more"
    assert len(log.read_text()) < 2000


async def test_level_warning_logs_only_problems(tmp_path: Path) -> None:
    """level = "warning": no line for answered requests; refusals and 4xx are logged."""
    log = tmp_path / "siomw.log"
    async with engine_server(log, level="warning") as (url, mw):
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        async with aiohttp.ClientSession() as session, session.get(
            f"{url}/socket.io/?EIO=4&transport=polling&sid=nope"
        ) as resp:
            assert resp.status == 400
        refuse_handshakes(mw)
        outcome, _, _ = await connect_result(url, transports=["websocket"])
        assert outcome == "connect_error"
        await wait_for(log, lambda x: x.get("code") == "invalid_token")
    lines = read_lines(log)
    assert [(x["event"], x["status"], x["code"]) for x in lines] == [
        ("http", 400, None), ("http", 401, "invalid_token")]
    assert {x["level"] for x in lines} == {"warning"}


async def test_access_log_off(tmp_path: Path) -> None:
    """access_log = false: no engine member, no http line; connect lines still written."""
    log = tmp_path / "siomw.log"
    async with engine_server(log, access_log=False) as (url, mw):
        assert mw.describe()["engine"] == []
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        await wait_for(log, lambda x: x["event"] == "disconnect")
    assert http_lines(log) == []
    assert len(connects(log)) == 1


async def test_outermost_engine_member(tmp_path: Path) -> None:
    """"logging-http" (priority 3000, preflight) is first in the engine chain."""
    async with engine_server(tmp_path / "siomw.log") as (_, mw):
        refuse_handshakes(mw)
        mw.engine.use_asgi(TrustedHostMiddleware, name="hosts", priority=2999,
                           allowed_hosts=["*"])
        chain = mw.describe()["engine"]
        assert [(m["name"], m["priority"], m["plugin"]) for m in chain] == [
            ("logging-http", 3000, "logging"), ("hosts", 2999, None), ("check", 0, None)]
        assert [m.name for m in mw.engine_chain(preflight=True)] == ["logging-http", "hosts"]


async def test_cancelled_request_is_logged(tmp_path: Path) -> None:
    """A request cancelled before its response (server shutdown) is logged with status
    null, and the cancellation propagates."""
    log = tmp_path / "siomw.log"
    release = asyncio.Event()
    async with engine_server(log) as (url, mw):

        @mw.engine.use
        async def stall(request: Request, call_next: Any) -> None:
            await release.wait()  # never set: the server's shutdown cancels it

        async with aiohttp.ClientSession() as session:
            request = asyncio.create_task(
                session.get(f"{url}/socket.io/?EIO=4&transport=polling"))
            await asyncio.sleep(0.2)
        request.cancel()
    [line] = http_lines(log)
    assert (line["status"], line["code"], line["bytes"], line["level"]) == (
        None, None, None, "info")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
async def test_full_disk_does_not_fail_requests(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An http line that cannot be written is reported on stdlib; the client connects."""
    async with engine_server(Path("/dev/full")) as (url, _):
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
    assert "could not write an http line" in caplog.text


async def test_jwt_engine_refusal_logged_and_token_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the jwt plugin's handshake check: a bad ?token= is one 401 invalid_token line, a
    good one connects; neither token appears."""
    siomw_jwt = pytest.importorskip("siomw_jwt")
    secret = "logging-suite-secret-0123456789-0123456789-0123456789-abcdef"
    monkeypatch.setenv("SIOMW_JWT_SECRET", secret)
    good = pyjwt.encode({"sub": "alice", "exp": int(time.time()) + 600}, secret, "HS256")
    bad = pyjwt.encode({"sub": "mallory", "exp": int(time.time()) + 600}, "x" * 64, "HS256")
    log = tmp_path / "siomw.log"
    sio = socketio.AsyncServer(async_mode="asgi")
    config = Config(source="test", core=CoreSettings(), tables={
        "logging": {"file": str(log)}, "jwt": {"handshake": True, "query_param": "token"}})
    mw = attach(sio, config=config, entry_points=False,
                local_plugins=[("logging", siomw_logging), ("jwt", siomw_jwt)])
    assert [m["name"] for m in mw.describe()["engine"]] == ["logging-http", "jwt-handshake"]
    async with serve(mw.asgi_app()) as url:
        outcome, data, _ = await connect_result(f"{url}/?token={bad}", transports=["polling"])
        assert outcome == "connect_error" and data["data"]["code"] == "invalid_token"
        outcome, _, client = await connect_result(f"{url}/?token={good}",
                                                  transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        await wait_for(log, lambda x: x["event"] == "disconnect")
    refused, accepted = http_lines(log)
    assert (refused["status"], refused["code"], refused["level"]) == (
        401, "invalid_token", "warning")
    assert (accepted["status"], accepted["upgrade"]) == (101, True)
    assert refused["query"] == accepted["query"] == {"token": "[redacted]"}
    text = log.read_text()
    assert good not in text and bad not in text
    assert good.split(".")[1] not in text and bad.split(".")[2] not in text
