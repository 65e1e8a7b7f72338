"""The logging plugin's lines, from real servers and real clients (python and JS)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from pathlib import Path
from typing import Any

import pytest
import socketio
import structlog

from siomw_core import CoreSettings, Identity, Refusal, Socket, set_identity
from siomw_core.levels.connect import OVERDUE_GRACE
from siomw_core.testing import connect_result
from tests.conftest import requires_js
from tests.jsclient import js_client, js_outcome
from tests.plugins.kinds import KINDS, client, connect_outcome

from .support import connects, logged_server, read_lines, wait_for

CONNECT_KEYS = {
    "event", "outcome", "code", "message", "sid", "namespace", "address", "transport",
    "user", "duration_ms", "timestamp", "level",
}
DISCONNECT_KEYS = {
    "event", "sid", "namespace", "address", "user", "reason", "connected_s", "timestamp",
    "level",
}


def assert_timestamp(value: str) -> None:
    """ISO 8601 in UTC, as structlog's TimeStamper(fmt="iso", utc=True) writes it."""
    assert value.endswith("Z")
    stamp = datetime.datetime.fromisoformat(value)
    assert stamp.utcoffset() == datetime.timedelta(0)


def assert_millis(value: Any) -> None:
    """A float duration with at most 3 decimals."""
    assert isinstance(value, float) and value >= 0
    assert round(value, 3) == value


@pytest.mark.parametrize("kind", KINDS)
async def test_accepted_line_python_client(tmp_path: Path, kind: str) -> None:
    """An accepted websocket connection writes one info line with sid, address and duration
    (both server kinds)."""
    log = tmp_path / "siomw.log"
    async with logged_server(log, kind=kind) as (url, _):
        async with client(kind, url) as caller:
            sid = caller.client.get_sid("/")
            await wait_for(log, lambda line: line["event"] == "connect")
    [line] = connects(log)
    assert set(line) == CONNECT_KEYS
    assert next(iter(line)) == "event"
    assert line["outcome"] == "accepted"
    assert line["code"] is None and line["message"] is None
    assert line["sid"] == sid
    assert line["namespace"] == "/"
    assert line["address"] == "127.0.0.1"
    assert line["transport"] == "websocket"
    assert line["user"] is None
    assert line["level"] == "info"
    assert_millis(line["duration_ms"])
    assert_timestamp(line["timestamp"])


@requires_js
@pytest.mark.parametrize("kind", KINDS)
async def test_accepted_line_js_client(tmp_path: Path, kind: str) -> None:
    """The JS client's connection (polling first) is logged with its socket id and transport."""
    log = tmp_path / "siomw.log"
    async with logged_server(log, kind=kind) as (url, _):
        obs = await js_outcome(url, namespace="/admin")
        assert obs["event"] == "connect"
        [line] = await wait_for(log, lambda line: line["event"] == "connect")
    assert line["outcome"] == "accepted"
    assert line["sid"] == obs["id"]
    assert line["namespace"] == "/admin"
    assert line["address"] == "127.0.0.1"
    assert line["transport"] == "polling"


async def refuse_invalid_token(socket: Socket, call_next: Any) -> None:
    raise Refusal("no", {"code": "invalid_token"})


@pytest.mark.parametrize("kind", KINDS)
async def test_refused_line_has_code(tmp_path: Path, kind: str) -> None:
    """A refusal by an inner middleware writes one warning line with its code and message
    (both server kinds)."""
    log = tmp_path / "siomw.log"
    async with logged_server(log, kind=kind) as (url, mw):
        mw.use(refuse_invalid_token, namespace=None)
        outcome, data = await connect_outcome(kind, url, namespace="/chat")
        assert outcome == "connect_error"
        assert data == {"message": "no", "data": {"code": "invalid_token"}}
        await wait_for(log, lambda line: line["event"] == "connect")
    [line] = connects(log)
    assert set(line) == CONNECT_KEYS
    assert line["outcome"] == "refused"
    assert line["code"] == "invalid_token"
    assert line["message"] == "no"
    assert line["namespace"] == "/chat"
    assert line["address"] == "127.0.0.1"
    assert line["level"] == "warning"
    assert_millis(line["duration_ms"])
    assert not [x for x in read_lines(log) if x["event"] == "disconnect"]


