"""Clients of a deployment, each from its own loopback address: python-socketio's
AsyncClient (:class:`PyPeer`) and the JS socket.io-client (:class:`JsPeer`, ``client.mjs``),
with one interface: connect, call an event (its ack), what arrived of an event."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import socketio

from tests.deploy.harness import token

CLIENT_JS = Path(__file__).with_name("client.mjs")
LISTEN = ("news",)


class Peer(Protocol):
    """One client of the deployment."""

    address: str
    transport: str
    received: dict[str, list[Any]]

    async def connect(self, **auth: Any) -> None: ...
    async def call(self, event: str, *args: Any) -> Any: ...
    async def wait_for(self, event: str, count: int = 1) -> list[Any]: ...
    async def close(self) -> None: ...


class _Arrivals:
    """What arrived of each listened event, and a way to wait for it (bounded)."""

    def __init__(self) -> None:
        self.received: dict[str, list[Any]] = {name: [] for name in LISTEN}
        self._changed = asyncio.Condition()

    async def arrived(self, name: str, data: Any) -> None:
        async with self._changed:
            self.received.setdefault(name, []).append(data)
            self._changed.notify_all()

    async def wait_for(self, event: str, count: int = 1) -> list[Any]:
        """The first ``count`` arrivals of ``event`` (10 s at most)."""
        async with asyncio.timeout(10), self._changed:
            await self._changed.wait_for(lambda: len(self.received.get(event, [])) >= count)
        return self.received[event][:count]


class PyPeer(_Arrivals):
    """python-socketio's AsyncClient on ``transport``, its connections from ``address``
    (an aiohttp session bound there: polling requests and the WebSocket alike)."""

    def __init__(self, url: str, address: str, transport: str, sub: str) -> None:
        super().__init__()
        self.url, self.address, self.transport, self.sub = url, address, transport, sub
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(address, 0)))
        self.client = socketio.AsyncClient(reconnection=False, http_session=self.http)
        for name in LISTEN:
            self.client.on(name, self._handler(name))

    def _handler(self, name: str) -> Any:
        async def handler(data: Any) -> None:
            await self.arrived(name, data)
        return handler

    async def connect(self, **auth: Any) -> None:
        """Connect (with ``auth`` beside the token); a refusal raises."""
        await self.client.connect(self.url, transports=[self.transport], wait_timeout=15,
                                  auth={"token": token(self.sub), **auth})

    async def call(self, event: str, *args: Any) -> Any:
        """Emit ``event`` with ``args``; its ack (10 s at most)."""
        data = args[0] if len(args) == 1 else (tuple(args) if args else None)
        return await self.client.call(event, data, timeout=10)

    async def close(self) -> None:
        """Leave: the CLOSE packet sent without waiting for python-engineio's read loop (a
        polling client's waits for its long poll, up to 30 s); closing the session ends it."""
        await self.client.eio.disconnect(abort=True)
        await self.http.close()


class JsPeer(_Arrivals):
    """The JS socket.io-client (``client.mjs``) on ``transport``, bound to ``address``."""

    def __init__(self, url: str, address: str, transport: str, sub: str) -> None:
        super().__init__()
        self.url, self.address, self.transport, self.sub = url, address, transport, sub
        self.proc: asyncio.subprocess.Process | None = None
        self.connected = asyncio.get_running_loop().create_future()
        self.acks: dict[int, asyncio.Future[Any]] = {}
        self.reader: asyncio.Task[None] | None = None
        self.next_id = 0

    async def connect(self, **auth: Any) -> None:
        """Start the client; wait until it connects (a refusal raises)."""
        spec = {"url": self.url, "localAddress": self.address, "transports": [self.transport],
                "auth": {"token": token(self.sub), **auth}, "listen": list(LISTEN)}
        self.proc = await asyncio.create_subprocess_exec(
            "node", str(CLIENT_JS), json.dumps(spec), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE)
        self.reader = asyncio.create_task(self._read())
        outcome = await asyncio.wait_for(self.connected, 15)
        if outcome["event"] != "connect":
            raise ConnectionError(f"JS client from {self.address}: {outcome}")

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            obs = json.loads(line)
            kind = obs["event"]
            if kind in ("connect", "connect_error") and not self.connected.done():
                self.connected.set_result(obs)
            elif kind == "on":
                await self.arrived(obs["name"], obs["args"][0] if obs["args"] else None)
            elif kind in ("ack", "ack_error"):
                self.acks.pop(obs["id"]).set_result(obs)
        if not self.connected.done():
            self.connected.set_result({"event": "ended"})

    async def call(self, event: str, *args: Any) -> Any:
        assert self.proc is not None and self.proc.stdin is not None
        self.next_id += 1
        answer = self.acks[self.next_id] = asyncio.get_running_loop().create_future()
        command = {"id": self.next_id, "emit": event, "args": list(args)}
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        await self.proc.stdin.drain()
        obs = await asyncio.wait_for(answer, 15)
        if obs["event"] != "ack":
            raise TimeoutError(f"JS client from {self.address}: {event}: {obs}")
        return obs["args"][0] if len(obs["args"]) == 1 else obs["args"]

    async def close(self) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None and self.proc.stdin is not None:
            self.proc.stdin.write(b'{"close": true}\n')
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self.reader is not None:
            await self.reader


PEERS: dict[str, type[PyPeer] | type[JsPeer]] = {"python": PyPeer, "js": JsPeer}
