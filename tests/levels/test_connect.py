"""The connect level (Node's ``io.use``) on real uvicorn servers with real clients.

Clients: python-socketio's ``AsyncClient`` (through ``siomw_core.testing.connect_result``),
the reference JS ``socket.io-client`` (``tests.jsclient``), and, where a test needs to send
Socket.IO packets by hand on one Engine.IO session (retries, odd auth payloads), a real
``engineio.AsyncClient``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import engineio
import pytest
import socketio
from socketio import packet
from socketio.exceptions import ConnectionRefusedError as SioConnectionRefusedError

from siomw_core import (
    CallNext,
    Config,
    CoreSettings,
    Middleware,
    OrderingError,
    Refusal,
    Siomw,
    Socket,
    attach,
)
from siomw_core.adapters.asgi_http import scope_request
from siomw_core.testing import connect_result, serve
from tests.conftest import requires_js
from tests.jsclient import js_client, js_outcome

TRANSPORTS = ["polling", "websocket"]
# python-engineio's polling client waits for its pending GET on disconnect, which the server
# answers only after ping_interval + ping_timeout (45 s by default): keep both short
FAST_PING: dict[str, Any] = {"ping_interval": 0.5, "ping_timeout": 0.5}
INTERNAL = {"message": "Internal server error", "data": {"code": "internal_error"}}


def make(
    sio: socketio.AsyncServer | None = None, **core: Any
) -> tuple[socketio.AsyncServer, Siomw]:
    """A server with siomw attached, no installed plugins, embedded defaults plus ``core``."""
    sio = sio or socketio.AsyncServer(async_mode="asgi", **FAST_PING)
    config = Config(source="test", core=CoreSettings(**core))
    return sio, attach(sio, config=config, entry_points=False)


@contextlib.asynccontextmanager
async def running(sio: socketio.AsyncServer) -> AsyncIterator[str]:
    async with serve(socketio.ASGIApp(sio)) as url:
        yield url


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` holds (polled every 10 ms), or fail."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def assert_nothing_left(sio: socketio.AsyncServer, mw: Siomw, sid: str, eio_sid: str) -> None:
    """No trace of ``sid`` / ``eio_sid`` in the manager, siomw or the engine."""
    for namespace, rooms in sio.manager.rooms.items():
        for room, members in rooms.items():
            assert sid not in members, f"{sid} left in room {room!r} of {namespace!r}"
            assert eio_sid not in members.inverse, f"{eio_sid} left in room {room!r}"
    assert not any(sio.manager.pending_connect.values()), sio.manager.pending_connect
    assert not mw.connect_level.pending
    assert eio_sid not in sio.eio.sockets
    assert eio_sid not in sio.environ


class RawClient:
    """A real Engine.IO client that sends and reads Socket.IO packets as text."""

    def __init__(self) -> None:
        self.eio = engineio.AsyncClient()
        self.packets: asyncio.Queue[packet.Packet] = asyncio.Queue()
        self.eio.on("message", self._on_message)

    async def _on_message(self, data: Any) -> None:
        await self.packets.put(packet.Packet(encoded_packet=data))

    async def open(self, url: str, transport: str = "websocket") -> None:
        await self.eio.connect(url, transports=[transport], engineio_path="socket.io")

    async def send(self, text: str) -> None:
        await self.eio.send(text)

    async def receive(self, timeout: float = 5) -> packet.Packet:
        return await asyncio.wait_for(self.packets.get(), timeout)

    async def close(self) -> None:
        await self.eio.disconnect(abort=True)


def refuse_unless(token: str) -> Callable[[Socket, CallNext], Awaitable[None]]:
    async def second(socket: Socket, call_next: CallNext) -> None:
        if socket.handshake.auth.get("token") != token:
            raise Refusal("not authorized", {"content": "Please retry later"})
        await call_next()

    return second


# --- the Socket.IO "Middlewares" guide ------------------------------------------------------


@requires_js
async def test_guide_two_middlewares_second_refuses_js() -> None:
    """Guide: two middlewares run in order; the second's Refusal reaches the JS client as
    connect_error with err.message, err.data, and socket.active false."""
    sio, mw = make()
    seen: list[str] = []

    @mw.use
    async def first(socket: Socket, call_next: CallNext) -> None:
        seen.append("first")
        await call_next()

    check = refuse_unless("let-me-in")

    @mw.use
    async def second(socket: Socket, call_next: CallNext) -> None:
        seen.append("second")
        await check(socket, call_next)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        seen.append("connect handler")

    async with running(sio) as url:
        refused = await js_outcome(url, auth={"token": "wrong"})
        assert refused == {
            "event": "connect_error", "message": "not authorized",
            "data": {"content": "Please retry later"}, "active": False,
        }
        assert seen == ["first", "second"]
        seen.clear()
        accepted = await js_outcome(url, auth={"token": "let-me-in"})
        assert accepted["event"] == "connect" and accepted["active"] is True
        assert seen == ["first", "second", "connect handler"]


async def test_guide_refusal_payload_python_client() -> None:
    """The python client's connect_error handler receives {"message", "data"} of a Refusal."""
    sio, mw = make()
    mw.use(refuse_unless("let-me-in"), name="second")
    async with running(sio) as url:
        for transport in TRANSPORTS:
            outcome, data, _ = await connect_result(url, auth={"token": "x"},
                                                    transports=[transport])
            assert (outcome, data) == ("connect_error", {
                "message": "not authorized", "data": {"content": "Please retry later"},
            })


async def test_refusal_without_data_leaves_data_out() -> None:
    """A Refusal with data None sends {"message"} only, as Node drops an undefined err.data."""
    sio, mw = make()

    @mw.use
    async def bare(socket: Socket, call_next: CallNext) -> None:
        raise Refusal("go away")

    async with running(sio) as url:
        outcome, data, _ = await connect_result(url, transports=["websocket"])
        assert (outcome, data) == ("connect_error", {"message": "go away"})


