"""A WebSocket request at the engine level: the chain is done at the upgrade's answer.

On a server with an event loop (ASGI, aiohttp) an engine member's ``call_next`` returns once
the WebSocket's ``101`` went out, as Node's ``io.engine.use`` middlewares are done before the
upgrade is handled; the connection goes on without the members' frames, and the request's
``on_end`` hooks run when it closes. A chain holding a framework member (an ASGI
middleware, which by its spec wraps the whole connection) lasts the connection, and so does
every chain on a WSGI server, whose thread serves the connection inside the request. Real
servers, python-socketio's client and raw WebSockets.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any, ClassVar

import pytest
import websockets

from siomw_core import (
    CallNext,
    Config,
    CoreSettings,
    Middleware,
    Request,
    Siomw,
    asgi_middleware,
    hookimpl,
)
from siomw_core.testing import close_client, connect_result
from tests.levels.engine_kinds import Kind, eventually

MARK: contextvars.ContextVar[str] = contextvars.ContextVar("siomw_test_mark", default="")


def ws_url(url: str, query: str = "") -> str:
    return url.replace("http://", "ws://") + f"/socket.io/?EIO=4&transport=websocket{query}"


def timeline(mw: Any) -> list[tuple[str, int | None]]:
    """An engine member recording ``("returned", status)`` when its ``call_next`` returned
    and ``("end", status)`` from the request's ``on_end`` hook, for WebSocket requests."""
    events: list[tuple[str, int | None]] = []

    @mw.engine.use
    async def watch(request: Request, call_next: CallNext) -> None:
        if request.is_upgrade:
            request.on_end(lambda r: events.append(("end", r.status)))
        await call_next()
        if request.is_upgrade:
            events.append(("returned", request.status))

    return events


async def test_call_next_returns_at_the_101_and_on_end_at_the_close(engine_kind: Kind) -> None:
    """ASGI and aiohttp: ``call_next`` returns with status 101 while the socket is open; the
    socket then works (an event round trip) and ``on_end`` runs once it closed. WSGI: the
    request's thread serves the connection, so ``call_next`` returns at the close."""
    sio, mw = engine_kind.make()
    events = timeline(mw)
    engine_kind.handler(sio, "echo", lambda sid, value: value)
    async with engine_kind.serve(sio, mw) as url:
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        if engine_kind.sync:
            assert events == []
        else:
            await eventually(lambda: events == [("returned", 101)])
        assert await client.call("echo", "still open", timeout=5) == "still open"
        await close_client(client)
        if engine_kind.sync:
            await eventually(lambda: sorted(events) == [("end", 101), ("returned", 101)])
        else:
            await eventually(lambda: events == [("returned", 101), ("end", 101)])


async def test_engine_answering_a_websocket_itself_ends_the_chain(engine_kind: Kind) -> None:
    """A WebSocket the engine turns down before accepting it (an unknown sid) ends the chain
    with the engine's answer, not a 101; ``on_end`` has run by then."""
    sio, mw = engine_kind.make()
    events = timeline(mw)
    async with engine_kind.serve(sio, mw) as url:
        try:
            async with websockets.connect(ws_url(url, "&sid=nosuchsid")) as ws:
                await asyncio.wait_for(ws.recv(), 5)
        except (websockets.InvalidStatus, websockets.ConnectionClosed):
            pass
        await eventually(lambda: len(events) == 2)
    assert {name for name, _ in events} == {"returned", "end"}
    assert all(status is not None and status != 101 for _, status in events)


async def test_context_set_before_call_next_reaches_the_connection() -> None:
    """A contextvar an engine member sets before ``call_next`` is what the connect handler
    sees: the connection's task is started from inside the chain (it copies the context)."""
    kind = Kind("asgi")
    sio, mw = kind.make()
    seen: list[str] = []

    @mw.engine.use
    async def mark(request: Request, call_next: CallNext) -> None:
        MARK.set(f"from {request.transport}")
        await call_next()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        seen.append(MARK.get())

    async with kind.serve(sio, mw) as url:
        outcome, _, client = await connect_result(url, transports=["websocket"])
        await close_client(client)
    assert outcome == "connect"
    assert seen == ["from websocket"]


class Wraps:
    """A plain ASGI middleware that records when its app returned (for WebSockets)."""

    returned: ClassVar[list[str]] = []

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            Wraps.returned.append("app returned")


async def test_a_framework_member_keeps_the_chain_for_the_connection() -> None:
    """With an ASGI middleware in the chain, the chain lasts the connection (the ASGI spec:
    its app call is the connection): ``call_next`` returns when the WebSocket closed."""
    kind = Kind("asgi")
    sio, mw = kind.make()
    Wraps.returned = []
    mw.add(asgi_middleware(Wraps))
    events = timeline(mw)
    async with kind.serve(sio, mw) as url:
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await asyncio.sleep(0.3)
        assert events == [] and Wraps.returned == []  # open: nothing returned yet
        await close_client(client)
        await eventually(lambda: len(events) == 2 and Wraps.returned == ["app returned"])
    assert sorted(events) == [("end", 101), ("returned", 101)]


