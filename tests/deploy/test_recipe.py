"""The multi-process recipe of docs/production.md, as written: two ``siomw serve`` processes
(the ASGI AsyncServer under uvicorn, and the sync Server under gunicorn's threads) behind
nginx with the docs' config, emits through Redis (python-socketio's Redis managers), limits
on Redis, ``trusted_proxies`` naming nginx. Real Python and JS clients, over polling and
WebSocket, each from its own loopback address (nginx's sticky sessions hash it)."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
import socketio

from tests.conftest import requires_js
from tests.deploy.harness import ADDRESSES, Deployment, deployment
from tests.deploy.peers import PEERS, Peer, PyPeer
from tests.jsclient import js_available

KINDS = ["asgi", "wsgi"]
TRANSPORTS = ["polling", "websocket"]
CLIENTS = [pytest.param("python"), pytest.param("js", marks=requires_js)]


async def spread(dep: Deployment, each: int = 1) -> dict[int, list[str]]:
    """Addresses nginx sends to each process (``each`` of them per process at least), found
    by connecting a client from one address after another and asking ``whoami``;
    the server sees each client's own address (nginx's X-Forwarded-For, trusted)."""
    found: dict[int, list[str]] = {}
    for i, address in enumerate(ADDRESSES):
        peer = PyPeer(dep.url, address, "websocket", f"probe{i}")
        try:
            await peer.connect()
            who = await peer.call("whoami")
        finally:
            await peer.close()
        assert who["address"] == address and who["user"] == f"probe{i}", who
        found.setdefault(who["process"], []).append(address)
        if len(found) == 2 and all(len(a) >= each for a in found.values()):
            return found
    raise AssertionError(f"nginx sent {len(ADDRESSES)} addresses to one process: {found}")


def new_peer(client: str, dep: Deployment, address: str, transport: str, sub: str) -> Peer:
    """A client of ``client`` kind (``python`` or ``js``)."""
    peer: Peer = PEERS[client](dep.url, address, transport, sub)
    return peer


async def close_all(peers: list[Peer]) -> None:
    """Close every peer (the first failure, if any, raised after all were tried)."""
    results = await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("kind", KINDS)
async def test_connects_and_events_reach_each_process(kind: str, client: str,
                                                       tmp_path: Path) -> None:
    """Clients from addresses nginx hashes to different processes connect on each, over
    polling and WebSocket; every event of a polling session reaches the process holding it
    (sticky sessions: python-engineio answers 400 to a request of a session it does not
    hold); each process sees its client's own address and user."""
    async with deployment(kind, tmp_path) as dep:
        found = await spread(dep)
        peers: list[Peer] = []
        try:
            for (process, addresses), transport in itertools.product(found.items(),
                                                                     TRANSPORTS):
                sub = f"{client}-{transport}-{process}"
                peer = new_peer(client, dep, addresses[0], transport, sub)
                peers.append(peer)
                await peer.connect()
                for _ in range(5):  # a polling session: a POST and a GET each
                    who = await peer.call("whoami")
                    assert who == {"process": process, "address": addresses[0], "user": sub}
        finally:
            await close_all(peers)
        assert "Invalid session" not in dep.log_text()


@pytest.mark.parametrize("kind", KINDS)
async def test_broadcast_in_one_process_reaches_the_others(kind: str, tmp_path: Path) -> None:
    """A broadcast emitted in one process reaches every socket of every process, Python and
    JS, polling and WebSocket, once each and in order (through the Redis manager)."""
    async with deployment(kind, tmp_path) as dep:
        found = await spread(dep)
        first, second = found
        clients = every_client()
        peers: list[Peer] = []
        try:
            for (process, addresses), client, transport in itertools.product(
                    found.items(), clients, TRANSPORTS):
                peer = new_peer(client, dep, addresses[0], transport,
                                f"{client}-{transport}-{process}")
                peers.append(peer)
                await peer.connect()
            by_process = {p: [x for x in peers if x.address == found[p][0]] for p in found}
            assert await by_process[first][0].call("shout", "hello") == "sent"
            assert await by_process[second][-1].call("shout", "bye") == "sent"
            for peer in peers:
                news = await peer.wait_for("news", 2)
                assert [n["text"] for n in news] == ["hello", "bye"], (peer.address, news)
            assert all(len(p.received["news"]) == 2 for p in peers)
        finally:
            await close_all(peers)