@requires_js
@pytest.mark.parametrize("auth_function", [False, True])
async def test_guide_credentials_reach_handshake_auth_js(auth_function: bool) -> None:
    """Guide "Sending credentials": auth given as an object or as a function reaches
    socket.handshake.auth and, through socket.data, the handlers."""
    sio, mw = make()
    seen: list[dict[str, Any]] = []

    @mw.use
    async def authenticate(socket: Socket, call_next: CallNext) -> None:
        seen.append(socket.handshake.auth)
        socket.data["token"] = socket.handshake.auth.get("token")
        await call_next()

    @sio.event
    async def whoami(sid: str) -> str:
        return str((await sio.get_session(sid))["token"])

    async with running(sio) as url:
        observations = await js_client(url, auth={"token": "abc", "n": 1},
                                       authFunction=auth_function,
                                       emit={"event": "whoami", "args": []})
    events = [o["event"] for o in observations]
    assert ("auth_called" in events) is auth_function
    assert {"event": "ack", "args": "abc"} in observations
    assert seen == [{"token": "abc", "n": 1}]


# --- namespaces and ordering ----------------------------------------------------------------


async def test_use_namespaces_follow_node() -> None:
    """use() guards "/" only, of("/admin").use() only /admin, use(namespace=None) all."""
    sio, mw = make()
    ran: list[tuple[str, str]] = []

    def recorder(label: str) -> Callable[[Socket, CallNext], Awaitable[None]]:
        async def func(socket: Socket, call_next: CallNext) -> None:
            ran.append((label, socket.namespace))
            await call_next()
        return func

    for ns in ("/admin", "/chat"):
        sio.on("connect", lambda sid, environ, auth: None, namespace=ns)
    mw.use(recorder("root"), name="root")
    mw.of("/admin").use(recorder("admin"), name="admin")
    mw.use(recorder("everywhere"), name="everywhere", namespace=None)
    mw.use(recorder("listed"), name="listed", namespace=["/chat", "/admin"])

    async with running(sio) as url:
        for ns in ("/", "/admin", "/chat"):
            ran.clear()
            outcome, _, client = await connect_result(url, namespace=ns,
                                                      transports=["websocket"])
            assert outcome == "connect"
            await client.disconnect()
            expected = {
                "/": ["everywhere", "root"],
                "/admin": ["admin", "everywhere", "listed"],
                "/chat": ["everywhere", "listed"],
            }[ns]
            assert ran == [(label, ns) for label in expected]
            assert [p.middleware.name for p in mw.placed("connect", ns)] == expected


async def test_decorator_forms_and_runtime_order_match_placed() -> None:
    """Every form of use (call, bare decorator, decorator with name/priority/before/after)
    composes the chain that mw.placed() reports, and connections run it in that order."""
    sio, mw = make()
    ran: list[str] = []
    sio.on("connect", lambda sid, environ, auth: None, namespace="/admin")

    def note(label: str) -> Callable[[Socket, CallNext], Awaitable[None]]:
        async def func(socket: Socket, call_next: CallNext) -> None:
            ran.append(label)
            await call_next()
            ran.append(f"/{label}")
        return func

    @mw.use
    async def zeta(socket: Socket, call_next: CallNext) -> None:
        await note("zeta")(socket, call_next)

    @mw.use(priority=50)
    async def urgent(socket: Socket, call_next: CallNext) -> None:
        await note("urgent")(socket, call_next)

    @mw.use(name="guard", before="urgent", priority=-10)
    async def _guard(socket: Socket, call_next: CallNext) -> None:
        await note("guard")(socket, call_next)

    @mw.use(after=["zeta"], priority=100)
    async def alpha(socket: Socket, call_next: CallNext) -> None:
        await note("alpha")(socket, call_next)

    mw.use(note("plain"), name="plain")

    # Namespace.use has no overloads yet (core): mypy sees a union, not a decorator
    @mw.of("/admin").use(priority=5, after="everywhere")
    async def admin_only(socket: Socket, call_next: CallNext) -> None:
        await note("admin_only")(socket, call_next)

    @mw.use(namespace=None, priority=1)
    async def everywhere(socket: Socket, call_next: CallNext) -> None:
        await note("everywhere")(socket, call_next)

    expected = {
        # everywhere (1) first; plain before zeta by name; alpha (100) as soon as zeta is
        # placed; guard's before= holds although urgent's priority is higher
        "/": ["everywhere", "plain", "zeta", "alpha", "guard", "urgent"],
        "/admin": ["everywhere", "admin_only"],
    }
    async with running(sio) as url:
        for ns, names in expected.items():
            assert [p.middleware.name for p in mw.placed("connect", ns)] == names
            ran.clear()
            outcome, _, client = await connect_result(url, namespace=ns,
                                                      transports=["websocket"])
            assert outcome == "connect"
            await client.disconnect()
            assert ran == names + [f"/{n}" for n in reversed(names)]
    described = mw.describe()["connect"]["/"]
    assert described[0] == {"name": "everywhere", "plugin": None, "priority": 1,
                            "reason": "priority 1"}
    assert described[-1]["name"] == "urgent"
    assert "declared before 'urgent'" in described[-1]["reason"]


async def test_middleware_added_while_serving_takes_effect() -> None:
    """A middleware added after connections were served joins the chain of the next one."""
    sio, mw = make()
    async with running(sio) as url:
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()

        @mw.use
        async def late(socket: Socket, call_next: CallNext) -> None:
            raise Refusal("late arrival")

        outcome, data, _ = await connect_result(url, transports=["websocket"])
        assert (outcome, data) == ("connect_error", {"message": "late arrival"})


def test_use_that_makes_a_cycle_adds_nothing() -> None:
    """use() raising OrderingError for a cycle leaves the chain as it was."""
    _, mw = make()

    @mw.use(before="b")
    async def a(socket: Socket, call_next: CallNext) -> None:
        await call_next()

    async def b(socket: Socket, call_next: CallNext) -> None:
        await call_next()

    with pytest.raises(OrderingError, match="cycle"):
        mw.use(b, before="a")
    assert [p.middleware.name for p in mw.placed("connect", "/")] == ["a"]


def test_strict_absent_reference_is_an_error_when_checked() -> None:
    """With strict = true, use(after="ghost") is accepted (its neighbour may be registered
    next), and checking the chains (asgi_app(), siomw serve) raises OrderingError."""
    _, mw = make(strict=True)

    async def lonely(socket: Socket, call_next: CallNext) -> None:
        await call_next()

    async def ghost(socket: Socket, call_next: CallNext) -> None:
        await call_next()

    mw.use(lonely, after="ghost")
    with pytest.raises(OrderingError, match="ghost"):
        mw.check()
    with pytest.raises(OrderingError, match="ghost"):
        mw.asgi_app()
    mw.use(ghost)  # the forward reference is satisfied now
    mw.check()
    assert [p.middleware.name for p in mw.placed("connect", "/")] == ["ghost", "lonely"]