async def test_server_shutdown_with_open_websockets_ends_each_request() -> None:
    """Stopping the server while WebSockets are open closes them; each request's
    ``on_end`` still runs (the connection's own task finishes it)."""
    kind = Kind("asgi")
    sio, mw = kind.make()
    events = timeline(mw)
    async with kind.serve(sio, mw) as url:
        clients = []
        for _ in range(3):
            outcome, _, client = await connect_result(url, transports=["websocket"])
            assert outcome == "connect"
            clients.append(client)
        await eventually(lambda: events.count(("returned", 101)) == 3)
    await eventually(lambda: events.count(("end", 101)) == 3)
    for client in clients:
        await close_client(client)


class _Watcher:
    """An in-code plugin whose engine member records when its ``call_next`` returned for a
    WebSocket; ``contract``: what its ``siomw_contract`` declares."""

    def __init__(self, contract: str) -> None:
        self.contract = contract
        self.returned: list[int | None] = []

    @hookimpl
    def siomw_contract(self) -> str:
        return self.contract

    @hookimpl
    def siomw_middlewares(self, config: Any, settings: Any, runtime: Any) -> list[Middleware]:
        async def watcher(request: Request, call_next: CallNext) -> None:
            await call_next()
            if request.is_upgrade:
                self.returned.append(request.status)

        return [Middleware(name="watcher", func=watcher, level="engine")]


@pytest.mark.parametrize(("contract", "held"), [(">=1.0,<2", True), (">=1.1,<2", True),
                                                 (">=1.2,<2", False)])
async def test_a_plugin_made_for_contract_1_0_or_1_1_keeps_the_connection(
        contract: str, held: bool) -> None:
    """Contract 1.0 and 1.1 promised that a WebSocket's ``call_next`` returns at its close:
    a plugin whose range admits them keeps that promise; one declaring ``>=1.2`` is done at
    the 101 (``siomw_core.contract.keeps_connection``)."""
    plugin = _Watcher(contract)
    sio = Kind("asgi").server()
    mw = Siomw(sio, config=Config(source="test", core=CoreSettings(plugins=["watch"])),
               local_plugins=[("watch", plugin)], entry_points=False)
    async with Kind("asgi").serve(sio, mw) as url:
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await asyncio.sleep(0.3)
        assert plugin.returned == ([] if held else [101])
        await close_client(client)
        await eventually(lambda: plugin.returned == [101])


async def test_a_legacy_plugin_with_engine_members_is_named_once(
        caplog: pytest.LogCaptureFixture) -> None:
    """A plugin made for contract 1.0 or 1.1 with an engine member is named in one warning
    (what it costs, what lifts it), once per process, however often a stack is attached."""
    from siomw_core import server

    server._KEEPERS_TOLD.discard("oldwatch")
    caplog.set_level(logging.WARNING, logger="siomw")
    for _ in range(2):
        Siomw(Kind("asgi").server(),
              config=Config(source="test", core=CoreSettings(plugins=["oldwatch"])),
              local_plugins=[("oldwatch", _Watcher(">=1.0,<2"))], entry_points=False)
    told = [r.getMessage() for r in caplog.records if "contract 1.0 or 1.1" in r.getMessage()]
    assert told == ["siomw: plugin 'oldwatch' is made for plugin contract 1.0 or 1.1 (its "
                    "range '>=1.0,<2'): a WebSocket's engine chain lasts its connection while "
                    "one of its engine members is in it, as those contracts promised (a few "
                    "KB per open socket); a release of it declaring '>=1.2' is done at the "
                    "101"]


async def test_a_member_failing_after_the_101_is_logged_as_such(
        caplog: pytest.LogCaptureFixture) -> None:
    """A member raising after its call_next returned at the 101: the socket stays open
    (nothing can be refused), and the log says so rather than claiming a refusal."""
    kind = Kind("asgi")
    sio, mw = kind.make()

    @mw.engine.use
    async def late(request: Request, call_next: CallNext) -> None:
        await call_next()
        if request.is_upgrade:
            raise RuntimeError("after the 101")

    kind.handler(sio, "echo", lambda sid, value: value)
    caplog.set_level(logging.ERROR, logger="siomw")
    async with kind.serve(sio, mw) as url:
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        assert await client.call("echo", "open", timeout=5) == "open"
        await close_client(client)
    lines = [r.getMessage() for r in caplog.records if r.name == "siomw"]
    assert lines == ["siomw: middleware 'late' raised for <Request GET /socket.io/ sid=None> "
                     "after its response started (status 101): nothing can be refused any "
                     "more; outer members see internal_error"]
