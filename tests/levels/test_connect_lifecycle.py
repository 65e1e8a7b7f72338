"""The accepted side of a connection's life: a client that leaves in the moment between its
chain accepting it and python-socketio recording it as connected still gets its disconnect
handler and callbacks, and nothing of it stays (real server, raw Engine.IO client)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from siomw_core import CallNext, Socket
from tests.levels.test_connect import (
    TRANSPORTS,
    RawClient,
    assert_nothing_left,
    eventually,
    make,
    running,
)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_client_leaving_after_the_chain_accepted_is_disconnected(transport: str) -> None:
    """An outer member awaits after ``call_next`` (the handler accepted); the client leaves
    meanwhile. The connect handler is paired with the disconnect handler (reason
    ``transport close``), the socket's on_disconnect callbacks run, and neither the sid, its
    Socket nor its callbacks stay behind."""
    sio, mw = make()
    after = asyncio.Event()
    release = asyncio.Event()
    seen: dict[str, str] = {}
    calls: list[str] = []

    @mw.use
    async def outer(socket: Socket, call_next: CallNext) -> None:
        seen.update(sid=socket.sid, eio_sid=socket.eio_sid)
        socket.on_disconnect(lambda reason: calls.append(f"callback:{reason}"))
        await call_next()
        after.set()
        await release.wait()  # the accept decision is made, the bookkeeping is not

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        calls.append("connect")

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        calls.append(f"disconnect:{reason}")

    async with running(sio) as url:
        raw = RawClient()
        await raw.open(url, transport)
        await raw.send("0")
        await asyncio.wait_for(after.wait(), 5)
        await raw.close()
        await eventually(lambda: seen["eio_sid"] not in sio.eio.sockets)
        release.set()
        await eventually(lambda: len(calls) == 3)
        assert calls == ["connect", "disconnect:transport close", "callback:transport close"]
        assert seen["sid"] not in mw.connect_level.sockets
        assert not sio.manager.is_connected(seen["sid"], "/")
        assert not mw.connect_level._on_disconnect
        assert_nothing_left(sio, mw, seen["sid"], seen["eio_sid"])