async def test_unorderable_chain_refuses_with_internal_error() -> None:
    """A chain that cannot be composed at the first connection (strict, absent reference,
    never checked) refuses with internal_error instead of leaving the client waiting."""
    sio, mw = make(strict=True)

    async def lonely(socket: Socket, call_next: CallNext) -> None:
        await call_next()

    mw.use(lonely, after="ghost")
    async with serve(socketio.ASGIApp(sio)) as url:
        outcome, data, _ = await connect_result(url, transports=["websocket"])
    assert (outcome, data) == ("connect_error", INTERNAL)


# --- the socket and its handshake -----------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_handshake_fields_python_client(transport: str) -> None:
    """socket.sid/namespace/eio_sid and handshake auth, headers (lower-case), query (with
    EIO and transport), address, time, issued, url, secure and xdomain are Node's."""
    sio, mw = make(socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*", **FAST_PING))
    seen: dict[str, Any] = {}

    @mw.use
    async def capture(socket: Socket, call_next: CallNext) -> None:
        seen.update(socket.handshake.as_dict())
        seen.update(sid=socket.sid, namespace=socket.namespace, eio_sid=socket.eio_sid,
                    server=socket.server, environ=socket.environ, data=dict(socket.data))
        await call_next()

    before = int(time.time() * 1000)
    async with running(sio) as url:
        outcome, _, client = await connect_result(
            f"{url}/?room=blue&room=red&empty=", auth={"token": "t", "n": [1, 2]},
            headers={"X-Custom-Header": "Value", "Origin": "http://example.test"},
            transports=[transport],
        )
        assert outcome == "connect"
        assert seen["sid"] == client.get_sid("/")
        assert seen["eio_sid"] == client.eio.sid
        await client.disconnect()
    after = int(time.time() * 1000)

    assert seen["namespace"] == "/"
    assert seen["server"] is sio
    assert seen["data"] == {}
    assert seen["auth"] == {"token": "t", "n": [1, 2]}
    headers = seen["headers"]
    assert all(name == name.lower() for name in headers)
    assert headers["x-custom-header"] == "Value"
    assert headers["origin"] == "http://example.test"
    assert "host" in headers
    query = seen["query"]
    assert query["EIO"] == "4"
    assert query["transport"] == transport
    assert query["room"] == "red"  # last value wins, as in Node
    assert query["empty"] == ""
    assert seen["address"] == "127.0.0.1"
    assert isinstance(seen["issued"], int) and before <= seen["issued"] <= after
    assert isinstance(seen["time"], str)
    assert re.fullmatch(r"\w{3} \w{3} \d\d \d{4} \d\d:\d\d:\d\d GMT[+-]\d{4}", seen["time"])
    assert seen["url"].startswith("/socket.io/?")
    assert "EIO=4" in seen["url"] and f"transport={transport}" in seen["url"]
    assert seen["secure"] is False
    assert seen["xdomain"] is True
    assert seen["environ"]["asgi.scope"]["type"] in ("http", "websocket")


@requires_js
async def test_handshake_fields_js_client() -> None:
    """The JS client's query, extraHeaders and auth arrive in socket.handshake; no Origin
    header from Node means xdomain is false."""
    sio, mw = make()
    seen: dict[str, Any] = {}

    @mw.use
    async def capture(socket: Socket, call_next: CallNext) -> None:
        seen.update(socket.handshake.as_dict())
        await call_next()

    async with running(sio) as url:
        outcome = await js_outcome(url, transports=["websocket"], query={"room": "blue"},
                                   extraHeaders={"X-Trace-Id": "abc"}, auth={"token": "t"})
    assert outcome["event"] == "connect"
    assert seen["auth"] == {"token": "t"}
    assert seen["headers"]["x-trace-id"] == "abc"
    assert seen["query"]["room"] == "blue"
    assert seen["query"]["EIO"] == "4" and seen["query"]["transport"] == "websocket"
    assert seen["address"] == "127.0.0.1"
    assert seen["xdomain"] is False and seen["secure"] is False


async def test_socket_data_becomes_the_session() -> None:
    """socket.data written by a middleware is the python-socketio session in the connect
    handler and in later event handlers."""
    sio, mw = make()
    in_connect: dict[str, Any] = {}

    @mw.use
    async def authenticate(socket: Socket, call_next: CallNext) -> None:
        socket.data["user"] = socket.handshake.auth["user"]
        await call_next()

    @mw.use(priority=-1)
    async def enrich(socket: Socket, call_next: CallNext) -> None:
        socket.data["roles"] = ["reader"]
        await call_next()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        in_connect.update(await sio.get_session(sid))
        async with sio.session(sid) as session:
            session["visits"] = 1

    @sio.event
    async def whoami(sid: str) -> dict[str, Any]:
        return dict(await sio.get_session(sid))

    async with running(sio) as url:
        for transport in TRANSPORTS:
            in_connect.clear()
            outcome, _, client = await connect_result(url, auth={"user": "alice"},
                                                      transports=[transport])
            assert outcome == "connect"
            reply = await client.call("whoami", timeout=5)
            await client.disconnect()
            assert in_connect == {"user": "alice", "roles": ["reader"]}
            assert reply == {"user": "alice", "roles": ["reader"], "visits": 1}


@pytest.mark.parametrize("sent", [{"token": "t"}, None])
async def test_decorator_connect_handler_runs_after_the_chain(sent: Any) -> None:
    """A decorator handler (sid, environ, auth) runs inside the chain, after every before
    part and before every after part, with the auth payload (None when none was sent)."""
    sio, mw = make()
    trace: list[Any] = []

    @mw.use
    async def outer(socket: Socket, call_next: CallNext) -> None:
        trace.append("outer")
        await call_next()
        trace.append("/outer")

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        trace.append(("handler", auth, "asgi.scope" in environ))

    async with running(sio) as url:
        outcome, _, client = await connect_result(url, auth=sent, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
    assert trace == ["outer", ("handler", sent, True), "/outer"]


async def test_legacy_two_argument_connect_handler() -> None:
    """A legacy (sid, environ) connect handler is still called when no auth is sent."""
    sio, mw = make()
    calls: list[str] = []

    @mw.use
    async def outer(socket: Socket, call_next: CallNext) -> None:
        await call_next()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        calls.append(sid)

    async with running(sio) as url:
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        assert calls == [client.get_sid("/")]
        await client.disconnect()


async def test_class_based_namespace_keeps_working() -> None:
    """An AsyncNamespace's on_connect runs after the chain with the session in place, and
    its on_disconnect runs when the accepted client leaves."""
    sio, mw = make()
    trace: list[Any] = []
    gone = asyncio.Event()

    class Chat(socketio.AsyncNamespace):  # type: ignore[misc]
        async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
            trace.append(("on_connect", auth, await self.get_session(sid)))

        async def on_disconnect(self, sid: str, reason: str) -> None:
            trace.append("on_disconnect")
            gone.set()

        async def on_ping(self, sid: str) -> str:
            return "pong"

    sio.register_namespace(Chat("/chat"))

    @mw.of("/chat").use
    async def tag(socket: Socket, call_next: CallNext) -> None:
        trace.append("tag")
        socket.data["tagged"] = True
        await call_next()

    async with running(sio) as url:
        outcome, _, client = await connect_result(url, namespace="/chat", auth={"a": 1},
                                                  transports=["websocket"])
        assert outcome == "connect"
        assert await client.call("ping", namespace="/chat", timeout=5) == "pong"
        await client.disconnect()
        await asyncio.wait_for(gone.wait(), 5)
    assert trace == ["tag", ("on_connect", {"a": 1}, {"tagged": True}), "on_disconnect"]


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("return_false", {"message": "Connection rejected by server"}),
        ("sio_refused", {"message": "msg", "data": {"x": 1}}),
        ("builtin_refused", {"message": "nope"}),
        ("builtin_refused_data", {"message": "nope", "data": {"code": "banned"}}),
        ("builtin_refused_bare", {"message": "Connection refused by server"}),
        ("builtin_errno", INTERNAL),
        ("raise", INTERNAL),
    ],
)
async def test_connect_handler_refusals(behaviour: str, expected: dict[str, Any]) -> None:
    """A handler returning False or raising ConnectionRefusedError (python-socketio's or the
    built-in, message and data kept) refuses with that payload (an outer middleware sees it
    as a Refusal); any other exception, a backend's refused TCP connection (errno 111)
    included, is internal_error."""
    sio, mw = make()
    seen: list[Any] = []
    disconnects: list[str] = []

    @mw.use
    async def outer(socket: Socket, call_next: CallNext) -> None:
        try:
            await call_next()
        except Refusal as refusal:
            seen.append(refusal.payload())
            raise

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool | None:
        if behaviour == "return_false":
            return False
        if behaviour == "sio_refused":
            raise SioConnectionRefusedError("msg", {"x": 1})
        if behaviour == "builtin_refused":
            raise ConnectionRefusedError("nope")
        if behaviour == "builtin_refused_data":
            raise ConnectionRefusedError("nope", {"code": "banned"})
        if behaviour == "builtin_refused_bare":
            raise ConnectionRefusedError()
        if behaviour == "builtin_errno":
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 6379)")
        raise ValueError("handler bug")

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        disconnects.append(sid)

    async with running(sio) as url:
        outcome, data, _ = await connect_result(url, transports=["websocket"])
        assert (outcome, data) == ("connect_error", expected)
        await asyncio.sleep(0.05)
    assert seen == [expected]
    assert disconnects == []