@requires_js
@pytest.mark.parametrize("kind", KINDS)
async def test_refused_line_js_client(tmp_path: Path, kind: str) -> None:
    """The JS client's refusal is logged once, with the code its connect_error carried."""
    log = tmp_path / "siomw.log"
    async with logged_server(log, kind=kind) as (url, mw):
        mw.use(refuse_invalid_token, namespace=None)
        obs = await js_outcome(url)
        assert obs["event"] == "connect_error"
        assert obs["data"] == {"code": "invalid_token"}
        [line] = await wait_for(log, lambda line: line["event"] == "connect")
    assert (line["outcome"], line["code"], line["transport"]) == (
        "refused", "invalid_token", "polling")


async def test_exception_logged_as_internal_error(tmp_path: Path) -> None:
    """An inner middleware's exception is logged as a refusal with code internal_error."""
    log = tmp_path / "siomw.log"

    async def broken(socket: Socket, call_next: Any) -> None:
        raise ValueError("secret detail that must stay on the server")

    async with logged_server(log) as (url, mw):
        mw.use(broken, namespace=None)
        outcome, data, _ = await connect_result(url, transports=["websocket"])
        assert outcome == "connect_error"
        assert data["data"] == {"code": "internal_error"}
    [line] = connects(log)
    assert (line["outcome"], line["code"], line["level"]) == (
        "refused", "internal_error", "warning")
    assert line["message"] == "Internal server error"
    assert "secret detail" not in log.read_text()


async def test_deadline_logged_as_middleware_timeout(tmp_path: Path) -> None:
    """A chain past connect_timeout is logged as a refusal with code middleware_timeout."""
    log = tmp_path / "siomw.log"

    async def slow(socket: Socket, call_next: Any) -> None:
        await asyncio.sleep(5)

    async with logged_server(log, core=CoreSettings(connect_timeout=0.2)) as (url, mw):
        mw.use(slow, namespace=None)
        outcome, data, _ = await connect_result(url, transports=["websocket"])
        assert outcome == "connect_error"
        assert data["data"] == {"code": "middleware_timeout"}
    [line] = connects(log)
    assert (line["outcome"], line["code"]) == ("refused", "middleware_timeout")
    assert line["duration_ms"] >= 200


@pytest.mark.parametrize("kind", KINDS)
async def test_disconnect_line(tmp_path: Path, kind: str) -> None:
    """A client disconnect writes a line with the reason and the seconds connected (both
    server kinds)."""
    log = tmp_path / "siomw.log"

    async def sign_in(socket: Socket, call_next: Any) -> None:
        set_identity(socket, Identity(sub="alice", scopes=frozenset({"chat"}),
                                      claims={"sub": "alice", "scope": "chat"}))
        await call_next()

    async with logged_server(log, kind=kind) as (url, mw):
        mw.use(sign_in, namespace=None)
        async with client(kind, url) as caller:
            sid = caller.client.get_sid("/")
            await asyncio.sleep(0.1)
        [line] = await wait_for(log, lambda line: line["event"] == "disconnect")
    assert set(line) == DISCONNECT_KEYS
    assert line["sid"] == sid
    assert line["namespace"] == "/"
    assert line["address"] == "127.0.0.1"
    assert line["user"] == "alice"
    # python-socketio reports the DISCONNECT packet or the closing transport, whichever it
    # handles first
    assert line["reason"] in ("client disconnect", "transport close")
    assert line["level"] == "info"
    assert isinstance(line["connected_s"], float)
    assert 0.1 <= line["connected_s"] < 5
    assert round(line["connected_s"], 3) == line["connected_s"]
    [accepted] = connects(log)
    assert accepted["user"] == "alice"


