"""The event level (Node's ``socket.use``) on real uvicorn servers with real clients.

Clients: python-socketio's ``AsyncClient`` and the reference JS ``socket.io-client``
(``tests.jsclient``); for packets no well-behaved client sends (an EVENT named ``connect``),
the real ``engineio.AsyncClient`` of ``tests/levels/test_connect.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio

from siomw_core import (
    CallNext,
    Config,
    CoreSettings,
    Event,
    Identity,
    Refusal,
    Siomw,
    Socket,
    attach,
    get_identity,
    set_identity,
)
from siomw_core.testing import close_client, connect_result, serve
from tests.conftest import requires_js
from tests.jsclient import js_client
from tests.levels.test_connect import RawClient, eventually

TRANSPORTS = ["polling", "websocket"]
INTERNAL = {"message": "Internal server error", "data": {"code": "internal_error"}}
# whole seconds: python-engineio announces pingInterval in whole seconds' worth of ms, so
# test_connect's 0.5 s is announced as 0 and python clients drop after 0.5 s of silence
FAST_PING: dict[str, Any] = {"ping_interval": 1, "ping_timeout": 2}
NOPE = {"message": "not allowed", "data": {"code": "forbidden", "event": "secret"}}


def make(
    sio: socketio.AsyncServer | None = None, **core: Any
) -> tuple[socketio.AsyncServer, Siomw]:
    """A server with siomw attached, no installed plugins, embedded defaults plus ``core``."""
    sio = sio or socketio.AsyncServer(async_mode="asgi", **FAST_PING)
    return sio, attach(sio, config=Config(source="test", core=CoreSettings(**core)),
                       entry_points=False)


@contextlib.asynccontextmanager
async def client(url: str, namespace: str = "/", transport: str = "websocket",
                 auth: Any = None) -> AsyncIterator[socketio.AsyncClient]:
    """A connected python-socketio ``AsyncClient`` (closed when the block exits)."""
    outcome, data, sio_client = await connect_result(url, namespace=namespace, auth=auth,
                                                     transports=[transport])
    assert outcome == "connect", data
    try:
        yield sio_client
    finally:
        await close_client(sio_client)


def refuse_secret(mw: Siomw) -> list[str]:
    """An event member refusing ``secret``; returns the handler calls it lets through."""
    @mw.event.use
    async def guard(event: Event, call_next: CallNext) -> None:
        if event.name == "secret":
            raise Refusal("not allowed", {"code": "forbidden", "event": event.name})
        await call_next()

    return []


# --- what reaches the handler and the ack ---------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_args_rewritten_and_return_value_reaches_the_ack(transport: str) -> None:
    """A member replaces the args (a new list) and changes one in place; the handler gets
    exactly that, and its return value (a tuple: several ack arguments) reaches the ack."""
    sio, mw = make()
    seen: list[Any] = []

    @mw.event.use
    async def shout(event: Event, call_next: CallNext) -> None:
        seen.append((event.name, list(event.args), event.ack, event.sid, event.namespace))
        event.args = [a.upper() if isinstance(a, str) else a for a in event.args]
        event.args.append("added")
        await call_next()

    @sio.event
    async def say(sid: str, text: str, n: int, extra: str) -> tuple[str, int, str]:
        return text, n, extra

    async with serve(mw.asgi_app()) as url, client(url, transport=transport) as c:
        assert await c.call("say", ("hello", 3), timeout=5) == ("HELLO", 3, "added")
        assert seen == [("say", ["hello", 3], True, c.get_sid("/"), "/")]


@requires_js
async def test_args_rewritten_js() -> None:
    """The same with the JS client: emitWithAck resolves with the handler's value."""
    sio, mw = make()

    @mw.event.use
    async def double(event: Event, call_next: CallNext) -> None:
        event.args[0] = event.args[0] * 2
        await call_next()

    @sio.event
    async def twice(sid: str, n: int) -> dict[str, int]:
        return {"n": n}

    async with serve(mw.asgi_app()) as url:
        obs = await js_client(url, emits=[{"event": "twice", "args": [21]}])
    assert {"event": "ack", "name": "twice", "args": {"n": 42}} in obs