@requires_js
async def test_connect_handler_refusal_js() -> None:
    """ConnectionRefusedError("msg", {"x": 1}) from the handler reaches err.message/err.data."""
    sio, _ = make()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        raise SioConnectionRefusedError("msg", {"x": 1})

    async with running(sio) as url:
        outcome = await js_outcome(url)
    assert outcome == {"event": "connect_error", "message": "msg", "data": {"x": 1},
                       "active": False}


async def test_on_disconnect_callback_runs_for_accepted_sockets_only() -> None:
    """socket.on_disconnect(cb) (plain or coroutine function) is called with the reason the
    disconnect handler gets when an accepted socket leaves, never for a refused one."""
    sio, mw = make()
    reasons: list[tuple[str, str]] = []
    handler_reasons: list[str] = []

    @mw.use
    async def watch(socket: Socket, call_next: CallNext) -> None:
        async def async_cb(reason: str) -> None:
            reasons.append(("async", reason))

        socket.on_disconnect(lambda reason: reasons.append(("sync", reason)))
        socket.on_disconnect(async_cb)
        if socket.handshake.auth.get("refuse"):
            raise Refusal("no")
        await call_next()

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        handler_reasons.append(reason)

    async with running(sio) as url:
        outcome, _, _ = await connect_result(url, auth={"refuse": True}, transports=["websocket"])
        assert outcome == "connect_error"
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        await eventually(lambda: len(reasons) == 2)
    assert len(handler_reasons) == 1
    assert handler_reasons[0] in ("client disconnect", "transport close")
    assert reasons == [("sync", handler_reasons[0]), ("async", handler_reasons[0])]


async def test_server_disconnect_reason_reaches_on_disconnect() -> None:
    """sio.disconnect(sid) calls the socket's on_disconnect callbacks with "server disconnect"."""
    sio, mw = make()
    reasons: list[str] = []

    @mw.use
    async def watch(socket: Socket, call_next: CallNext) -> None:
        socket.on_disconnect(reasons.append)
        await call_next()

    async with running(sio) as url:
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await sio.disconnect(client.get_sid("/"))
        await eventually(lambda: reasons == ["server disconnect"])
        await client.disconnect()


# --- failures inside the chain --------------------------------------------------------------


