"""The event level when things go wrong or get big: exceptions, deadlines, sockets that
leave, binary and 1 MB arguments, requirements nobody enforces, plugins' event members."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import socketio

from siomw_core import (
    CallNext,
    Config,
    CoreSettings,
    Event,
    Middleware,
    Refusal,
    Requirement,
    attach,
    hookimpl,
    require,
)
from siomw_core.testing import serve
from tests.conftest import requires_js
from tests.jsclient import js_client
from tests.levels.test_connect import eventually
from tests.levels.test_event import FAST_PING, INTERNAL, client, make

TIMEOUT = {"message": "Middleware timeout", "data": {"code": "middleware_timeout"}}
MB = 1024 * 1024


async def test_middleware_exception_is_internal_error_and_the_socket_stays(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A member that raises: internal_error in the ack, logged with the member's name and
    the traceback; the socket stays connected and the next event passes."""
    sio, mw = make()

    @mw.event.use
    async def broken(event: Event, call_next: CallNext) -> None:
        if event.args == ["boom"]:
            raise KeyError("boom")
        await call_next()

    @sio.event
    async def echo(sid: str, x: str) -> str:
        return x

    async with serve(mw.asgi_app()) as url, client(url) as c:
        with caplog.at_level(logging.ERROR, logger="siomw"):
            assert await c.call("echo", "boom", timeout=5) == {"error": INTERNAL}
        assert await c.call("echo", "fine", timeout=5) == "fine"
        assert c.connected
    [record] = [r for r in caplog.records if "raised" in r.getMessage()]
    assert record.getMessage().startswith(
        "siomw: middleware 'broken' raised for <Event 'echo' sid=")
    assert record.exc_info is not None and record.exc_info[0] is KeyError


@pytest.mark.parametrize("with_chain", [False, True])
async def test_handler_exception_is_internal_error_with_and_without_a_chain(
    caplog: pytest.LogCaptureFixture, with_chain: bool
) -> None:
    """A handler that raises answers internal_error (ack, or error event without one),
    whether or not the namespace has event members; logged as the event handler."""
    sio, mw = make()
    if with_chain:
        @mw.event.use
        async def passthrough(event: Event, call_next: CallNext) -> None:
            await call_next()

    @sio.event
    async def crash(sid: str) -> None:
        raise ValueError("handler bug")

    errors: list[Any] = []
    async with serve(mw.asgi_app()) as url, client(url) as c:
        c.on("siomw:error", errors.append)
        with caplog.at_level(logging.ERROR, logger="siomw"):
            assert await c.call("crash", timeout=5) == {"error": INTERNAL}
            await c.emit("crash")
            await eventually(lambda: bool(errors))
    assert errors == [{"event": "crash", **INTERNAL}]
    messages = [r.getMessage() for r in caplog.records if r.exc_info]
    assert len(messages) == 2 and all("event handler" in m for m in messages), messages


