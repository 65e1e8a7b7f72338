"""The connect and event levels on a sync ``socketio.Server`` (threading, Werkzeug): the
promises of DESIGN.md with plain ``def`` middlewares, seen by the JS client and python-
socketio's sync client. The cross-kind suite (every kind, every level, the bundled plugins)
is ``tests/interop``; this file holds what is particular to driving the chain without a
loop: deadlines, a coroutine member that suspends, pending sockets and other threads."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest
import socketio

import siomw_core
from siomw_core import Event, Refusal, Socket
from siomw_core.config import Config, CoreSettings
from tests.jsclient import js_available, js_client, js_outcome
from tests.levels.test_connect import eventually
from tests.sync_server import running_sync

pytestmark = pytest.mark.skipif(not js_available(), reason="node and tests/js not installed")

TIMEOUT = {"code": "middleware_timeout"}


def make(**core: Any) -> tuple[socketio.Server, siomw_core.Siomw]:
    sio = socketio.Server(async_mode="threading")
    mw = siomw_core.attach(sio, config=Config(source="test", core=CoreSettings(**core)),
                           entry_points=False)
    return sio, mw


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_plain_def_members_refuse_and_accept_js(transport: str) -> None:
    """Two plain def members, the second refusing unless the token is right: the JS client
    sees Node's connect_error (message and data); a good token reaches the connect handler
    with what the members stored as the session, and its emit arrives after CONNECT."""
    sio, mw = make()
    seen: list[str] = []

    @mw.use
    def outer(socket: Socket, call_next: Any) -> None:
        seen.append("outer")
        call_next()
        seen.append("outer after")

    @mw.use
    def token(socket: Socket, call_next: Any) -> None:
        if socket.handshake.auth.get("token") != "good":
            raise Refusal("not authorized", {"code": "invalid_token"})
        socket.data["user"] = "ann"
        call_next()

    @sio.event
    def connect(sid: str, environ: Any, auth: Any) -> None:
        sio.emit("hello", sio.get_session(sid)["user"], to=sid)

    with running_sync(sio) as url:
        refused = await js_outcome(url, auth={"token": "bad"}, transports=[transport])
        accepted = await js_client(url, auth={"token": "good"}, transports=[transport],
                                   listen=["hello"], lingerMs=300)
    assert (refused["event"], refused["message"], refused["data"]) == (
        "connect_error", "not authorized", {"code": "invalid_token"})
    assert [o["event"] for o in accepted[:2]] == ["connect", "on"]
    assert accepted[1]["args"] == ["ann"]
    assert seen == ["outer", "outer", "outer after"]


async def test_async_def_member_runs_on_a_sync_server(caplog: pytest.LogCaptureFixture) -> None:
    """A coroutine member that awaits only call_next runs on a sync server (the bundled
    plugins are written so); one that awaits asyncio is refused internal_error, logged with
    its name and the reason, and the server keeps serving."""
    sio, mw = make()

    @mw.use
    async def fine(socket: Socket, call_next: Any) -> None:
        socket.data["by"] = "fine"
        await call_next()

    @mw.of("/sleepy").use
    async def sleepy(socket: Socket, call_next: Any) -> None:
        await asyncio.sleep(0)
        await call_next()

    with caplog.at_level(logging.ERROR, "siomw"), running_sync(sio) as url:
        ok = await js_outcome(url, transports=["websocket"])
        bad = await js_outcome(url, namespace="/sleepy", transports=["websocket"])
        again = await js_outcome(url, transports=["websocket"])
    assert ok["event"] == again["event"] == "connect"
    assert (bad["event"], bad["data"]) == ("connect_error", {"code": "internal_error"})
    failures = [r for r in caplog.records if "raised" in r.getMessage()]
    assert [r.getMessage().split(" raised")[0] for r in failures] == ["siomw: middleware 'sleepy'"]
    exc_info = failures[0].exc_info
    assert exc_info is not None and "awaited None on a sync server" in str(exc_info[1])


async def test_exception_is_internal_error_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    """An exception in a plain def member refuses internal_error (no detail leaks), the
    log names the member, the server keeps serving."""
    sio, mw = make()
    calls = 0

    @mw.use
    def flaky(socket: Socket, call_next: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyError("secret detail")
        call_next()

    with caplog.at_level(logging.ERROR, "siomw"), running_sync(sio) as url:
        first = await js_outcome(url, transports=["polling"])
        second = await js_outcome(url, transports=["polling"])
    assert first == {"event": "connect_error", "message": "Internal server error",
                     "data": {"code": "internal_error"}, "active": False}
    assert second["event"] == "connect"
    assert any("'flaky' raised" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_deadline_answers_at_once_and_discards_what_the_thread_does_later(
        transport: str) -> None:
    """A thread cannot be cancelled: a member still blocked at connect_timeout gets its
    client answered middleware_timeout at the deadline by the runtime's timer, not when it
    returns; when it returns and calls call_next, nothing runs (no connect handler)."""
    sio, mw = make(connect_timeout=0.5)
    released = threading.Event()
    handler_calls: list[str] = []
    returned = threading.Event()

    @mw.use
    def slow(socket: Socket, call_next: Any) -> None:
        released.wait(5)
        try:
            call_next()
        finally:
            returned.set()

    @sio.event
    def connect(sid: str, environ: Any, auth: Any) -> None:
        handler_calls.append(sid)

    with running_sync(sio) as url:
        started = time.monotonic()
        outcome = await js_outcome(url, transports=[transport], timeoutMs=4000)
        answered_after = time.monotonic() - started
        released.set()
        assert await asyncio.to_thread(returned.wait, 5)
    assert (outcome["event"], outcome["data"]) == ("connect_error", TIMEOUT)
    assert answered_after < 4  # the timer answered, not the client's own timeout
    assert handler_calls == []
    assert mw.connect_level.pending == {}


async def test_deadline_checked_when_a_member_returns() -> None:
    """A member that overran the deadline and then calls call_next is refused
    middleware_timeout at that checkpoint (the rest of the chain never runs)."""
    sio, mw = make(connect_timeout=0.2)
    inner: list[str] = []

    @mw.use(priority=10)
    def overrun(socket: Socket, call_next: Any) -> None:
        time.sleep(0.4)
        call_next()

    @mw.use
    def after(socket: Socket, call_next: Any) -> None:
        inner.append(socket.sid)
        call_next()

    with running_sync(sio) as url:
        outcome = await js_outcome(url, transports=["websocket"])
    assert (outcome["event"], outcome["data"]) == ("connect_error", TIMEOUT)
    assert inner == []


async def test_pending_socket_gets_no_broadcast_from_another_thread() -> None:
    """While a socket's chain runs, a broadcast emitted by another thread does not reach it;
    what its own connect handler emits arrives after CONNECT."""
    sio, mw = make()
    in_chain = threading.Event()
    go_on = threading.Event()

    @mw.use
    def hold(socket: Socket, call_next: Any) -> None:
        in_chain.set()
        go_on.wait(5)
        call_next()

    @sio.event
    def connect(sid: str, environ: Any, auth: Any) -> None:
        sio.emit("news", "own", to=sid)

    def broadcaster() -> None:
        if in_chain.wait(5):
            sio.emit("news", "broadcast while pending")
        go_on.set()

    with running_sync(sio) as url:
        thread = threading.Thread(target=broadcaster)
        thread.start()
        seen = await js_client(url, transports=["websocket"], listen=["news"], lingerMs=300)
        thread.join(5)
    news = [o["args"] for o in seen if o["event"] == "on"]
    assert seen[0]["event"] == "connect"
    assert news == [["own"]]


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_event_level_plain_def_member_js(transport: str) -> None:
    """A plain def event member: it refuses one event (the ack gets Node-style
    {"error": {"message", "data"}}), rewrites another's arguments, and the handler's value
    answers the ack."""
    sio, mw = make()

    @mw.event.use
    def guard(event: Event, call_next: Any) -> None:
        if event.name == "forbidden":
            raise Refusal("no", {"code": "forbidden"})
        event.args = [str(a).upper() for a in event.args]
        call_next()

    @sio.on("echo")
    def echo(sid: str, text: str) -> str:
        return f"echo {text}"

    @sio.on("forbidden")
    def forbidden(sid: str) -> str:  # never called
        raise AssertionError("the chain refused it")

    with running_sync(sio) as url:
        seen = await js_client(url, transports=[transport], emits=[
            {"event": "echo", "args": ["hi"]}, {"event": "forbidden", "args": []}])
    acks = [o for o in seen if o["event"] == "ack"]
    assert acks == [
        {"event": "ack", "name": "echo", "args": "echo HI"},
        {"event": "ack", "name": "forbidden",
         "args": {"error": {"message": "no", "data": {"code": "forbidden"}}}},
    ]


def test_python_sync_client_through_the_chain() -> None:
    """python-socketio's own sync client: refused (its ConnectionError), then accepted with
    auth, an event acked through a plain def event member."""
    sio, mw = make()

    @mw.use
    def token(socket: Socket, call_next: Any) -> None:
        if socket.handshake.auth.get("token") != "good":
            raise Refusal("not authorized", {"code": "invalid_token"})
        call_next()

    @mw.event.use
    def count(event: Event, call_next: Any) -> None:
        event.args = [*event.args, "counted"]
        call_next()

    @sio.on("add")
    def add(sid: str, *args: Any) -> list[Any]:
        return list(args)

    with running_sync(sio) as url:
        client = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(url, auth={"token": "bad"}, transports=["websocket"],
                           wait_timeout=5)
        client = socketio.Client(reconnection=False)
        client.connect(url, auth={"token": "good"}, transports=["websocket"], wait_timeout=5)
        try:
            assert client.call("add", 1, timeout=5) == [1, "counted"]
        finally:
            client.disconnect()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_client_leaving_mid_chain_gets_no_handler(transport: str) -> None:
    """A client that leaves while its chain runs: no connect handler and no disconnect
    handler run, nothing stays pending or connected. The attempt runs in a task of its own,
    so the thread that read the CONNECT (a WebSocket's reader) sees the client leave."""
    sio, mw = make()
    in_chain = threading.Event()
    left = threading.Event()
    returned = threading.Event()
    handlers: list[str] = []

    eio_sids: list[str] = []

    @mw.use
    def slow(socket: Socket, call_next: Any) -> None:
        eio_sids.append(socket.eio_sid)
        in_chain.set()
        left.wait(5)
        try:
            call_next()
        finally:
            returned.set()

    @sio.event
    def connect(sid: str, environ: Any, auth: Any) -> None:
        handlers.append("connect")

    @sio.event
    def disconnect(sid: str, reason: Any) -> None:
        handlers.append("disconnect")

    with running_sync(sio) as url:
        # the JS client closes its engine connection 300 ms after it opened (a WebSocket
        # drops; a long-poll client sends Engine.IO's CLOSE, which is what tells a WSGI
        # server: nothing there reports a dropped long-poll before the ping timeout)
        client = asyncio.create_task(js_client(url, transports=[transport], leaveAfterMs=300))
        assert await asyncio.to_thread(in_chain.wait, 5)
        await eventually(lambda: not mw.connect_level.adapter.alive(eio_sids[0]))  # noticed
        left.set()
        assert await asyncio.to_thread(returned.wait, 5)
        seen = await client
        await asyncio.sleep(0.2)
    assert [o["event"] for o in seen] == ["left"]
    assert handlers == []
    assert mw.connect_level.pending == {} and mw.connect_level.sockets == {}