# --- refusals the client sees -----------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_refusal_answers_the_ack_and_skips_the_handler(transport: str) -> None:
    """A refused event with an ack: one argument {"error": {"message", "data"}}, the
    handler not called, no later member run; the socket stays connected."""
    sio, mw = make()
    calls: list[str] = []
    refuse_secret(mw)

    @mw.event.use(name="inner", priority=-10)
    async def inner(event: Event, call_next: CallNext) -> None:
        calls.append(f"inner:{event.name}")
        await call_next()

    @sio.event
    async def secret(sid: str) -> str:
        calls.append("handler")
        return "leaked"

    @sio.event
    async def ping(sid: str) -> str:
        return "pong"

    async with serve(mw.asgi_app()) as url, client(url, transport=transport) as c:
        assert await c.call("secret", timeout=5) == {"error": NOPE}
        assert await c.call("ping", timeout=5) == "pong"
        assert c.connected
    assert calls == ["inner:ping"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_refusal_without_ack_emits_the_error_event(transport: str) -> None:
    """Without an ack, "siomw:error" reaches that socket only, with {"event", "message",
    "data"}; the handler is not called."""
    sio, mw = make()
    calls: list[str] = []
    refuse_secret(mw)

    @sio.event
    async def secret(sid: str) -> None:
        calls.append("handler")

    @sio.event
    async def ping(sid: str) -> str:
        return "pong"

    async with serve(mw.asgi_app()) as url, client(url, transport=transport) as c, \
            client(url, transport=transport) as other:
        errors: list[Any] = []
        others: list[Any] = []
        c.on("siomw:error", errors.append)
        other.on("siomw:error", others.append)
        await c.emit("secret")
        await eventually(lambda: bool(errors))
        assert await other.call("ping", timeout=5) == "pong"
        assert await c.call("ping", timeout=5) == "pong"
    assert errors == [{"event": "secret", **NOPE}]
    assert others == [] and calls == []


@pytest.mark.parametrize(("setting", "expected"), [("app:refused", ["app:refused"]),
                                                   (False, [])])
async def test_error_event_renamed_and_turned_off(setting: Any, expected: list[str]) -> None:
    """event_error_event renames the error event; false sends nothing (a later ack, sent
    after it on the same socket, arrives with nothing before it)."""
    sio, mw = make(event_error_event=setting)
    refuse_secret(mw)

    @sio.event
    async def ping(sid: str) -> str:
        return "pong"

    got: list[str] = []
    async with serve(mw.asgi_app()) as url, client(url) as c:
        c.on("*", lambda name, *args: got.append(name))
        await c.emit("secret")
        assert await c.call("ping", timeout=5) == "pong"
    assert got == expected


@requires_js
async def test_refusal_shapes_js() -> None:
    """JS client: the ack resolves with {error: {message, data}}; without an ack the
    "siomw:error" listener gets {event, message, data}; the socket stays connected."""
    sio, mw = make()
    refuse_secret(mw)

    @sio.event
    async def ping(sid: str) -> str:
        return "pong"

    async with serve(mw.asgi_app()) as url:
        obs = await js_client(url, listen=["siomw:error"], emits=[
            {"event": "secret", "args": [1]},
            {"event": "secret", "ack": False},
            {"event": "ping"},
        ])
    assert [o for o in obs if o["event"] in ("ack", "on")] == [
        {"event": "ack", "name": "secret", "args": {"error": NOPE}},
        {"event": "on", "name": "siomw:error", "args": [{"event": "secret", **NOPE}]},
        {"event": "ack", "name": "ping", "args": "pong"},
    ]
    assert not any(o["event"] == "disconnect" and o["reason"] != "io client disconnect"
                   for o in obs)


async def test_refusal_data_none_leaves_data_out() -> None:
    """Refusal("...") without data: {"error": {"message"}}, as at the connect level."""
    sio, mw = make()

    @mw.event.use
    async def no(event: Event, call_next: CallNext) -> None:
        raise Refusal("closed")

    @sio.event
    async def anything(sid: str) -> str:
        return "x"

    async with serve(mw.asgi_app()) as url, client(url) as c:
        assert await c.call("anything", timeout=5) == {"error": {"message": "closed"}}


# --- every kind of handler; never connect or disconnect ---------------------------------------


async def test_catch_all_and_star_namespace_handlers_go_through_the_chain() -> None:
    """@sio.on("*") and @sio.on("*", namespace="*") handlers run after the chain, which
    sees them as event.handler; their return value answers the ack."""
    sio, mw = make(socketio.AsyncServer(async_mode="asgi", namespaces="*", **FAST_PING))
    handlers: list[Any] = []

    @mw.event.use(namespace=None)
    async def record(event: Event, call_next: CallNext) -> None:
        handlers.append((event.namespace, event.name, event.handler))
        event.args = [*event.args, "mw"]
        await call_next()

    @sio.on("*")
    async def any_event(event: str, sid: str, *args: Any) -> list[Any]:
        return [event, *args]

    @sio.on("*", namespace="*")
    async def anywhere(event: str, namespace: str, sid: str, *args: Any) -> list[Any]:
        return [namespace, event, *args]

    async with serve(mw.asgi_app()) as url, client(url) as c, client(url, "/other") as o:
        assert await c.call("whatever", 1, timeout=5) == ["whatever", 1, "mw"]
        assert await o.call("else", 2, namespace="/other", timeout=5) == ["/other", "else", 2,
                                                                           "mw"]
    assert handlers == [("/", "whatever", any_event), ("/other", "else", anywhere)]


async def test_class_based_namespace_methods_go_through_the_chain() -> None:
    """An AsyncNamespace's on_<event> runs after mw.of(ns).event's members; event.handler
    is the bound method; a refusal skips it."""
    sio, mw = make()
    calls: list[str] = []

    class Chat(socketio.AsyncNamespace):  # type: ignore[misc]
        async def on_post(self, sid: str, text: str) -> str:
            calls.append(text)
            return f"posted {text}"

    sio.register_namespace(Chat("/chat"))
    seen: list[Any] = []

    @mw.of("/chat").event.use
    async def moderate(event: Event, call_next: CallNext) -> None:
        seen.append(event.handler)
        if event.args == ["spam"]:
            raise Refusal("spam", {"code": "spam"})
        await call_next()

    async with serve(mw.asgi_app()) as url, client(url, "/chat") as c:
        assert await c.call("post", "hi", namespace="/chat", timeout=5) == "posted hi"
        assert await c.call("post", "spam", namespace="/chat", timeout=5) == {
            "error": {"message": "spam", "data": {"code": "spam"}}}
    assert calls == ["hi"]
    assert seen[0].__func__ is Chat.on_post and seen[0].__self__ is sio.namespace_handlers["/chat"]


async def test_namespace_scoping_of_event_members() -> None:
    """mw.event.use guards "/" only, mw.of("/chat").event.use "/chat" only,
    namespace=None every namespace; ordering follows priority."""
    sio, mw = make(socketio.AsyncServer(async_mode="asgi", namespaces="*", **FAST_PING))
    ran: list[str] = []

    @mw.event.use
    async def main_only(event: Event, call_next: CallNext) -> None:
        ran.append(f"main:{event.namespace}")
        await call_next()

    @mw.of("/chat").event.use
    async def chat_only(event: Event, call_next: CallNext) -> None:
        ran.append(f"chat:{event.namespace}")
        await call_next()

    @mw.event.use(namespace=None, priority=100)
    async def everywhere(event: Event, call_next: CallNext) -> None:
        ran.append(f"all:{event.namespace}")
        await call_next()

    @sio.on("e", namespace="*")
    async def e(namespace: str, sid: str) -> str:
        return namespace

    async with serve(mw.asgi_app()) as url, client(url) as c, client(url, "/chat") as chat:
        assert await c.call("e", timeout=5) == "/"
        assert await chat.call("e", namespace="/chat", timeout=5) == "/chat"
    assert ran == ["all:/", "main:/", "all:/chat", "chat:/chat"]
    described = mw.describe()["event"]
    assert [m["name"] for m in described["/"]] == ["everywhere", "main_only"]
    assert [m["name"] for m in described["/chat"]] == ["everywhere", "chat_only"]


async def test_connect_and_disconnect_never_run_the_event_chain() -> None:
    """Connect and disconnect do not go through the event chain; a client-sent EVENT named
    "connect" is refused (invalid_event) and never calls the connect handler."""
    sio, mw = make()
    names: list[str] = []
    connects: list[str] = []

    @mw.event.use
    async def record(event: Event, call_next: CallNext) -> None:
        names.append(event.name)
        await call_next()

    @sio.event
    async def connect(sid: str, environ: Any, auth: Any) -> None:
        connects.append(sid)

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        connects.append("bye")

    async with serve(mw.asgi_app()) as url:
        async with client(url) as c:
            await c.emit("unhandled")
            await eventually(lambda: names == ["unhandled"])  # no handler: the chain runs
        await eventually(lambda: connects[-1:] == ["bye"])
        raw = RawClient()
        await raw.open(url)
        try:
            await raw.send("0")
            assert (await raw.receive()).packet_type == 0  # CONNECT
            await raw.send('27["connect",{"forged":true}]')
            answer = await raw.receive()
            assert (answer.packet_type, answer.id, answer.data) == (
                3, 7, [{"error": {"message": "Invalid event name",
                                  "data": {"code": "invalid_event"}}}])
            assert len(connects) == 3 and connects[1] == "bye"  # not called for the forgery
        finally:
            await raw.close()
    assert names == ["unhandled"]


# --- identity and the Socket of the connection ---------------------------------------------


async def test_the_socket_of_the_connect_chain_is_the_socket_of_every_event() -> None:
    """What a connect middleware stored (data, identity) is what every event sees, on the
    same Socket object; handlers read data["user"] from the session."""
    sio, mw = make()
    connected: dict[str, Socket] = {}
    seen: list[Any] = []

    @mw.use
    async def login(socket: Socket, call_next: CallNext) -> None:
        set_identity(socket, Identity(sub=socket.handshake.auth["user"], scopes=frozenset({"chat"}),
                                      claims={"sub": socket.handshake.auth["user"]},
                                      source="test"))
        socket.data["room"] = "lobby"
        connected[socket.sid] = socket
        await call_next()

    @mw.event.use
    async def who(event: Event, call_next: CallNext) -> None:
        identity = get_identity(event.socket)
        assert identity is not None
        seen.append((event.socket is connected[event.sid], identity.sub, event.socket.data["room"]))
        await call_next()

    @sio.event
    async def whoami(sid: str) -> Any:
        return (await sio.get_session(sid))["user"]

    async with serve(mw.asgi_app()) as url, client(url, auth={"user": "ann"}) as a, \
            client(url, auth={"user": "bob"}) as b:
        assert await a.call("whoami", timeout=5) == {"sub": "ann"}
        assert await b.call("whoami", timeout=5) == {"sub": "bob"}
    assert seen == [(True, "ann", "lobby"), (True, "bob", "lobby")]


async def test_socket_use_adds_a_member_for_that_socket_only() -> None:
    """socket.use(fn) from a connect middleware: runs for that socket's events, after the
    namespace's members, in the order added; other sockets never see it."""
    sio, mw = make()
    ran: list[str] = []

    @mw.use
    async def per_socket(socket: Socket, call_next: CallNext) -> None:
        if socket.handshake.auth.get("traced"):
            async def first(event: Event, call_next: CallNext) -> None:
                ran.append(f"first:{event.name}")
                await call_next()

            async def second(event: Event, call_next: CallNext) -> None:
                ran.append(f"second:{event.name}")
                if event.name == "blocked":
                    raise Refusal("blocked for you", {"code": "blocked"})
                await call_next()

            socket.use(first)
            socket.use(second)
        await call_next()

    @mw.event.use
    async def shared(event: Event, call_next: CallNext) -> None:
        ran.append(f"shared:{event.name}")
        await call_next()

    @sio.on("*")
    async def any_event(event: str, sid: str) -> str:
        return "ok"

    async with serve(mw.asgi_app()) as url, client(url, auth={"traced": True}) as traced, \
            client(url, auth={}) as plain:
        assert await traced.call("hello", timeout=5) == "ok"
        assert await plain.call("hello", timeout=5) == "ok"
        assert await plain.call("blocked", timeout=5) == "ok"
        assert await traced.call("blocked", timeout=5) == {
            "error": {"message": "blocked for you", "data": {"code": "blocked"}}}
    assert ran == ["shared:hello", "first:hello", "second:hello", "shared:hello",
                   "shared:blocked", "shared:blocked", "first:blocked", "second:blocked"]


async def test_a_thousand_connections_leave_no_socket_behind() -> None:
    """1000 namespace connect/disconnect cycles (on one engine session, as a client
    reconnecting a namespace does) plus 20 whole clients: nothing stays in siomw."""
    sio, mw = make()

    @mw.use
    async def keep(socket: Socket, call_next: CallNext) -> None:
        socket.on_disconnect(lambda reason: None)
        await call_next()

    @mw.event.use
    async def member(event: Event, call_next: CallNext) -> None:
        await call_next()

    @sio.event
    async def ping(sid: str) -> str:
        return "pong"

    level = mw.connect_level
    async with serve(mw.asgi_app()) as url:
        raw = RawClient()
        await raw.open(url)
        try:
            for i in range(1000):
                await raw.send("0")
                assert (await raw.receive()).packet_type == 0
                if i % 100 == 0:
                    await raw.send(f'2{i}["ping"]')
                    assert (await raw.receive()).data == ["pong"]
                await raw.send("1")
                await eventually(lambda: not level.sockets)
        finally:
            await raw.close()
        for _ in range(20):
            async with client(url) as c:
                assert await c.call("ping", timeout=5) == "pong"
        await eventually(lambda: not level.sockets and not level._on_disconnect)
    assert level.pending == {}


async def test_a_member_answers_the_event_itself_with_reply() -> None:
    """event.reply(value) then returning without call_next: the ack gets value (a tuple:
    several arguments), the handler is not called, outer members see a normal return; no
    ack asked: nothing is sent."""
    sio, mw = make()
    calls: list[str] = []
    outer: list[str] = []

    @mw.event.use(priority=10)
    async def wrap(event: Event, call_next: CallNext) -> None:
        await call_next()
        outer.append(f"after:{event.name}")

    @mw.event.use
    async def cached(event: Event, call_next: CallNext) -> None:
        if event.name == "lookup":
            event.reply(("cached", event.args[0]))
            return
        await call_next()

    @sio.event
    async def lookup(sid: str, key: str) -> str:
        calls.append(key)
        return "fresh"

    @sio.event
    async def ping(sid: str) -> str:
        return "pong"

    async with serve(mw.asgi_app()) as url, client(url) as c:
        got: list[str] = []
        c.on("*", lambda name, *args: got.append(name))
        assert await c.call("lookup", "k", timeout=5) == ("cached", "k")
        await c.emit("lookup", "k")
        assert await c.call("ping", timeout=5) == "pong"
    assert calls == [] and got == []
    assert outer == ["after:lookup", "after:lookup", "after:ping"]
