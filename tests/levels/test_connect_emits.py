"""What the connect chain and handler emit to the socket they are accepting.

python-socketio delivers a connect handler's ``emit(..., to=sid)`` (the welcome message, the
initial state); siomw holds such packets while the socket is pending and sends them right
after its CONNECT, in order, and drops them when the attempt is refused. Packets from
anywhere else never reach a pending socket. Real uvicorn servers, the reference JS
``socket.io-client`` (``tests.jsclient``) and python-socketio's ``AsyncClient``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
from pathlib import Path
from typing import Any

import pytest
import socketio

from siomw_core import CallNext, Refusal, Socket
from siomw_core.testing import serve
from tests.conftest import requires_js
from tests.jsclient import js_client
from tests.levels.test_connect import TRANSPORTS, eventually, make, running

pytestmark = requires_js

TARGETS = ["to_sid", "room", "broadcast"]


def seen(observations: list[dict[str, Any]]) -> list[Any]:
    """The client's connect and listened events, in order (its own final disconnect aside)."""
    out: list[Any] = []
    for obs in observations:
        if obs["event"] == "connect":
            out.append("connect")
        elif obs["event"] == "on":
            out.append((obs["name"], obs["args"]))
        elif obs["event"] == "connect_error":
            out.append(("connect_error", obs["message"]))
    return out


async def emit_to(sio: socketio.AsyncServer, target: str, sid: str, *args: Any) -> None:
    """Emit "hello" to the connecting socket by sid, by a room it joined, or to everyone."""
    data = tuple(args)
    if target == "to_sid":
        await sio.emit("hello", data, to=sid)
    elif target == "room":
        await sio.enter_room(sid, "lobby")
        await sio.emit("hello", data, room="lobby")
    else:
        await sio.emit("hello", data)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("target", TARGETS)
async def test_connect_handler_emits_arrive_after_connect(transport: str, target: str) -> None:
    """The handler's emits reach the JS client after `connect`, in order, with their exact
    arguments; what a middleware emitted before the handler comes first."""
    sio, mw = make()

    @mw.use
    async def greet_early(socket: Socket, call_next: CallNext) -> None:
        await sio.emit("hello", "from middleware", to=socket.sid)
        await call_next()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        await emit_to(sio, target, sid, "welcome", {"n": 1, "items": [1, 2]})
        await asyncio.sleep(0.05)  # an await between emits keeps their order
        await emit_to(sio, target, sid, "state", 2)

    async with running(sio) as url:
        observations = await js_client(url, transports=[transport], listen=["hello"],
                                       lingerMs=400)
    assert seen(observations) == [
        "connect",
        ("hello", ["from middleware"]),
        ("hello", ["welcome", {"n": 1, "items": [1, 2]}]),
        ("hello", ["state", 2]),
    ]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_held_emit_with_ack_callback_is_answered(transport: str) -> None:
    """An emit with an ack callback from the handler is delivered after CONNECT and its
    callback gets the client's answer."""
    sio, _ = make()
    acks: list[Any] = []
    answered = asyncio.Event()

    def on_ack(*args: Any) -> None:
        acks.append(list(args))
        answered.set()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        await sio.emit("hello", {"ask": True}, to=sid, callback=on_ack)

    async with running(sio) as url:
        observations = await js_client(url, transports=[transport], listen=["hello"],
                                       lingerMs=400)
        await asyncio.wait_for(answered.wait(), 5)
    assert seen(observations) == ["connect", ("hello", [{"ask": True}])]
    assert acks == [["ack:hello"]]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("refused_by", ["handler", "outer_middleware"])
