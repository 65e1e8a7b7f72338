"""The ratelimit event middleware: the ``limit`` decorator wherever it is placed, budgets
(per handler, scope, config ``event`` / ``events`` / ``event_key``), refusals as the JS and
python clients see them (memory storage, real servers and clients)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio
from siomw_ratelimit import limit

from siomw_core import CallNext, Identity, Socket, set_identity
from tests.conftest import requires_js
from tests.plugins.kinds import KINDS, new_server

from .events_support import (
    MESSAGE,
    burst,
    client,
    echo_server,
    js_events,
    outcomes,
    refusal_data,
    served,
    with_ratelimit,
)


@pytest.mark.parametrize("kind", KINDS)
async def test_limit_below_sio_on(kind: str) -> None:
    """``@limit`` under ``@sio.on`` (applied first): 2 of 3 pass, the 3rd is rate_limited
    and its handler does not run (both server kinds: a plain def handler serves both)."""
    sio = new_server(kind)
    ran: list[str] = []

    @sio.on("chat message")
    @limit("2/minute")
    def chat(sid: str, text: str) -> str:
        ran.append(text)
        return "ok:chat"

    with_ratelimit(sio, {})
    async with served(sio) as url, client(url, kind=kind) as c:
        replies = [await c.call("chat message", f"m{i}", timeout=5) for i in range(3)]
    assert replies[:2] == ["ok:chat", "ok:chat"]
    refusal_data(replies[2], "2 per 1 minute")
    assert ran == ["m0", "m1"]


async def test_limit_above_sio_event() -> None:
    """``@limit`` over ``@sio.event`` (applied last) limits the same way."""
    sio = socketio.AsyncServer(async_mode="asgi")

    @limit("2/minute")
    @sio.event
    async def chat(sid: str, text: str) -> str:
        return "ok:chat"

    with_ratelimit(sio, {})
    async with served(sio) as url, client(url) as c:
        replies = [await c.call("chat", "x", timeout=5) for _ in range(3)]
    assert replies[:2] == ["ok:chat", "ok:chat"]
    refusal_data(replies[2], "2 per 1 minute")


async def test_limit_on_async_namespace_method() -> None:
    """A limited ``AsyncNamespace`` method; the class's other method is not limited."""

    class Room(socketio.AsyncNamespace):  # type: ignore[misc]
        @limit("1/minute")
        async def on_shout(self, sid: str, text: str) -> str:
            return "ok:shout"

        async def on_talk(self, sid: str, text: str) -> str:
            return "ok:talk"

    sio = socketio.AsyncServer(async_mode="asgi")
    sio.register_namespace(Room("/room"))
    with_ratelimit(sio, {})
    async with served(sio) as url, client(url, namespaces=["/room"]) as c:
        shout = [await c.call("shout", "x", namespace="/room", timeout=5) for _ in range(2)]
        talk = [await c.call("talk", "x", namespace="/room", timeout=5) for _ in range(3)]
    assert shout[0] == "ok:shout"
    refusal_data(shout[1], "1 per 1 minute")
    assert talk == ["ok:talk"] * 3


async def test_budget_is_per_socket_by_default() -> None:
    """key = "sid": a second client has its own budget."""
    sio = socketio.AsyncServer(async_mode="asgi")

    @limit("1/minute")
    @sio.event
    async def ping(sid: str) -> str:
        return "ok:ping"

    with_ratelimit(sio, {})
    async with served(sio) as url, client(url) as first, client(url) as second:
        assert await first.call("ping", timeout=5) == "ok:ping"
        refusal_data(await first.call("ping", timeout=5), "1 per 1 minute")
        assert await second.call("ping", timeout=5) == "ok:ping"


