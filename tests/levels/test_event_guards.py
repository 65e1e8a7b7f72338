"""The event level's guards: malformed EVENT packets, ``event.args`` assignments,
``event.reply()`` misuse and members registered with the wrong shape."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import socketio

import siomw_core
from siomw_core import CallNext, Event, Middleware
from siomw_core.config import Config, CoreSettings
from siomw_core.testing import serve
from tests.levels.test_connect import RawClient, eventually
from tests.levels.test_event import INTERNAL, client, make

INVALID = {"message": "Invalid event name", "data": {"code": "invalid_event"}}


# --- malformed EVENT packets (sent as raw Socket.IO frames) --------------------------------


@pytest.mark.parametrize(("frame", "reason"), [
    ('27"abc"', "its data is 'abc' (str), not a list"),
    ("27[]", "its data is an empty list (no event name)"),
    ("27{}", "its data is {} (dict), not a list"),
    ('27{"a":1}', "its data is {'a': 1} (dict), not a list"),
    ("27", "its data is None (NoneType), not a list"),
    ('27[123,"x"]', "its event name is 123 (int), not a string"),
    ("27[null]", "its event name is None (NoneType), not a string"),
    ('27[["a","b"]]', "its event name is ['a', 'b'] (list), not a string"),
    ('27[{"x":1}]', "its event name is {'x': 1} (dict), not a string"),
    ('27["connect"]', "its event name 'connect' is reserved (connect, disconnect)"),
    ('27["' + "x" * 300 + '"]', None),  # a well-formed name: handled (the control row)
])
async def test_malformed_event_packets_are_refused_invalid_event(
    caplog: pytest.LogCaptureFixture, frame: str, reason: str | None
) -> None:
    """A packet whose data is not a non-empty list with a string event name first (or
    whose name is reserved) is refused with invalid_event: its ack answered with the
    error, no member and no handler (not even the catch-all) sees it, one WARNING line
    with sid and namespace, and no traceback anywhere (python-socketio would raise
    IndexError / KeyError reading data[0], or run '"abc"' as event "a")."""
    sio, mw = make()
    seen: list[Any] = []

    @mw.event.use
    async def record(event: Event, call_next: CallNext) -> None:
        seen.append(("member", event.name))
        await call_next()

    @sio.on("*")
    async def anything(name: str, sid: str, *args: Any) -> str:
        seen.append(("handler", name, args))
        return "handled"

    async with serve(mw.asgi_app()) as url:
        raw = RawClient()
        await raw.open(url)
        try:
            await raw.send("0")
            assert (await raw.receive()).packet_type == 0  # CONNECT
            with caplog.at_level(logging.INFO):
                await raw.send(frame)
                answer = await raw.receive()
        finally:
            await raw.close()
    assert (answer.packet_type, answer.id) == (3, 7)  # ACK 7
    if reason is None:
        assert answer.data == ["handled"]
        assert seen == [("member", "x" * 300), ("handler", "x" * 300, ())]
        return
    assert answer.data == [{"error": INVALID}]
    assert seen == []
    lines = [r for r in caplog.records if "refused (invalid_event)" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    message = lines[0].getMessage()
    assert message.startswith("siomw: event packet from ")
    assert message.endswith(f" on / refused (invalid_event): {reason}")
    assert [r for r in caplog.records if r.exc_info] == []


async def test_malformed_packet_without_ack_gets_the_error_event() -> None:
    """Without an ack id the refusal is the siomw:error event, "event" null for a packet
    without a string name; the socket stays connected and its next event passes."""
    sio, mw = make()

    @sio.event
    async def echo(sid: str, x: Any) -> Any:
        return x

    errors: list[Any] = []
    async with serve(mw.asgi_app()) as url, client(url) as c:
        c.on("siomw:error", errors.append)
        await c.emit("placeholder")  # the client's own emits are well-formed: go raw
        eio = c.eio
        await eio.send('2"abc"')
        await eio.send("2[]")
        await eio.send('2["disconnect"]')
        await eventually(lambda: len(errors) == 3)
        assert await c.call("echo", "still here", timeout=5) == "still here"
    assert errors == [{"event": None, **INVALID}, {"event": None, **INVALID},
                      {"event": "disconnect", **INVALID}]


# --- event.args ----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "got"), [("xyz", "str 'xyz'"), (None, "NoneType None"),
                                            ({"a": 1}, "dict {'a': 1}")])
async def test_args_assigned_a_non_list_is_the_members_failure(
    caplog: pytest.LogCaptureFixture, value: Any, got: str
) -> None:
    """``event.args = "xyz"`` (or None, a dict) raises TypeError in the member: the client
    gets internal_error, the log names the member (not the handler), the handler never
    runs; a tuple becomes a list."""
    sio, mw = make()
    calls: list[Any] = []

    @mw.event.use
    async def rewrite(event: Event, call_next: CallNext) -> None:
        event.args = value if event.name == "bad" else ("a", "b")
        assert type(event.args) is list
        await call_next()

    @sio.on("*")
    async def anything(name: str, sid: str, *args: Any) -> list[Any]:
        calls.append(args)
        return list(args)

    async with serve(mw.asgi_app()) as url, client(url) as c:
        with caplog.at_level(logging.ERROR, logger="siomw"):
            assert await c.call("bad", 1, timeout=5) == {"error": INTERNAL}
        assert await c.call("good", 1, timeout=5) == ["a", "b"]
    assert calls == [("a", "b")]
    [record] = [r for r in caplog.records if "raised" in r.getMessage()]
    assert record.getMessage().startswith("siomw: middleware 'rewrite' raised for <Event 'bad'")
    assert record.exc_info is not None and record.exc_info[0] is TypeError
    assert str(record.exc_info[1]) == (
        f"event.args must be a list (or a tuple) of the handler's arguments; got {got}")


# --- event.reply() misuse ------------------------------------------------------------------


async def test_reply_then_call_next_refuses_and_names_the_chain(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """reply() then call_next(): the handler is not run (its value cannot replace the
    reply silently), the client gets internal_error, the log names the event and the
    chain's members."""
    sio, mw = make()
    calls: list[str] = []

    @mw.event.use
    async def outer(event: Event, call_next: CallNext) -> None:
        await call_next()

    @mw.event.use
    async def answers_then_goes_on(event: Event, call_next: CallNext) -> None:
        event.reply("from the member")
        await call_next()

    @sio.event
    async def ask(sid: str) -> str:
        calls.append(sid)
        return "from the handler"

    async with serve(mw.asgi_app()) as url, client(url) as c:
        with caplog.at_level(logging.ERROR, logger="siomw"):
            assert await c.call("ask", timeout=5) == {"error": INTERNAL}
        assert c.connected
    assert calls == []
    [line] = [r.getMessage() for r in caplog.records if "event.reply()" in r.getMessage()]
    assert line.startswith("siomw: a middleware called event.reply() and then call_next() "
                           "for <Event 'ask' sid=")
    assert "(chain: 'answers_then_goes_on', 'outer'): after reply()" in line
    assert line.endswith("the handler was not run; refusing with internal_error")