async def test_exception_is_internal_error_logged_and_server_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A middleware raising ValueError refuses with internal_error; its text never reaches
    the client; the log names the middleware; the next client connects fine."""
    sio, mw = make()

    @mw.use
    async def fragile(socket: Socket, call_next: CallNext) -> None:
        if socket.handshake.auth.get("boom"):
            raise ValueError("db password is hunter2")
        await call_next()

    async with running(sio) as url:
        with caplog.at_level(logging.ERROR, logger="siomw"):
            for transport in TRANSPORTS:
                outcome, data, _ = await connect_result(url, auth={"boom": 1},
                                                        transports=[transport])
                assert (outcome, data) == ("connect_error", INTERNAL)
                assert "hunter2" not in repr(data)
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
    records = [r for r in caplog.records if r.name == "siomw" and r.levelno >= logging.ERROR]
    assert len(records) == 2
    for record in records:
        assert "'fragile'" in record.getMessage()
        assert record.exc_info is not None and record.exc_info[0] is ValueError


@requires_js
async def test_exception_is_internal_error_js() -> None:
    """The JS client sees internal_error as err.message / err.data and is not retried."""
    sio, mw = make()

    @mw.use
    async def fragile(socket: Socket, call_next: CallNext) -> None:
        raise KeyError("secret")

    async with running(sio) as url:
        outcome = await js_outcome(url)
    assert outcome == {"event": "connect_error", "message": "Internal server error",
                       "data": {"code": "internal_error"}, "active": False}


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_middleware_timeout(transport: str, caplog: pytest.LogCaptureFixture) -> None:
    """With connect_timeout=0.3 a middleware sleeping 5 s refuses with middleware_timeout
    well before 5 s; the log names the middleware."""
    sio = socketio.AsyncServer(async_mode="asgi", **FAST_PING)
    mw = attach(sio, config=Config(source="test", core=CoreSettings()), entry_points=False,
                connect_timeout=0.3)
    called: list[str] = []

    @mw.use
    async def sluggish(socket: Socket, call_next: CallNext) -> None:
        await asyncio.sleep(5)
        await call_next()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        called.append(sid)

    async with running(sio) as url:
        with caplog.at_level(logging.ERROR, logger="siomw"):
            start = time.monotonic()
            outcome, data, _ = await connect_result(url, transports=[transport])
            elapsed = time.monotonic() - start
    assert (outcome, data) == ("connect_error", {
        "message": "Middleware timeout", "data": {"code": "middleware_timeout"},
    })
    assert elapsed < 2.5
    assert called == []
    assert any("'sluggish'" in r.getMessage() for r in caplog.records if r.name == "siomw")


@requires_js
async def test_middleware_timeout_js() -> None:
    """The JS client gets connect_error middleware_timeout, not a silent disconnect loop."""
    sio = socketio.AsyncServer(async_mode="asgi", **FAST_PING)
    mw = attach(sio, config=Config(source="test", core=CoreSettings()), entry_points=False,
                connect_timeout=0.3)

    @mw.use
    async def sluggish(socket: Socket, call_next: CallNext) -> None:
        await asyncio.sleep(5)

    async with running(sio) as url:
        outcome = await js_outcome(url)
    assert outcome == {"event": "connect_error", "message": "Middleware timeout",
                       "data": {"code": "middleware_timeout"}, "active": False}


async def test_returning_without_call_next_refuses(caplog: pytest.LogCaptureFixture) -> None:
    """A middleware returning without call_next refuses with internal_error and a warning
    naming it; the connect handler is not called."""
    sio, mw = make()
    called: list[str] = []

    @mw.use
    async def forgetful(socket: Socket, call_next: CallNext) -> None:
        socket.data["half"] = "done"

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        called.append(sid)

    async with running(sio) as url:
        with caplog.at_level(logging.WARNING, logger="siomw"):
            outcome, data, _ = await connect_result(url, transports=["websocket"])
    assert (outcome, data) == ("connect_error", INTERNAL)
    assert called == []
    warnings = [r for r in caplog.records if r.name == "siomw" and r.levelno == logging.WARNING]
    assert any("'forgetful'" in r.getMessage() for r in warnings)


async def test_call_next_twice_raises_inside_the_middleware() -> None:
    """A second call_next raises RuntimeError inside the middleware; the handler runs once
    and the client gets exactly one CONNECT."""
    sio, mw = make()
    errors: list[str] = []
    called: list[str] = []

    @mw.use
    async def greedy(socket: Socket, call_next: CallNext) -> None:
        await call_next()
        try:
            await call_next()
        except RuntimeError as exc:
            errors.append(str(exc))

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        called.append(sid)

    async with running(sio) as url:
        raw = RawClient()
        await raw.open(url)
        await raw.send("0")
        first = await raw.receive()
        assert first.packet_type == packet.CONNECT and first.data["sid"] == called[0]
        with pytest.raises(asyncio.TimeoutError):
            await raw.receive(timeout=0.3)
        await raw.close()
    assert len(called) == 1
    assert len(errors) == 1 and "'greedy'" in errors[0]


# --- clients that leave mid-chain -----------------------------------------------------------


class Held:
    """A middleware that holds each connection until released, and a record of what ran."""

    def __init__(self, sio: socketio.AsyncServer, mw: Siomw) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.finished = asyncio.Event()
        self.calls: list[str] = []
        self.sid = ""
        self.eio_sid = ""

        @mw.use
        async def hold(socket: Socket, call_next: CallNext) -> None:
            self.sid, self.eio_sid = socket.sid, socket.eio_sid
            socket.on_disconnect(lambda reason: self.calls.append("on_disconnect"))
            self.entered.set()
            try:
                await self.release.wait()
                await call_next()
            finally:
                self.finished.set()

        @sio.event
        async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
            self.calls.append("connect")

        @sio.event
        async def disconnect(sid: str, reason: str) -> None:
            self.calls.append("disconnect")


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_python_client_leaving_mid_chain_leaves_nothing(
    transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A python client that closes its engine session while its chain is held gets no
    connect handler and no disconnect handler, leaves nothing behind, and is no error."""
    sio, mw = make()
    held = Held(sio, mw)
    async with running(sio) as url:
        client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        connecting = asyncio.create_task(client.connect(url, transports=[transport],
                                                        wait_timeout=5))
        await asyncio.wait_for(held.entered.wait(), 5)
        assert held.sid in mw.connect_level.pending
        await client.eio.disconnect(abort=True)
        await eventually(lambda: held.eio_sid not in sio.eio.sockets)
        held.release.set()
        await asyncio.wait_for(held.finished.wait(), 5)
        connecting.cancel()
        with contextlib.suppress(BaseException):
            await connecting
        await asyncio.sleep(0.1)
        assert held.calls == []
        assert_nothing_left(sio, mw, held.sid, held.eio_sid)
    assert not [r for r in caplog.records if r.name == "siomw" and r.levelno >= logging.ERROR]