async def test_scope_shares_one_budget() -> None:
    """Two handlers naming scope "chat" share "3/minute"; a third handler has its own."""
    sio = socketio.AsyncServer(async_mode="asgi")

    @limit("3/minute", scope="test-events-chat")
    @sio.event
    async def say(sid: str) -> str:
        return "ok:say"

    @limit("3/minute", scope="test-events-chat")
    @sio.event
    async def whisper(sid: str) -> str:
        return "ok:whisper"

    @limit("3/minute")
    @sio.event
    async def wave(sid: str) -> str:
        return "ok:wave"

    with_ratelimit(sio, {})
    async with served(sio) as url, client(url) as c:
        said = [await c.call(name, timeout=5) for name in ("say", "whisper", "say", "whisper")]
        waved = [await c.call("wave", timeout=5) for _ in range(3)]
    assert said[:3] == ["ok:say", "ok:whisper", "ok:say"]
    refusal_data(said[3], "3 per 1 minute")
    assert waved == ["ok:wave"] * 3


async def test_same_function_name_in_two_namespaces_has_two_budgets() -> None:
    """Two handler functions both named ``send`` (namespaces "/a" and "/b") and one function
    registered for two events: each namespace and event has its own budget."""
    sio = socketio.AsyncServer(async_mode="asgi")

    def register(namespace: str) -> None:
        @sio.on("send", namespace=namespace)
        @limit("1/minute")
        async def send(sid: str) -> str:
            return f"ok:{namespace}"

    register("/a")
    register("/b")

    @limit("1/minute")
    async def shared(sid: str) -> str:
        return "ok:shared"

    sio.on("first", shared)
    sio.on("second", shared)
    with_ratelimit(sio, {})
    async with served(sio) as url, client(url, namespaces=["/", "/a", "/b"]) as c:
        a = [await c.call("send", namespace="/a", timeout=5) for _ in range(2)]
        b = [await c.call("send", namespace="/b", timeout=5) for _ in range(2)]
        first = await c.call("first", timeout=5)
        second = await c.call("second", timeout=5)
    assert a[0] == "ok:/a" and b[0] == "ok:/b"
    refusal_data(a[1], "1 per 1 minute")
    refusal_data(b[1], "1 per 1 minute")
    assert (first, second) == ("ok:shared", "ok:shared")


async def test_catch_all_has_one_budget_whatever_the_event_name() -> None:
    """``@limit("2/minute")`` on ``@sio.on("*")``: three events with three different names
    admit exactly 2 (a new name is not a fresh budget)."""
    sio = socketio.AsyncServer(async_mode="asgi")
    ran: list[str] = []

    @sio.on("*")
    @limit("2/minute")
    async def anything(name: str, sid: str) -> str:
        ran.append(name)
        return f"ok:{name}"

    with_ratelimit(sio, {})
    async with served(sio) as url, client(url) as c:
        replies = [await c.call(name, timeout=5) for name in ("one", "two", "three")]
    assert replies[:2] == ["ok:one", "ok:two"]
    refusal_data(replies[2], "2 per 1 minute")
    assert ran == ["one", "two"]


async def test_namespace_class_for_every_namespace_has_one_budget() -> None:
    """An ``AsyncNamespace`` registered for ``"*"``: its ``@limit("2/minute", key="ip")``
    method is one budget whatever namespace the client names (3 namespaces, 2 admitted;
    ``key="ip"`` since each namespace is a socket of its own sid)."""
    sio = socketio.AsyncServer(async_mode="asgi", namespaces="*")

    class Anywhere(socketio.AsyncNamespace):  # type: ignore[misc]
        @limit("2/minute", key="ip")
        async def on_shout(self, namespace: str, sid: str) -> str:
            return "ok:shout"

    sio.register_namespace(Anywhere("*"))
    with_ratelimit(sio, {})
    names = ["/x", "/y", "/z"]
    async with served(sio) as url, client(url, namespaces=names) as c:
        replies = [await c.call("shout", namespace=name, timeout=5) for name in names]
    assert replies[:2] == ["ok:shout", "ok:shout"]
    refusal_data(replies[2], "2 per 1 minute")