async def test_deadline_refuses_with_middleware_timeout_and_ignores_the_handlers_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A member past event_timeout: middleware_timeout, logged naming it, the socket
    stays; a handler slower than event_timeout is not cut (the members' time counts)."""
    sio, mw = make(event_timeout=0.3)
    release = asyncio.Event()

    @mw.event.use
    async def slow(event: Event, call_next: CallNext) -> None:
        if event.name == "stuck":
            await release.wait()
        await call_next()

    @sio.event
    async def stuck(sid: str) -> str:
        return "never"

    @sio.event
    async def long_job(sid: str) -> str:
        await asyncio.sleep(0.8)
        return "done"

    async with serve(mw.asgi_app()) as url, client(url) as c:
        with caplog.at_level(logging.ERROR, logger="siomw"):
            assert await c.call("stuck", timeout=5) == {"error": TIMEOUT}
        assert await c.call("long_job", timeout=5) == "done"
        assert c.connected
    assert any("deadline passed while 'slow' was running" in r.getMessage()
               for r in caplog.records)


@pytest.mark.parametrize(("before", "after", "expected"), [
    (0.05, 0.05, "done"), (0.3, 0.3, {"error": TIMEOUT})])
async def test_deadline_counts_the_members_time_before_and_after_a_slow_handler(
    before: float, after: float, expected: Any
) -> None:
    """event_timeout = 0.45: the members' time before and after a 0.6 s handler is what
    counts (0.1 s passes, 0.6 s is refused once the handler returned)."""
    sio, mw = make(event_timeout=0.45)

    @mw.event.use
    async def around(event: Event, call_next: CallNext) -> None:
        await asyncio.sleep(before)
        await call_next()
        await asyncio.sleep(after)

    @sio.event
    async def slow(sid: str) -> str:
        await asyncio.sleep(0.6)
        return "done"

    async with serve(mw.asgi_app()) as url, client(url) as c:
        assert await c.call("slow", timeout=5) == expected
    assert len(mw.event_level.deadlines) == 0


async def test_event_of_a_socket_that_left_is_dropped_without_its_handler() -> None:
    """The socket leaves while a member still runs: the handler is never called and
    nothing is sent; the server keeps serving others."""
    sio, mw = make()
    entered, release = asyncio.Event(), asyncio.Event()
    calls: list[str] = []

    @mw.event.use
    async def waits(event: Event, call_next: CallNext) -> None:
        if event.name == "late":
            entered.set()
            await release.wait()
        await call_next()

    @sio.event
    async def late(sid: str) -> str:
        calls.append("late")
        return "late"

    @sio.event
    async def ping(sid: str) -> str:
        return "pong"

    async with serve(mw.asgi_app()) as url:
        async with client(url) as c:
            await c.emit("late")
            await asyncio.wait_for(entered.wait(), 5)
        await eventually(lambda: not mw.connect_level.sockets)
        release.set()
        await asyncio.sleep(0.1)
        async with client(url) as other:
            assert await other.call("ping", timeout=5) == "pong"
    assert calls == []


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_binary_and_one_megabyte_arguments(transport: str) -> None:
    """bytes and a 1 MB argument pass through a member that reads and rewrites them; the
    handler's bytes reach the ack unchanged."""
    sio, mw = make(socketio.AsyncServer(async_mode="asgi", max_http_buffer_size=4 * MB,
                                        **FAST_PING))
    sizes: list[int] = []

    @mw.event.use
    async def measure(event: Event, call_next: CallNext) -> None:
        sizes.append(sum(len(a) for a in event.args))
        event.args = [a + b"!" if isinstance(a, bytes) else a for a in event.args]
        await call_next()

    @sio.event
    async def store(sid: str, blob: bytes, text: str) -> tuple[bytes, int]:
        return blob, len(text)

    big = bytes(range(256)) * (MB // 256)
    async with serve(mw.asgi_app()) as url, client(url, transport=transport) as c:
        assert await c.call("store", (b"\x00\xff", "x"), timeout=5) == (b"\x00\xff!", 1)
        assert await c.call("store", (big, "y" * MB), timeout=20) == (big + b"!", MB)
    assert sizes == [3, 2 * MB]


@requires_js
async def test_binary_and_one_megabyte_arguments_js() -> None:
    """JS client: a Buffer and a 1 MB string through a member; the ack carries bytes."""
    sio, mw = make(socketio.AsyncServer(async_mode="asgi", max_http_buffer_size=4 * MB,
                                        **FAST_PING))
    seen: list[Any] = []

    @mw.event.use
    async def measure(event: Event, call_next: CallNext) -> None:
        blob, text = event.args
        seen.append((type(blob).__name__, len(blob), blob[:1], len(text)))
        event.args = [blob + b"\x09", text]
        await call_next()

    @sio.event
    async def store(sid: str, blob: bytes, text: str) -> dict[str, Any]:
        return {"blob": blob, "length": len(text)}  # emitWithAck resolves with one value

    async with serve(mw.asgi_app()) as url:
        obs = await js_client(url, timeoutMs=20000, emits=[
            {"event": "store", "args": [{"$bytes": MB, "fill": 7}, {"$string": MB}]}])
    assert {"event": "ack", "name": "store",
            "args": {"blob": {"$bytes": MB + 1, "first": 7, "last": 9}, "length": MB}} in obs, obs
    assert seen == [("bytes", MB, b"\x07", MB)]


@pytest.mark.parametrize("strict", [False, True])
async def test_requirement_without_its_plugin_warns_once_and_strict_refuses(
    caplog: pytest.LogCaptureFixture, strict: bool
) -> None:
    """A handler requiring a plugin that has no member in the event chain: one WARNING
    naming handler, event and plugin (at startup and not again at dispatch); the event
    still runs. strict = true refuses it with internal_error."""
    sio = socketio.AsyncServer(async_mode="asgi", **FAST_PING)

    @sio.event
    async def kick(sid: str) -> str:
        return "kicked"

    require(kick, Requirement("ghost", "scopes", {"scopes": ["admin"]}))
    with caplog.at_level(logging.WARNING, logger="siomw"):
        mw = attach(sio, config=Config(source="test", core=CoreSettings(strict=strict)),
                    entry_points=False)
        mw.check()
        async with serve(mw.asgi_app()) as url, client(url) as c:
            answers = [await c.call("kick", timeout=5) for _ in range(2)]
    warnings = [r.getMessage() for r in caplog.records if "requires plugin" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(
        "siomw: handler tests.levels.test_event_failures."
        "test_requirement_without_its_plugin_warns_once_and_strict_refuses.<locals>.kick "
        "of event 'kick' on / requires plugin 'ghost' (scopes {'scopes': ['admin']})")
    assert answers == ([{"error": INTERNAL}] * 2 if strict else ["kicked"] * 2)


async def test_plugin_event_middleware_runs_and_reads_requirements() -> None:
    """A plugin's Middleware(level="event") runs at the event level (it was accepted and
    never ran before), sees event.requirements of the handler, and its requirement is
    then enforced: no warning."""
    seen: list[Any] = []

    async def enforce(event: Event, call_next: CallNext) -> None:
        mine = [r for r in event.requirements if r.plugin == "gate"]
        seen.append((event.name, [r.describe() for r in mine]))
        if mine and event.socket.handshake.auth.get("pass") != "yes":
            raise Refusal("gate closed", {"code": "gate"})
        await call_next()

    class Gate:
        @hookimpl
        def siomw_middlewares(self, config: Any, settings: Any) -> list[Middleware]:
            return [Middleware(name="gate", func=enforce, level="event", priority=500)]

    sio = socketio.AsyncServer(async_mode="asgi", **FAST_PING)
    mw = attach(sio, config=Config(source="test", core=CoreSettings()), entry_points=False,
                local_plugins=[("gate", Gate())])

    @sio.event
    async def open_door(sid: str) -> str:
        return "open"

    require(open_door, Requirement("gate", "pass", {"needs": "yes"}))

    @sio.event
    async def free(sid: str) -> str:
        return "free"

    async with serve(mw.asgi_app()) as url, client(url, auth={"pass": "no"}) as c:
        assert await c.call("free", timeout=5) == "free"
        assert await c.call("open_door", timeout=5) == {
            "error": {"message": "gate closed", "data": {"code": "gate"}}}
    assert seen == [("free", []),
                    ("open_door", [{"plugin": "gate", "kind": "pass", "needs": "yes"}])]
    assert mw.describe()["event"]["/"][0]["plugin"] == "gate"
    assert mw.describe()["handlers"]["/"]["open_door"] == [
        {"plugin": "gate", "kind": "pass", "needs": "yes", "source": "decorator"}]