@requires_js
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_js_client_leaving_mid_chain_leaves_nothing(
    transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A JS client that leaves while a middleware sleeps gets nothing; no handler runs,
    nothing is left behind, and nothing is logged as an error."""
    sio, mw = make()
    calls: list[str] = []
    seen: dict[str, str] = {}
    finished = asyncio.Event()

    @mw.use
    async def slow(socket: Socket, call_next: CallNext) -> None:
        seen.update(sid=socket.sid, eio_sid=socket.eio_sid)
        try:
            await asyncio.sleep(1)
            await call_next()
        finally:
            finished.set()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        calls.append("connect")

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        calls.append("disconnect")

    async with running(sio) as url:
        observations = await js_client(url, transports=[transport], leaveAfterMs=200)
        assert [o["event"] for o in observations] == ["left"]
        await asyncio.wait_for(finished.wait(), 5)
        await eventually(lambda: seen["eio_sid"] not in sio.eio.sockets)
        await asyncio.sleep(0.1)
        assert calls == []
        assert_nothing_left(sio, mw, seen["sid"], seen["eio_sid"])
    assert not [r for r in caplog.records if r.name == "siomw" and r.levelno >= logging.ERROR]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_client_leaving_during_connect_handler_is_balanced(transport: str) -> None:
    """A client that leaves while the connect handler runs gets its disconnect handler
    (the handler saw a connect), once, and leaves nothing behind."""
    sio, mw = make()
    calls: list[str] = []
    inside = asyncio.Event()
    release = asyncio.Event()
    seen: dict[str, str] = {}

    @mw.use
    async def note(socket: Socket, call_next: CallNext) -> None:
        seen.update(sid=socket.sid, eio_sid=socket.eio_sid)
        await call_next()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        calls.append("connect")
        inside.set()
        await release.wait()

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        calls.append(f"disconnect:{reason}")

    async with running(sio) as url:
        raw = RawClient()
        await raw.open(url, transport)
        await raw.send("0")
        await asyncio.wait_for(inside.wait(), 5)
        await raw.close()
        await eventually(lambda: seen["eio_sid"] not in sio.eio.sockets)
        release.set()
        await eventually(lambda: len(calls) == 2)
        await asyncio.sleep(0.1)
    assert calls == ["connect", "disconnect:transport close"]
    assert_nothing_left(sio, mw, seen["sid"], seen["eio_sid"])


# --- broadcasts before acceptance -----------------------------------------------------------


async def test_no_broadcast_reaches_a_socket_before_it_is_accepted() -> None:
    """While A's chain is held, broadcasts to everyone, to a room A's middleware entered and
    to A's own sid do not reach A; connected B gets them; after acceptance A gets the next."""
    sio, mw = make()
    entered = asyncio.Event()
    release = asyncio.Event()
    held: dict[str, str] = {}

    @mw.use
    async def gate(socket: Socket, call_next: CallNext) -> None:
        await sio.enter_room(socket.sid, "lobby")
        if socket.handshake.auth.get("hold"):
            held["sid"] = socket.sid
            entered.set()
            await release.wait()
        await call_next()

    async with running(sio) as url:
        outcome, _, client_b = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        got_b: list[int] = []
        client_b.on("news", lambda data: got_b.append(data["n"]))

        client_a = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        got_a: list[int] = []
        client_a.on("news", lambda data: got_a.append(data["n"]))
        connecting = asyncio.create_task(client_a.connect(
            url, auth={"hold": True}, transports=["websocket"], wait_timeout=5))
        await asyncio.wait_for(entered.wait(), 5)

        await sio.emit("news", {"n": 1})
        await sio.emit("news", {"n": 2}, room="lobby")
        await sio.emit("news", {"n": 3}, to=held["sid"])
        await eventually(lambda: got_b == [1, 2])
        await asyncio.sleep(0.1)

        release.set()
        await asyncio.wait_for(connecting, 5)
        assert client_a.get_sid("/") == held["sid"]
        await sio.emit("news", {"n": 4}, room="lobby")
        await eventually(lambda: got_a == [4] and got_b == [1, 2, 4])
        await asyncio.sleep(0.1)
        assert got_a == [4]
        await client_a.disconnect()
        await client_b.disconnect()


# --- namespaces, retries, odd payloads -------------------------------------------------------


@requires_js
async def test_unknown_namespace_js() -> None:
    """A CONNECT to an unknown namespace gives the JS client err.message "Invalid namespace"."""
    sio, _ = make()
    async with running(sio) as url:
        outcome = await js_outcome(url, namespace="/nope")
    assert outcome["event"] == "connect_error"
    assert outcome["message"] == "Invalid namespace"
    assert outcome["data"] is None


async def test_unknown_namespace_python() -> None:
    """The python client gets {"message": "Invalid namespace"} for an unknown namespace, and
    no middleware runs for it."""
    sio, mw = make()
    ran: list[str] = []

    @mw.use(namespace=None)
    async def everywhere(socket: Socket, call_next: CallNext) -> None:
        ran.append(socket.namespace)
        await call_next()

    async with running(sio) as url:
        outcome, data, _ = await connect_result(url, namespace="/nope", transports=["websocket"])
    assert (outcome, data) == ("connect_error", {"message": "Invalid namespace"})
    assert ran == []


@pytest.mark.parametrize("refused_by", ["middleware", "handler"])
async def test_refused_retry_on_same_engine_session_sees_no_leftovers(refused_by: str) -> None:
    """A refused CONNECT retried on the same engine session starts with empty socket.data
    and an empty session: nothing of the previous attempt leaks."""
    sio, mw = make()
    attempts: list[dict[str, Any]] = []

    @mw.use
    async def check(socket: Socket, call_next: CallNext) -> None:
        attempts.append({"data": dict(socket.data),
                         "session": dict(await sio.get_session(socket.sid))})
        socket.data["user"] = socket.handshake.auth["user"]
        if refused_by == "middleware" and socket.handshake.auth["user"] == "mallory":
            raise Refusal("no mallory")
        await call_next()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        attempts.append({"handler": dict(await sio.get_session(sid))})
        return bool(auth["user"] != "mallory")

    @sio.event
    async def whoami(sid: str) -> dict[str, Any]:
        return dict(await sio.get_session(sid))

    async with running(sio) as url:
        raw = RawClient()
        await raw.open(url)
        await raw.send('0{"user":"mallory"}')
        refused = await raw.receive()
        assert refused.packet_type == packet.CONNECT_ERROR
        await raw.send('0{"user":"alice"}')
        accepted = await raw.receive()
        assert accepted.packet_type == packet.CONNECT
        await raw.send('21["whoami"]')
        ack = await raw.receive()
        assert ack.packet_type == packet.ACK and ack.data == [{"user": "alice"}]
        await raw.close()
    assert attempts[0] == {"data": {}, "session": {}}
    retry = attempts[2] if refused_by == "handler" else attempts[1]
    assert retry == {"data": {}, "session": {}}
    assert attempts[-1] == {"handler": {"user": "alice"}}


async def test_reconnect_on_same_engine_session_sees_no_leftovers() -> None:
    """A namespace DISCONNECT then CONNECT on one engine session starts with an empty
    session in the chain, not the previous connection's data."""
    sio, mw = make()
    sessions: list[dict[str, Any]] = []

    @mw.use
    async def check(socket: Socket, call_next: CallNext) -> None:
        sessions.append(dict(await sio.get_session(socket.sid)))
        socket.data["user"] = socket.handshake.auth["user"]
        await call_next()

    async with running(sio) as url:
        raw = RawClient()
        await raw.open(url)
        await raw.send('0{"user":"alice"}')
        assert (await raw.receive()).packet_type == packet.CONNECT
        await raw.send("1")
        await asyncio.sleep(0.1)
        await raw.send('0{"user":"bob"}')
        assert (await raw.receive()).packet_type == packet.CONNECT
        await raw.close()
    assert sessions == [{}, {}]


@pytest.mark.parametrize("payload", ["[1,2]", "true", '"just a string"', "null", "{}",
                                     '{"token":' + '"' + "x" * 100_000 + '"}',
                                     '{"token":{"nested":[1,{"a":null}]}}'])
async def test_odd_auth_payloads(payload: str) -> None:
    """Auth payloads that are not objects reach middlewares as {}; huge or nested ones
    arrive intact; the chain and handler run without error."""
    sio, mw = make()
    seen: list[Any] = []

    @mw.use
    async def capture(socket: Socket, call_next: CallNext) -> None:
        seen.append(socket.handshake.auth)
        await call_next()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        seen.append(auth)

    async with running(sio) as url:
        raw = RawClient()
        await raw.open(url)
        await raw.send("0" + payload)
        reply = await raw.receive()
        await raw.close()
    assert reply.packet_type == packet.CONNECT
    sent = json.loads(payload)
    assert seen[0] == (sent if isinstance(sent, dict) else {})
    assert seen[1] == (sent or None)


async def test_always_connect_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """always_connect=True is ignored (warning) so a refusal still arrives as connect_error."""
    with caplog.at_level(logging.WARNING, logger="siomw"):
        sio, mw = make(socketio.AsyncServer(async_mode="asgi", always_connect=True, **FAST_PING))
    assert any("always_connect" in r.getMessage() for r in caplog.records if r.name == "siomw")

    @mw.use
    async def no(socket: Socket, call_next: CallNext) -> None:
        raise Refusal("nope", {"code": "x"})

    async with running(sio) as url:
        outcome, data, _ = await connect_result(url, transports=["websocket"])
    assert (outcome, data) == ("connect_error", {"message": "nope", "data": {"code": "x"}})


def test_attach_twice_is_an_error() -> None:
    """Attaching siomw twice to one server is refused."""
    sio, _ = make()
    with pytest.raises(RuntimeError, match="already attached"):
        make(sio)


def test_not_a_server_is_refused() -> None:
    """siomw attaches to python-socketio servers (or Flask-SocketIO's); anything else is a
    TypeError naming the kinds it takes."""
    with pytest.raises(TypeError, match=r"socketio.AsyncServer, a socketio.Server or a "
                                        r"flask_socketio.SocketIO, not object"):
        attach(object(), config=Config(source="test", core=CoreSettings()),
               entry_points=False)


# --- edges of the contract -------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["refuse", "raise", "timeout"])
async def test_client_leaving_mid_chain_then_refusal_leaves_nothing(
    outcome: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that leaves while its chain is held leaves nothing behind whatever the chain
    then does: refuse, raise, or pass its deadline; no handler runs."""
    sio = socketio.AsyncServer(async_mode="asgi", **FAST_PING)
    mw = attach(sio, config=Config(source="test", core=CoreSettings()), entry_points=False,
                connect_timeout=1.0)
    calls: list[str] = []
    entered = asyncio.Event()
    release = asyncio.Event()
    finished = asyncio.Event()
    seen: dict[str, str] = {}

    @mw.use
    async def hold(socket: Socket, call_next: CallNext) -> None:
        seen.update(sid=socket.sid, eio_sid=socket.eio_sid)
        entered.set()
        try:
            if outcome == "timeout":
                await asyncio.sleep(5)
            await release.wait()
            if outcome == "refuse":
                raise Refusal("too late")
            raise ValueError("too late")
        finally:
            finished.set()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        calls.append("connect")

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        calls.append("disconnect")

    async with running(sio) as url:
        raw = RawClient()
        await raw.open(url)
        await raw.send("0")
        await asyncio.wait_for(entered.wait(), 5)
        await raw.close()
        await eventually(lambda: seen["eio_sid"] not in sio.eio.sockets)
        release.set()
        await asyncio.wait_for(finished.wait(), 5)
        await eventually(lambda: not mw.connect_level.pending)
        await asyncio.sleep(0.05)
        assert calls == []
        assert_nothing_left(sio, mw, seen["sid"], seen["eio_sid"])


@pytest.mark.parametrize("style", ["decorator", "class"])
async def test_deadline_passing_in_the_connect_handler_refuses(style: str) -> None:
    """A connect handler (decorator or AsyncNamespace) still running at the deadline refuses
    with middleware_timeout."""
    sio = socketio.AsyncServer(async_mode="asgi", **FAST_PING)
    attach(sio, config=Config(source="test", core=CoreSettings()), entry_points=False,
           connect_timeout=0.3)
    if style == "decorator":
        @sio.event
        async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
            await asyncio.sleep(5)
    else:
        class Slow(socketio.AsyncNamespace):  # type: ignore[misc]
            async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
                await asyncio.sleep(5)

        sio.register_namespace(Slow("/"))

    async with running(sio) as url:
        start = time.monotonic()
        outcome, data, client = await connect_result(url, transports=["websocket"])
        if outcome == "connect":
            await client.disconnect()
    assert (outcome, data) == ("connect_error", {
        "message": "Middleware timeout", "data": {"code": "middleware_timeout"},
    })
    assert time.monotonic() - start < 2.5


async def test_refusal_after_the_handler_ran_is_balanced() -> None:
    """When an outer middleware refuses after the connect handler accepted, the disconnect
    handler balances the connect handler (as it does for a client that left)."""
    sio, mw = make()
    calls: list[str] = []

    @mw.use
    async def veto(socket: Socket, call_next: CallNext) -> None:
        await call_next()
        raise Refusal("changed my mind")

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        calls.append("connect")

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        calls.append("disconnect")

    async with running(sio) as url:
        outcome, data, _ = await connect_result(url, transports=["websocket"])
        assert (outcome, data) == ("connect_error", {"message": "changed my mind"})
        await asyncio.sleep(0.1)
    assert calls == ["connect", "disconnect"]


async def test_unserialisable_refusal_data_still_answers_the_client() -> None:
    """A Refusal carrying data JSON cannot encode still answers the client (internal_error)."""
    sio, mw = make()

    @mw.use
    async def odd(socket: Socket, call_next: CallNext) -> None:
        raise Refusal("odd", {"when": object()})

    async with running(sio) as url:
        outcome, data, _ = await connect_result(url, transports=["websocket"], wait_timeout=1)
    assert (outcome, data) == ("connect_error", INTERNAL)


async def test_dynamic_namespaces_share_the_global_chain() -> None:
    """With namespaces="*", every namespace runs the use(namespace=None) members; "/" only
    members and of(ns) members stay where they belong."""
    sio, mw = make(socketio.AsyncServer(async_mode="asgi", namespaces="*", **FAST_PING))
    ran: list[tuple[str, str]] = []

    def recorder(label: str) -> Callable[[Socket, CallNext], Awaitable[None]]:
        async def func(socket: Socket, call_next: CallNext) -> None:
            ran.append((label, socket.namespace))
            await call_next()
        return func

    mw.use(recorder("all"), name="all", namespace=None)
    mw.use(recorder("root"), name="root")
    mw.of("/b").use(recorder("b"), name="b")
    async with running(sio) as url:
        for ns in ("/a", "/b", "/", "/c"):
            outcome, _, client = await connect_result(url, namespace=ns,
                                                      transports=["websocket"])
            assert outcome == "connect"
            await client.disconnect()
    assert ran == [("all", "/a"), ("all", "/b"), ("b", "/b"), ("all", "/"), ("root", "/"),
                   ("all", "/c")]


async def test_two_namespaces_on_one_engine_session() -> None:
    """A chain held on one namespace does not block another namespace of the same engine
    session; each is accepted on its own."""
    sio, mw = make()
    release = asyncio.Event()
    sio.on("connect", lambda sid, environ, auth: None, namespace="/fast")

    @mw.use
    async def slow_root(socket: Socket, call_next: CallNext) -> None:
        await release.wait()
        await call_next()

    async with running(sio) as url:
        raw = RawClient()
        await raw.open(url)
        await raw.send("0")
        await raw.send("0/fast,")
        first = await raw.receive()
        assert (first.packet_type, first.namespace) == (packet.CONNECT, "/fast")
        release.set()
        second = await raw.receive()
        assert (second.packet_type, second.namespace or "/") == (packet.CONNECT, "/")
        await raw.close()


async def test_middleware_ignoring_cancellation_still_times_out() -> None:
    """A middleware that swallows the deadline's cancel and keeps waiting is refused with
    middleware_timeout shortly after the deadline; its late end changes nothing."""
    sio, mw = make(socketio.AsyncServer(async_mode="asgi"), connect_timeout=0.3)
    release = asyncio.Event()
    handler_calls: list[str] = []

    @mw.use
    async def stubborn(socket: Socket, call_next: CallNext) -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            await release.wait()  # ignores the cancel
        await call_next()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        handler_calls.append(sid)

    async with serve(socketio.ASGIApp(sio)) as url:
        started = asyncio.get_running_loop().time()
        outcome, data, _ = await connect_result(url, transports=["websocket"], wait_timeout=4)
        elapsed = asyncio.get_running_loop().time() - started
        release.set()
        await asyncio.sleep(0.1)
    assert (outcome, data) == (
        "connect_error", {"message": "Middleware timeout", "data": {"code": "middleware_timeout"}}
    )
    assert elapsed < 2.5
    assert handler_calls == []
    assert not mw.connect_level.pending


async def test_middleware_raising_cancelled_error_is_internal_error() -> None:
    """A middleware whose own code raises CancelledError (no cancellation happened) is
    refused like any failing middleware, not left unanswered."""
    sio, mw = make()

    @mw.use
    async def odd(socket: Socket, call_next: CallNext) -> None:
        raise asyncio.CancelledError()

    async with serve(socketio.ASGIApp(sio)) as url:
        outcome, data, _ = await connect_result(url, transports=["websocket"])
    assert (outcome, data) == ("connect_error", INTERNAL)


def test_misspelt_order_name_warns_or_fails_when_strict(caplog: pytest.LogCaptureFixture) -> None:
    """A name in `order` that names no middleware is warned about (an error when strict)."""
    with caplog.at_level(logging.WARNING, logger="siomw"):
        make(order=["jtw"])
    assert "order: no middleware is named 'jtw'" in caplog.text
    with pytest.raises(OrderingError, match="jtw"):
        make(order=["jtw"], strict=True)


def test_duplicate_cookie_headers_join_with_semicolons() -> None:
    """Two Cookie headers are one cookie list (RFC 9113 §8.2.3), not a comma-joined value."""
    request = scope_request({"type": "http", "headers": [(b"cookie", b"a=1"),
                                                         (b"cookie", b"access_token=xyz")]})
    assert request.cookies == {"a": "1", "access_token": "xyz"}


def test_middleware_flags_must_be_booleans() -> None:
    """preflight="no" is an error, not a truthy string that means the opposite."""
    async def member(request: Any, call_next: CallNext) -> None:
        await call_next()

    with pytest.raises(TypeError, match="preflight must be True or False"):
        Middleware(name="m", func=member, level="engine", preflight="no")  # type: ignore[arg-type]