async def test_config_event_limits_every_event() -> None:
    """[ratelimit] event = "3/minute": every event of the socket spends one budget."""
    sio, _ = echo_server({"event": "3/minute"})
    async with served(sio) as url, client(url) as c:
        replies = [await c.call(name, timeout=5) for name in ("echo", "other", "echo", "other")]
    assert replies[:3] == ["ok:echo", "ok:other", "ok:echo"]
    refusal_data(replies[3], "3 per 1 minute")


async def test_config_events_per_name_on_top_of_event() -> None:
    """[ratelimit.events] "echo" = "1/minute" on top of event = "3/minute": echo refused
    at its 2nd, other still passes until the common budget runs out."""
    sio, _ = echo_server({"event": "3/minute", "events": {"echo": "1/minute"}})
    async with served(sio) as url, client(url) as c:
        echo = [await c.call("echo", timeout=5) for _ in range(2)]
        other = [await c.call("other", timeout=5) for _ in range(3)]
    assert echo[0] == "ok:echo"
    refusal_data(echo[1], "1 per 1 minute")
    # the refused echo spent nothing of "3/minute": 1 echo + 2 others fit, the 3rd does not
    assert other[:2] == ["ok:other", "ok:other"]
    refusal_data(other[2], "3 per 1 minute")


async def _identity_from_auth(socket: Socket, call_next: CallNext) -> None:
    auth = socket.handshake.auth
    if isinstance(auth, dict) and "sub" in auth:
        set_identity(socket, Identity(sub=auth["sub"], claims=auth, source="test"))
    await call_next()


async def test_config_event_key_user_shares_across_sockets() -> None:
    """event_key = "user": two sockets of sub "alice" share one budget, bob has his own,
    and an anonymous socket is counted by its own sid."""
    sio, mw = echo_server({"event": "2/minute", "event_key": "user"})
    mw.use(name="jwt", namespace=None)(_identity_from_auth)
    async with served(sio) as url:
        async with client(url, auth={"sub": "alice"}) as a1, \
                client(url, auth={"sub": "alice"}) as a2, \
                client(url, auth={"sub": "bob"}) as bob, \
                client(url) as anon1, client(url) as anon2:
            alice = [await a1.call("echo", timeout=5), await a2.call("echo", timeout=5),
                     await a2.call("echo", timeout=5)]
            bobs = [await bob.call("echo", timeout=5) for _ in range(2)]
            anon = [await anon1.call("echo", timeout=5) for _ in range(2)]
            anon.append(await anon2.call("echo", timeout=5))
    assert alice[:2] == ["ok:echo", "ok:echo"]
    refusal_data(alice[2], "2 per 1 minute")
    assert bobs == ["ok:echo", "ok:echo"]
    assert anon == ["ok:echo", "ok:echo", "ok:echo"]


async def test_decorator_key_ip_shares_across_sockets() -> None:
    """key = "ip": every socket from 127.0.0.1 spends one budget."""
    sio = socketio.AsyncServer(async_mode="asgi")

    @limit("2/minute", key="ip")
    @sio.event
    async def ping(sid: str) -> str:
        return "ok:ping"

    with_ratelimit(sio, {})
    async with served(sio) as url, client(url) as first, client(url) as second:
        replies = [await first.call("ping", timeout=5), await second.call("ping", timeout=5),
                   await first.call("ping", timeout=5)]
    assert replies[:2] == ["ok:ping", "ok:ping"]
    refusal_data(replies[2], "2 per 1 minute")


async def test_retry_after_retry_succeeds() -> None:
    """After the refusal's retry_after seconds, the event passes again (fixed window)."""
    sio = socketio.AsyncServer(async_mode="asgi")

    @limit("2/second")
    @sio.event
    async def ping(sid: str) -> str:
        return "ok:ping"

    with_ratelimit(sio, {"strategy": "fixed-window"})
    async with served(sio) as url, client(url) as c:
        replies = await burst(c, "ping", 3)
        assert outcomes(replies) == (2, 1)
        refused = next(r for r in replies if isinstance(r, dict))
        retry_after = refusal_data(refused, "2 per 1 second", most=1)
        await asyncio.sleep(retry_after)
        assert await c.call("ping", timeout=5) == "ok:ping"