async def test_server_disconnect_reason(tmp_path: Path) -> None:
    """A disconnect by the server is logged with python-socketio's reason "server disconnect"."""
    log = tmp_path / "siomw.log"
    async with logged_server(log) as (url, mw):
        outcome, _, client = await connect_result(url, namespace="/room",
                                                  transports=["websocket"])
        assert outcome == "connect"
        await mw.sio.disconnect(client.get_sid("/room"), namespace="/room")
        [line] = await wait_for(log, lambda line: line["event"] == "disconnect")
        await client.disconnect()
    assert (line["namespace"], line["reason"]) == ("/room", "server disconnect")
    assert line["user"] is None


@requires_js
async def test_disconnect_line_js_client(tmp_path: Path) -> None:
    """A JS client that closes its socket gets a disconnect line with python-socketio's
    reason."""
    log = tmp_path / "siomw.log"
    async with logged_server(log) as (url, _):
        obs = await js_client(url, transports=["websocket"])
        assert obs[0]["event"] == "connect"
        [line] = await wait_for(log, lambda line: line["event"] == "disconnect")
    assert line["sid"] == obs[0]["id"]
    assert line["reason"] in ("client disconnect", "transport close")


@requires_js
async def test_client_leaving_is_abandoned(tmp_path: Path) -> None:
    """A client that leaves while the chain runs is logged as abandoned, not refused."""
    log = tmp_path / "siomw.log"

    async def slow(socket: Socket, call_next: Any) -> None:
        await asyncio.sleep(0.6)
        await call_next()

    async with logged_server(log) as (url, mw):
        mw.use(slow, namespace=None)
        obs = await js_client(url, transports=["websocket"], leaveAfterMs=50)
        assert [o["event"] for o in obs] == ["left"]
        [line] = await wait_for(log, lambda line: line["event"] == "connect")
        await asyncio.sleep(0.1)
    assert line["outcome"] == "abandoned"
    assert line["code"] == "client_gone"
    assert line["level"] == "info"
    assert [x["event"] for x in read_lines(log)] == ["connect"]


async def test_one_line_per_attempt(tmp_path: Path) -> None:
    """Each attempt, accepted or refused, writes exactly one connect line."""
    log = tmp_path / "siomw.log"

    async def refuse_admin(socket: Socket, call_next: Any) -> None:
        if socket.namespace == "/admin":
            raise Refusal("admins only", {"code": "insufficient_scope"})
        await call_next()

    async with logged_server(log) as (url, mw):
        mw.use(refuse_admin, namespace=None)
        for namespace in ("/", "/admin", "/", "/admin"):
            outcome, _, client = await connect_result(url, namespace=namespace,
                                                      transports=["websocket"])
            if outcome == "connect":
                await client.disconnect()
        await wait_for(log, lambda line: line["event"] == "disconnect", count=2)
    outcomes = [(x["namespace"], x["outcome"]) for x in connects(log)]
    assert outcomes == [("/", "accepted"), ("/admin", "refused")] * 2
    assert len({x["sid"] for x in connects(log)}) == 4


async def test_level_warning_logs_refusals_only(tmp_path: Path) -> None:
    """level = "warning" writes refusals and nothing for accepted connections or
    disconnects."""
    log = tmp_path / "siomw.log"
    async with logged_server(log, level="warning") as (url, mw):
        mw.use(refuse_invalid_token, namespace="/private")
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        outcome, _, _ = await connect_result(url, namespace="/private",
                                             transports=["websocket"])
        assert outcome == "connect_error"
        await asyncio.sleep(0.1)
    lines = read_lines(log)
    assert [(x["event"], x["outcome"], x["code"]) for x in lines] == [
        ("connect", "refused", "invalid_token")
    ]