async def test_refused_attempt_receives_none_of_its_emits(
    transport: str, refused_by: str
) -> None:
    """Emits of a refused attempt (to its sid, a room, everyone) are dropped: the client
    sees only connect_error; a connected client still gets the broadcast."""
    # pings of a second: the connected client must not miss one while Node starts on a
    # busy machine (FAST_PING's half second dropped it, and with it the broadcast)
    sio, mw = make(socketio.AsyncServer(async_mode="asgi", ping_interval=1, ping_timeout=5))
    calls: list[str] = []

    @mw.use
    async def veto(socket: Socket, call_next: CallNext) -> None:
        await call_next()
        if refused_by == "outer_middleware" and socket.handshake.auth.get("refuse"):
            raise Refusal("changed my mind")

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        calls.append("connect")
        if not (auth or {}).get("refuse"):
            return True
        for target in TARGETS:
            await emit_to(sio, target, sid, target)
        return refused_by != "handler"

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        calls.append("disconnect")

    async with running(sio) as url:
        other = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        got_other: list[Any] = []
        other.on("hello", lambda *args: got_other.append(list(args)))
        await other.connect(url, transports=["websocket"], wait_timeout=5)
        observations = await js_client(url, transports=[transport], auth={"refuse": True},
                                       listen=["hello"], lingerMs=300)
        await eventually(lambda: got_other != [])
        await other.disconnect()
    expected = "Connection rejected by server" if refused_by == "handler" else "changed my mind"
    assert seen(observations) == [("connect_error", expected)]
    assert got_other == [["broadcast"]]
    if refused_by == "handler":
        assert calls == ["connect", "connect", "disconnect"]  # other's, ours, other's leaving
    else:  # the handler accepted: its disconnect handler balances it
        assert calls == ["connect", "connect", "disconnect", "disconnect"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_emits_from_elsewhere_never_reach_a_pending_socket(transport: str) -> None:
    """While A is pending, a broadcast and an emit to A's sid from another task, and a
    broadcast from B's connect handler, do not reach A; A's own handler's emit does."""
    sio, mw = make()
    entered = asyncio.Event()
    release = asyncio.Event()
    pending: dict[str, str] = {}

    @mw.use
    async def gate(socket: Socket, call_next: CallNext) -> None:
        if socket.handshake.auth.get("hold"):
            pending["sid"] = socket.sid
            await sio.enter_room(socket.sid, "lobby")
            entered.set()
            await release.wait()
        await call_next()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        if (auth or {}).get("hold"):
            await sio.emit("hello", "mine", to=sid)
        else:  # B's handler broadcasts while A is still pending
            await sio.emit("hello", "from B's handler")

    async def elsewhere() -> None:
        await sio.emit("hello", "broadcast from a task")
        await sio.emit("hello", "room from a task", room="lobby")
        await sio.emit("hello", "to A from a task", to=pending["sid"])

    async with running(sio) as url:
        a = asyncio.create_task(js_client(url, transports=[transport], auth={"hold": True},
                                          listen=["hello"], lingerMs=300))
        try:
            await asyncio.wait_for(entered.wait(), 5)
            await asyncio.create_task(elsewhere())
            b = socketio.AsyncClient(reconnection=False, handle_sigint=False)
            got_b: list[Any] = []
            b.on("hello", lambda data: got_b.append(data))
            await b.connect(url, transports=["websocket"], wait_timeout=5)
            await asyncio.sleep(0.2)
            release.set()
            observations = await asyncio.wait_for(a, 15)
            await b.disconnect()
        finally:
            release.set()
            if not a.done():
                a.cancel()
                with contextlib.suppress(BaseException):
                    await a
    assert seen(observations) == ["connect", ("hello", ["mine"])]
    assert got_b == ["from B's handler"]


async def test_docs_welcome_example_runs_as_written() -> None:
    """docs/examples/connect_welcome.py: the handler's greetings arrive after connect, in
    order; "/staff" exists with no handler and refuses with the ConnectionRefusedError's
    message and data."""
    path = Path(__file__).resolve().parents[2] / "docs" / "examples" / "connect_welcome.py"
    spec = importlib.util.spec_from_file_location("example_connect_welcome", path)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    async with serve(example.app) as url:
        greeted = await js_client(url, listen=["hello"], lingerMs=300)
        refused = await js_client(url, namespace="/staff")
        staff = await js_client(url, namespace="/staff", auth={"badge": "b-42"})
    assert seen(greeted) == ["connect", ("hello", [{"motd": "welcome"}]),
                             ("hello", [{"room": "lobby"}])]
    assert refused[0] == {"event": "connect_error", "message": "staff only",
                          "data": {"code": "not_staff"}, "active": False}
    assert seen(staff) == ["connect"]