@requires_js
@pytest.mark.parametrize("kind", KINDS)
async def test_js_client_sees_the_ack_error_and_the_error_event(kind: str) -> None:
    """The JS client: with an ack, the reply is ``{"error": {"message", "data"}}``; without,
    the ``siomw:error`` event carries ``{"event", "message", "data"}`` (both server kinds)."""
    sio = new_server(kind)
    calls: list[Any] = []

    @sio.on("chat message")
    @limit("1/minute")
    def chat(sid: str, *args: Any) -> str:
        calls.append(args)
        return "ok:chat"

    with_ratelimit(sio, {})
    async with served(sio) as url:
        seen = await js_events(url, listen=["siomw:error"], steps=[
            {"emit": "chat message", "args": ["hi"]},
            {"emit": "chat message", "args": ["again"]},
            {"emit": "chat message", "args": ["quiet"], "ack": False, "waitMs": 300},
        ])
    acks = [o["args"][0] for o in seen if o["event"] == "ack"]
    assert acks[0] == "ok:chat"
    assert acks[1]["error"]["message"] == MESSAGE
    assert acks[1] == {"error": {"message": MESSAGE, "data": {
        "code": "rate_limited", "retry_after": acks[1]["error"]["data"]["retry_after"],
        "limit": "1 per 1 minute"}}}
    assert 1 <= acks[1]["error"]["data"]["retry_after"] <= 60
    errors = [o["args"] for o in seen if o["event"] == "on"]
    assert len(errors) == 1
    [payload] = errors[0]
    assert payload["event"] == "chat message" and payload["message"] == MESSAGE
    assert payload["data"]["code"] == "rate_limited"
    assert payload["data"]["limit"] == "1 per 1 minute"
    assert calls == [("hi",)]


@requires_js
@pytest.mark.parametrize("kind", KINDS)
async def test_js_client_burst_admits_exactly_k(kind: str) -> None:
    """The JS client sends 20 acknowledged events at once against "5/minute": 5 pass
    (both server kinds)."""
    sio, _ = echo_server({"events": {"echo": "5/minute"}}, kind)
    async with served(sio) as url:
        seen = await js_events(url, steps=[{"emit": "echo", "count": 20}])
    replies = [o["args"][0] for o in seen if o["event"] == "ack"]
    assert len(replies) == 20
    assert outcomes(replies) == (5, 15)


async def test_cost_above_the_rate_is_refused_even_in_an_empty_window(
    caplog: Any,
) -> None:
    """``@limit("10/minute", cost=100)`` is legal: decorating warns once that every event
    is refused, and the first event, in an empty window, is refused with rate_limited and
    spends nothing (the handler's other, cheap events are not affected)."""
    sio = socketio.AsyncServer(async_mode="asgi")
    ran: list[str] = []

    @sio.on("export")
    @limit("10/minute", cost=100)
    async def export(sid: str) -> str:
        ran.append("export")
        return "ok:export"

    warned = [r.getMessage() for r in caplog.records if "cost 100" in r.getMessage()]
    assert warned == [
        f"siomw: [ratelimit] limit('10/minute') on {__name__}."
        "test_cost_above_the_rate_is_refused_even_in_an_empty_window.<locals>.export: cost "
        "100 is more than the 10 per 1 minute allow, so every event of this handler is "
        "refused (rate_limited)"]
    with_ratelimit(sio, {})
    async with served(sio) as url, client(url) as c:
        reply = await c.call("export", timeout=5)
    refusal_data(reply, "10 per 1 minute")
    assert ran == []