async def test_console_format(tmp_path: Path) -> None:
    """format = "console" writes structlog's key=value lines without colour codes."""
    log = tmp_path / "siomw.log"
    async with logged_server(log, format="console") as (url, mw):
        mw.use(refuse_invalid_token, namespace="/private")
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        await wait_for_text(log, "disconnect")
        await connect_result(url, namespace="/private", transports=["websocket"])
        await wait_for_text(log, "warning")
    lines = log.read_text().splitlines()
    assert len(lines) == 3
    accepted, disconnect, refused = lines
    assert "[info" in accepted and "connect" in accepted
    assert "outcome=accepted" in accepted and "address=127.0.0.1" in accepted
    assert "disconnect" in disconnect and "reason=" in disconnect
    assert "[warning" in refused and "code=invalid_token" in refused
    assert "\x1b[" not in log.read_text()
    assert not lines[0].startswith("{")


async def test_structlog_stays_unconfigured(tmp_path: Path) -> None:
    """The plugin never configures structlog: is_configured() stays False and the global
    config is untouched."""
    before = structlog.get_config()
    assert not structlog.is_configured()
    log = tmp_path / "siomw.log"
    async with logged_server(log, format="console") as (url, _):
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        await wait_for_text(log, "disconnect")
    assert not structlog.is_configured()
    assert structlog.get_config() == before


async def wait_for_text(path: Path, text: str) -> None:
    """Wait (bounded) until ``text`` appears in ``path``."""
    for _ in range(250):
        if path.exists() and text in path.read_text():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{text!r} never appeared in {path}")


async def test_handler_failing_after_the_client_left_is_abandoned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A connect handler whose save_session fails because the client left (KeyError
    'Session not found') is logged as abandoned, client_gone, with no ERROR anywhere."""
    log = tmp_path / "siomw.log"
    inside = asyncio.Event()
    release = asyncio.Event()
    async with logged_server(log) as (url, mw):
        sio = mw.sio

        @sio.on("connect", namespace="/app")
        async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
            inside.set()
            await release.wait()
            await sio.save_session(sid, {"user": "alice"}, namespace="/app")

        client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        connecting = asyncio.create_task(client.connect(
            url, namespaces=["/app"], transports=["websocket"], wait_timeout=5))
        await asyncio.wait_for(inside.wait(), 5)
        await client.eio.disconnect(abort=True)
        for _ in range(250):
            if not sio.eio.sockets:
                break
            await asyncio.sleep(0.02)
        release.set()
        [line] = await wait_for(log, lambda line: line["event"] == "connect")
        connecting.cancel()
        with contextlib.suppress(BaseException):
            await connecting
    assert (line["outcome"], line["code"], line["level"]) == ("abandoned", "client_gone", "info")
    assert line["namespace"] == "/app"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("late", [0.1, OVERDUE_GRACE + 0.3])
async def test_swallowed_deadline_is_logged_as_middleware_timeout(
    tmp_path: Path, late: float
) -> None:
    """A middleware that swallows the deadline's cancel and calls call_next later (within
    the grace, or after the core refused it from outside) is logged as refused,
    middleware_timeout: what the client got, not an abandoned client_gone."""
    log = tmp_path / "siomw.log"

    async def stubborn(socket: Socket, call_next: Any) -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            await asyncio.sleep(late)  # ignores the cancel
        await call_next()

    async with logged_server(log, core=CoreSettings(connect_timeout=0.2)) as (url, mw):
        mw.use(stubborn, namespace=None)
        outcome, data, _ = await connect_result(url, transports=["websocket"])
        assert (outcome, data) == ("connect_error", {
            "message": "Middleware timeout", "data": {"code": "middleware_timeout"}})
        [line] = await wait_for(log, lambda line: line["event"] == "connect")
    assert (line["outcome"], line["code"], line["level"]) == (
        "refused", "middleware_timeout", "warning")
    assert line["message"] == "Middleware timeout"