def every_client() -> list[str]:
    """``python``, and ``js`` when node and tests/js are there (required in CI)."""
    return ["python", "js"] if js_available() else ["python"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_pending_socket_gets_no_broadcast_from_another_process(
        kind: str, tmp_path: Path) -> None:
    """Sockets held pending in process A (their connect chain waits in a member) receive
    nothing of a broadcast emitted in process B meanwhile, though A's connected socket does;
    once accepted, they receive the next broadcast (Python and JS, polling and WebSocket)."""
    async with deployment(kind, tmp_path, held=True) as dep:
        found = await spread(dep)
        (first, a_addresses), (_, b_addresses) = found.items()
        watcher = PyPeer(dep.url, a_addresses[0], "websocket", "watcher")
        shouter = PyPeer(dep.url, b_addresses[0], "polling", "shouter")
        clients = every_client()
        pending = [new_peer(client, dep, a_addresses[0], transport, f"held-{client}-{transport}")
                   for client, transport in itertools.product(clients, TRANSPORTS)]
        names = [f"{p.sub}" for p in pending]  # type: ignore[attr-defined]
        peers: list[Peer] = [watcher, shouter, *pending]
        try:
            await watcher.connect()
            await shouter.connect()
            connecting = [asyncio.create_task(p.connect(hold=n))
                          for p, n in zip(pending, names, strict=True)]
            for _ in range(500):  # until every one waits in the holding member
                held: Any = await watcher.call("held")
                if sorted(held) == sorted(names):
                    break
                await asyncio.sleep(0.02)
            else:
                raise AssertionError(f"not all held: {held}\n{dep.log_text()}")
            assert await shouter.call("shout", "while pending") == "sent"
            await watcher.wait_for("news", 1)  # process A has sent it to its sockets
            for name in names:
                assert await watcher.call("release", name) == "released"
            await asyncio.gather(*connecting)
            for peer in pending:
                who = await peer.call("whoami")
                assert who["process"] == first
            assert await shouter.call("shout", "after") == "sent"
            for peer in pending:
                news = await peer.wait_for("news", 1)
                assert [n["text"] for n in news] == ["after"], (peer.sub, news)  # type: ignore[attr-defined]
                assert [n["text"] for n in peer.received["news"]] == ["after"]
            assert [n["text"] for n in await watcher.wait_for("news", 2)] == [
                "while pending", "after"]
        finally:
            await close_all(peers)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_users_event_budget_is_shared_by_the_processes(kind: str,
                                                               tmp_path: Path) -> None:
    """``event = "30/minute"`` per user on Redis: one user's sockets on two processes spend
    one budget; the 31st event, wherever it arrives, is refused ``rate_limited``."""
    async with deployment(kind, tmp_path) as dep:
        found = await spread(dep)
        (first, a_addresses), (second, b_addresses) = found.items()
        on_a = PyPeer(dep.url, a_addresses[0], "websocket", "carol")
        on_b = PyPeer(dep.url, b_addresses[0], "polling", "carol")
        try:
            await on_a.connect()
            await on_b.connect()
            for peer, process in ((on_a, first), (on_b, second)):
                for _ in range(15):
                    assert (await peer.call("whoami"))["process"] == process
            for peer in (on_a, on_b):
                refused = await peer.call("whoami")
                assert refused["error"]["data"]["code"] == "rate_limited", refused
                assert refused["error"]["data"]["limit"] == "30 per 1 minute"
        finally:
            await close_all([on_a, on_b])


@pytest.mark.parametrize("kind", KINDS)
async def test_without_sticky_sessions_polling_clients_fail(kind: str, tmp_path: Path) -> None:
    """The control: the docs' config without its ``hash`` line (nginx's round robin) sends
    a polling client's second request to the other process, which does not hold its
    session, and the client cannot connect; over WebSocket it still can."""
    async with deployment(kind, tmp_path, sticky=False) as dep:
        polling = PyPeer(dep.url, ADDRESSES[0], "polling", "unstuck")
        try:
            with pytest.raises(socketio.exceptions.ConnectionError):
                await polling.connect()
        finally:
            await polling.close()
        websocket = PyPeer(dep.url, ADDRESSES[0], "websocket", "unstuck")
        try:
            await websocket.connect()
            assert (await websocket.call("whoami"))["user"] == "unstuck"
        finally:
            await websocket.close()