@pytest.mark.parametrize("misuse", ["twice", "after_handler"])
async def test_second_reply_or_reply_after_the_handler_is_a_runtime_error(
    caplog: pytest.LogCaptureFixture, misuse: str
) -> None:
    """A second reply(), or a reply() after the handler ran, raises RuntimeError in the
    member: internal_error, logged with the member's name (the first answer is not
    replaced silently)."""
    sio, mw = make()

    @mw.event.use
    async def replier(event: Event, call_next: CallNext) -> None:
        if misuse == "twice":
            event.reply(1)
            event.reply(2)
            return
        await call_next()
        event.reply("late")

    @sio.event
    async def ask(sid: str) -> str:
        return "handler"

    async with serve(mw.asgi_app()) as url, client(url) as c:
        with caplog.at_level(logging.ERROR, logger="siomw"):
            assert await c.call("ask", timeout=5) == {"error": INTERNAL}
    [record] = [r for r in caplog.records if "raised" in r.getMessage()]
    assert record.getMessage().startswith("siomw: middleware 'replier' raised for <Event 'ask'")
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    text = str(record.exc_info[1])
    if misuse == "twice":
        assert text.startswith("event.reply() called twice for <Event 'ask'")
        assert text.endswith("an event is answered once (the first reply was 1)")
    else:
        assert text.endswith("after its handler ran: the handler's return value answers it")


