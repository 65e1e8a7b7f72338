"""The per-member timing hook (``siomw_core.observe``): real servers of every kind (asgi,
aiohttp, wsgi), real clients; what an observer plugin is told of each level's runs and
members, refusals by code, a member that raises, a deadline, sockets that come and go, and
an observer that raises."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import socketio

from siomw_core import (
    Config,
    CoreSettings,
    Event,
    Middleware,
    Observer,
    Refusal,
    Request,
    Socket,
    attach,
    hookimpl,
)
from tests.levels.engine_kinds import HANDSHAKE, Kind, curl, eventually

Record = tuple[Any, ...]


class Recorder(Observer):
    """Keeps every report, in order."""

    def __init__(self) -> None:
        self.chains: list[Record] = []
        self.members: list[Record] = []
        self.sockets: list[Record] = []

    def chain_done(self, level: Any, namespace: Any, outcome: Any, code: Any,
                   seconds: float) -> None:
        self.chains.append((level, namespace, outcome, code, seconds))

    def member_done(self, level: Any, name: str, namespace: Any, outcome: Any, code: Any,
                    seconds: float) -> None:
        self.members.append((level, name, namespace, outcome, code, seconds))

    def socket_connected(self, namespace: str) -> None:
        self.sockets.append(("connected", namespace))

    def socket_disconnected(self, namespace: str) -> None:
        self.sockets.append(("disconnected", namespace))

    def chain(self, level: str) -> list[Record]:
        return [c[:4] for c in self.chains if c[0] == level]

    def member(self, level: str, name: str) -> list[Record]:
        return [m[2:5] for m in self.members if m[0] == level and m[1] == name]


SLEEP = 0.2  # the inner connect member's own wait for the user "slow" (seconds)


class Watcher:
    """An in-code plugin: members at each level and a :class:`Recorder` as its observer."""

    def __init__(self) -> None:
        self.recorder = Recorder()

    @hookimpl
    def siomw_observer(self) -> Observer:
        return self.recorder

    @hookimpl
    def siomw_middlewares(self, runtime: Any) -> list[Middleware]:
        blocking = runtime.blocking
        if blocking:
            def gate(request: Request, call_next: Any) -> None:
                if "x-deny" in request.headers:
                    raise Refusal("no entry", {"code": "denied"}, status=401)
                call_next()

            def outer(socket: Socket, call_next: Any) -> None:
                call_next()

            def judge(socket: Socket, call_next: Any) -> None:
                _judge(socket)
                if socket.handshake.auth.get("user") == "slow":
                    time.sleep(SLEEP)
                call_next()

            def events(event: Event, call_next: Any) -> None:
                if not _event(event):
                    call_next()
        else:
            async def gate(request: Request, call_next: Any) -> None:  # type: ignore[misc]
                if "x-deny" in request.headers:
                    raise Refusal("no entry", {"code": "denied"}, status=401)
                await call_next()

            async def outer(socket: Socket, call_next: Any) -> None:  # type: ignore[misc]
                await call_next()

            async def judge(socket: Socket, call_next: Any) -> None:  # type: ignore[misc]
                _judge(socket)
                if socket.handshake.auth.get("user") == "slow":
                    await asyncio.sleep(SLEEP)
                await call_next()

            async def events(event: Event, call_next: Any) -> None:  # type: ignore[misc]
                if not _event(event):
                    await call_next()

        return [
            Middleware("gate", gate, level="engine"),
            Middleware("outer", outer, priority=10),
            Middleware("judge", judge),
            Middleware("events", events, level="event"),
        ]


async def _own(event: Event, call_next: Any) -> None:
    await call_next()


def _judge(socket: Socket) -> None:
    user = socket.handshake.auth.get("user")
    if user == "own":  # a member of this socket only (Node's socket.use)
        socket.use(_own, name="own")
    if user == "mallory":
        raise Refusal("banned", {"code": "banned"})
    if user == "boom":
        raise ValueError("a member's bug")


def _event(event: Event) -> bool:
    """Refuse ``forbidden``, answer ``cached``; True when answered."""
    if event.name == "forbidden":
        raise Refusal("not allowed", {"code": "nope"})
    if event.name == "cached":
        event.reply("from cache")
        return True
    return False


class Broken(Observer):
    """An observer whose every report raises."""

    def chain_done(self, *args: Any) -> None:
        raise RuntimeError("observer bug")

    def member_done(self, *args: Any) -> None:
        raise RuntimeError("observer bug")


class BrokenPlugin:
    @hookimpl
    def siomw_observer(self) -> Observer:
        return Broken()


def make(kind: Kind, *plugins: tuple[str, object], **core: Any) -> tuple[Any, Any]:
    sio = kind.server()
    kind.handler(sio, "echo", lambda sid, *args: list(args))
    kind.handler(sio, "forbidden", lambda sid, *args: "never")
    kind.handler(sio, "connect", lambda sid, environ, auth=None: None)
    mw = attach(sio, config=Config(source="test", core=CoreSettings(**core)),
                entry_points=False, local_plugins=list(plugins))
    return sio, mw


async def connect(url: str, auth: dict[str, Any]) -> tuple[str, Any, socketio.AsyncClient]:
    """Connect a real client; ``("connect", None, client)`` or ``("connect_error", data,
    client)``."""
    client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
    seen: asyncio.Future[tuple[str, Any]] = asyncio.get_running_loop().create_future()

    async def on_connect() -> None:
        if not seen.done():
            seen.set_result(("connect", None))

    async def on_error(data: Any = None) -> None:
        if not seen.done():
            seen.set_result(("connect_error", data))

    client.on("connect", on_connect)
    client.on("connect_error", on_error)
    task = asyncio.create_task(client.connect(url, auth=auth, transports=["websocket"],
                                              wait_timeout=5))
    outcome, data = await asyncio.wait_for(seen, 10)
    if outcome == "connect_error":
        if isinstance(data, dict) and "data" in data:  # {"message", "data"} over WebSocket
            data = data["data"]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.disconnect()
    else:
        await task
    return outcome, data, client


@contextmanager
def no_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    yield
    assert [r.getMessage() for r in caplog.records if "observer" in r.getMessage()] == []


@pytest.fixture(params=["asgi", "aiohttp", "wsgi"])
def kind(request: pytest.FixtureRequest) -> Kind:
    return Kind(request.param)


async def test_engine_runs_and_members(kind: Kind) -> None:
    watcher = Watcher()
    sio, mw = make(kind, ("watch", watcher))
    rec = watcher.recorder
    async with kind.serve(sio, mw) as url:
        refused = await curl(url + HANDSHAKE, "-H", "X-Deny: 1")
        assert refused.status == 401
        await eventually(lambda: ("engine", None, "refused", "denied") in rec.chain("engine"))
        assert ("refused", "denied", None) not in rec.member("engine", "gate")
        assert (None, "refused", "denied") in rec.member("engine", "gate")
        passed = await curl(url + HANDSHAKE)
        assert passed.status == 200
        await eventually(lambda: ("engine", None, "accepted", None) in rec.chain("engine"))
        assert (None, "accepted", None) in rec.member("engine", "gate")
    assert all(c[4] >= 0 for c in rec.chains) and all(m[5] >= 0 for m in rec.members)


async def test_connect_outcomes_by_code(kind: Kind) -> None:
    watcher = Watcher()
    sio, mw = make(kind, ("watch", watcher), connect_timeout=SLEEP / 4)
    rec = watcher.recorder
    async with kind.serve(sio, mw) as url:
        outcome, _, client = await connect(url, {"user": "alice"})
        assert outcome == "connect"
        await eventually(lambda: ("connected", "/") in rec.sockets)
        assert rec.chain("connect") == [("connect", "/", "accepted", None)]
        assert rec.member("connect", "outer") == [("/", "accepted", None)]
        assert rec.member("connect", "judge") == [("/", "accepted", None)]
        await client.disconnect()
        await eventually(lambda: ("disconnected", "/") in rec.sockets)
        assert rec.sockets == [("connected", "/"), ("disconnected", "/")]

        outcome, data, _ = await connect(url, {"user": "mallory"})
        assert (outcome, data["code"]) == ("connect_error", "banned")
        await eventually(lambda: len(rec.chain("connect")) == 2)
        assert rec.chain("connect")[1] == ("connect", "/", "refused", "banned")
        assert rec.member("connect", "judge")[1] == ("/", "refused", "banned")
        assert rec.member("connect", "outer")[1] == ("/", "refused", "banned")

        outcome, data, _ = await connect(url, {"user": "boom"})
        assert (outcome, data["code"]) == ("connect_error", "internal_error")
        await eventually(lambda: len(rec.chain("connect")) == 3)
        assert rec.chain("connect")[2] == ("connect", "/", "error", "internal_error")
        assert rec.member("connect", "judge")[2] == ("/", "error", "internal_error")

        outcome, data, _ = await connect(url, {"user": "slow"})
        assert (outcome, data["code"]) == ("connect_error", "middleware_timeout")
        await eventually(lambda: len(rec.chain("connect")) == 4, timeout=5)
        assert rec.chain("connect")[3] == ("connect", "/", "timeout", "middleware_timeout")
        assert rec.member("connect", "outer")[3] == ("/", "timeout", "middleware_timeout")
    # refused attempts were never connected: the gauge's reports stayed paired
    assert rec.sockets == [("connected", "/"), ("disconnected", "/")]


async def test_member_time_is_its_own(kind: Kind) -> None:
    """A member's seconds leave out its call_next: the outer member's own time and the
    inner one's (which slept) fit in the chain's."""
    watcher = Watcher()
    sio, mw = make(kind, ("watch", watcher), connect_timeout=10)
    rec = watcher.recorder
    async with kind.serve(sio, mw) as url:
        outcome, _, client = await connect(url, {"user": "slow"})
        assert outcome == "connect"
        await client.disconnect()
    (chain,) = [c for c in rec.chains if c[0] == "connect"]
    (outer,) = [m[5] for m in rec.members if m[1] == "outer"]
    (judge,) = [m[5] for m in rec.members if m[1] == "judge"]
    assert judge >= SLEEP
    assert outer + judge <= chain[4]
    assert outer <= chain[4] - SLEEP


async def test_event_outcomes(kind: Kind) -> None:
    watcher = Watcher()
    sio, mw = make(kind, ("watch", watcher))
    rec = watcher.recorder
    async with kind.serve(sio, mw) as url:
        outcome, _, client = await connect(url, {"user": "alice"})
        assert outcome == "connect"
        assert await client.call("echo", 1, timeout=5) == [1]
        refused = await client.call("forbidden", timeout=5)
        assert refused["error"]["data"]["code"] == "nope"
        assert await client.call("cached", timeout=5) == "from cache"
        await client.disconnect()
    assert rec.chain("event") == [("event", "/", "accepted", None),
                                  ("event", "/", "refused", "nope"),
                                  ("event", "/", "answered", None)]
    assert rec.member("event", "events") == [("/", "accepted", None),
                                             ("/", "refused", "nope"),
                                             ("/", "answered", None)]


async def test_a_sockets_own_members_are_timed(kind: Kind) -> None:
    watcher = Watcher()
    sio, mw = make(kind, ("watch", watcher))
    rec = watcher.recorder
    async with kind.serve(sio, mw) as url:
        first, _, own = await connect(url, {"user": "own"})
        second, _, other = await connect(url, {"user": "alice"})
        assert (first, second) == ("connect", "connect")
        for client in (own, other):
            assert await client.call("echo", 3, timeout=5) == [3]
        assert await own.call("echo", 4, timeout=5) == [4]
        for client in (own, other):
            await client.disconnect()
    assert rec.member("event", "own") == [("/", "accepted", None)] * 2
    assert rec.member("event", "events") == [("/", "accepted", None)] * 3
    assert rec.chain("event") == [("event", "/", "accepted", None)] * 3


async def test_an_observer_that_raises_is_logged_once(
        kind: Kind, caplog: pytest.LogCaptureFixture) -> None:
    watcher = Watcher()
    sio, mw = make(kind, ("broken", BrokenPlugin()), ("watch", watcher))
    rec = watcher.recorder
    caplog.set_level(logging.ERROR, logger="siomw")
    async with kind.serve(sio, mw) as url:
        for _ in range(2):
            outcome, _, client = await connect(url, {"user": "alice"})
            assert outcome == "connect"  # the chain's outcome is untouched
            await client.disconnect()
        outcome, data, _ = await connect(url, {"user": "mallory"})
        assert data["code"] == "banned"
    broken = [r for r in caplog.records if "observer of plugin 'broken'" in r.getMessage()]
    # once per method that raised (chain_done, member_done), whatever the number of runs
    assert sorted(r.getMessage().split(" raised in ")[1].split()[0] for r in broken) == [
        "chain_done", "member_done"]
    # the other observer was still told everything
    assert [c[2] for c in rec.chains if c[0] == "connect"] == ["accepted", "accepted",
                                                               "refused"]


async def test_nothing_is_timed_without_an_observer(kind: Kind) -> None:
    sio, mw = make(kind)
    assert mw.connect_level.observer is None
    assert mw.event_level.observer is None
    assert sio.eio.handle_request._siomw_seam.level.observer is None
    async with kind.serve(sio, mw) as url:
        outcome, _, client = await connect(url, {"user": "alice"})
        assert outcome == "connect"
        assert await client.call("echo", 2, timeout=5) == [2]
        await client.disconnect()


async def test_observers_are_collected_once_with_their_config(kind: Kind) -> None:
    watcher = Watcher()
    sio, mw = make(kind, ("watch", watcher))
    observers = mw.connect_level.observer
    assert observers is not None
    assert observers is mw.event_level.observer
    assert observers is sio.eio.handle_request._siomw_seam.level.observer
    assert observers.observers == (("watch", watcher.recorder),)