async def test_second_call_next_after_the_handler_ran_is_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A member calling call_next() twice: the handler ran once, and the member failed
    (internal_error, logged with its name) although the handler already ran."""
    sio, mw = make()
    calls: list[str] = []

    @mw.event.use
    async def twice(event: Event, call_next: CallNext) -> None:
        await call_next()
        await call_next()

    @sio.event
    async def ask(sid: str) -> str:
        calls.append(sid)
        return "handler"

    async with serve(mw.asgi_app()) as url, client(url) as c:
        with caplog.at_level(logging.ERROR, logger="siomw"):
            assert await c.call("ask", timeout=5) == {"error": INTERNAL}
    assert len(calls) == 1
    [record] = [r for r in caplog.records if "raised" in r.getMessage()]
    assert record.getMessage().startswith("siomw: middleware 'twice' raised")
    assert str(record.exc_info[1]) == "middleware 'twice' called call_next() twice"  # type: ignore[index]


# --- registration --------------------------------------------------------------------------


async def one_arg(event: Event) -> None:
    return None


async def three_args(event: Event, call_next: CallNext, extra: int) -> None:
    return None


async def keyword_extra(event: Event, call_next: CallNext, *, extra: int = 0) -> None:
    return None


def sync_member(subject: Any, call_next: CallNext) -> None:
    return None


def test_event_use_checks_two_positional_arguments() -> None:
    """mw.event.use / mw.use / mw.engine.use / Middleware(...) refuse a callable that
    cannot take (subject, call_next), at registration, naming it and the level's shape."""
    _, mw = make()
    with pytest.raises(TypeError) as info:
        mw.event.use(one_arg)  # type: ignore[arg-type]
    assert str(info.value) == (
        "middleware 'one_arg': func must take two positional arguments (async def "
        "one_arg(event, call_next)); it is one_arg(event: 'Event') -> 'None'")
    with pytest.raises(TypeError) as info:
        mw.use(three_args)  # type: ignore[arg-type]
    assert str(info.value).startswith(
        "middleware 'three_args': func must take two positional arguments (async def "
        "three_args(socket, call_next)); it is three_args(event: 'Event', ")
    with pytest.raises(TypeError) as info:
        mw.engine.use(one_arg)  # type: ignore[arg-type]
    assert "(async def one_arg(request, call_next))" in str(info.value)
    mw.event.use(keyword_extra)  # a keyword-only extra with a default is callable so

    class Callable2:
        async def __call__(self, event: Event, call_next: CallNext) -> None:
            await call_next()

    class Callable1:
        async def __call__(self, event: Event) -> None:
            return None

    Middleware(name="ok", func=Callable2(), level="event")
    with pytest.raises(TypeError, match="'bad': func must take two positional"):
        Middleware(name="bad", func=Callable1(), level="event")  # type: ignore[arg-type]


@pytest.mark.parametrize(("level", "shape"), [
    ("event", "async def sync_member(event, call_next)"),
    ("connect", "async def sync_member(socket, call_next)"),
    ("engine", "async def sync_member(request, call_next)"),
])
def test_a_sync_member_on_an_async_server_is_shown_its_levels_signature(
        level: str, shape: str) -> None:
    """A plain (sync) function is a member for sync servers; added to an AsyncServer's
    stack it is a TypeError showing the level's own async signature, and nothing is added."""
    spec = Middleware(name="sync_member", func=sync_member, level=level)  # type: ignore[arg-type]
    assert spec.blocking
    mw = siomw_core.attach(socketio.AsyncServer(async_mode="asgi"),
                           config=Config(source="test", core=CoreSettings()),
                           entry_points=False)
    with pytest.raises(TypeError) as info:
        mw.add(spec)
    assert str(info.value) == (
        "middleware 'sync_member' (your code) is a plain def, but AsyncServer runs an event "
        f"loop it would block: write {shape} (plain def middlewares are for a sync "
        "socketio.Server)")
    assert mw.members(level) == []  # type: ignore[arg-type]
