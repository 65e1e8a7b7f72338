"""Shared limits across processes: real separate server processes of one application on one
Redis (127.0.0.1:6379, a key prefix of the test's own), a concurrent burst spread over them
round-robin, exactly the limit admitted per key per window, at every level: connects, HTTP
requests of the engine, events.

Every strategy spends with one atomic storage call per hit (moving window: limits'
``acquire_entry`` script; sliding window counter: its acquire script; fixed window:
``INCRBY``), so a burst inside one window admits exactly the limit with each of them. What
differs is what happens across windows, as ``limits`` documents: the fixed window lets up
to twice the limit through around a window's edge; the sliding window counter weighs the
previous window's count (an approximation); the moving window is exact at every moment. A
fresh key and a one-minute window keep each burst inside its first window.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from siomw_core.testing import close_client, connect_result

from .processes import servers
from .support import POLLING, REDIS_URL, redis_keys

STRATEGIES = ["moving-window", "fixed-window", "sliding-window-counter"]
#: server processes per test, and attempts per burst (spread over them round-robin)
PROCESSES = 3
BURST = 24


def spread(urls: list[str], count: int) -> list[str]:
    """``count`` URLs taken round-robin from ``urls``."""
    return list(itertools.islice(itertools.cycle(urls), count))


async def connect_attempt(url: str, kind: str) -> str:
    """One python client's connection attempt: ``"connect"`` or ``"connect_error"``; the
    client is closed after."""
    outcome, data, client = await connect_result(url, transports=["websocket"], wait_timeout=10)
    if outcome == "connect":
        await close_client(client)
    elif outcome == "connect_error":
        assert isinstance(data, dict) and data["data"]["code"] == "rate_limited", data
    return outcome


@pytest.mark.parametrize("kind", ["async", "sync"])
@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_connect_burst_over_processes_admits_exactly_the_limit(
    tmp_path: Path, prefix: str, strategy: str, kind: str
) -> None:
    """24 concurrent connects over 3 processes, one client address: exactly 5 accepted."""
    table = {"connect": "5/minute", "strategy": strategy, "storage": REDIS_URL,
             "key_prefix": prefix}
    async with servers(tmp_path, table, kind=kind, count=PROCESSES) as group:
        outcomes = await asyncio.gather(*(connect_attempt(url, kind)
                                          for url in spread(group.urls, BURST)))
    assert outcomes.count("connect") == 5, outcomes
    assert outcomes.count("connect_error") == BURST - 5, outcomes
    assert redis_keys(prefix), "counted in Redis"


async def handshake(session: aiohttp.ClientSession, url: str) -> int:
    """One engine handshake (a polling GET without a sid): its HTTP status."""
    async with session.get(url + POLLING, timeout=aiohttp.ClientTimeout(total=10)) as response:
        await response.read()
        return response.status


@pytest.mark.parametrize("kind", ["async", "sync"])
@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_http_burst_over_processes_admits_exactly_the_limit(
    tmp_path: Path, prefix: str, strategy: str, kind: str
) -> None:
    """24 concurrent engine handshakes over 3 processes: exactly 6 answered 200, the
    others 429 (``http = "6/minute"``, one client address)."""
    table = {"http": "6/minute", "connect": "1000/minute", "strategy": strategy,
             "storage": REDIS_URL, "key_prefix": prefix}
    async with servers(tmp_path, table, kind=kind, count=PROCESSES) as group:
        async with aiohttp.ClientSession() as session:
            statuses = await asyncio.gather(*(handshake(session, url)
                                              for url in spread(group.urls, BURST)))
    assert statuses.count(200) == 6, statuses
    assert statuses.count(429) == BURST - 6, statuses


async def echo(client: socketio.AsyncClient) -> str:
    """One acknowledged ``echo``: ``"ok"``, or the refusal's code."""
    answer: Any = await client.call("echo", "hi", timeout=10)
    if answer == ["hi"]:
        return "ok"
    assert isinstance(answer, dict) and "error" in answer, answer
    return str(answer["error"]["data"]["code"])


@pytest.mark.parametrize("kind", ["async", "sync"])
@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_event_burst_over_processes_admits_exactly_the_limit(
    tmp_path: Path, prefix: str, strategy: str, kind: str
) -> None:
    """9 sockets over 3 processes (3 each) emit 4 events each at once, counted per client
    address (``event_key = "ip"``): exactly 7 of the 36 are handled, the others refused
    ``rate_limited``."""
    table = {"event": "7/minute", "event_key": "ip", "connect": "1000/minute",
             "strategy": strategy, "storage": REDIS_URL, "key_prefix": prefix}
    async with servers(tmp_path, table, kind=kind, count=PROCESSES) as group:
        clients: list[socketio.AsyncClient] = []
        try:
            for url in spread(group.urls, 9):
                outcome, data, client = await connect_result(url, transports=["websocket"])
                assert outcome == "connect", data
                clients.append(client)
            answers = await asyncio.gather(*(echo(client) for client in clients
                                             for _ in range(4)))
        finally:
            for client in clients:
                await close_client(client)
    assert answers.count("ok") == 7, answers
    assert answers.count("rate_limited") == 36 - 7, answers


async def test_memory_storage_counts_per_process(tmp_path: Path) -> None:
    """What Redis is for: with memory storage, each of the 3 processes counts alone, so the
    same burst admits the limit once per process (3 x 5)."""
    table = {"connect": "5/minute", "storage": "memory://"}
    async with servers(tmp_path, table, count=PROCESSES) as group:
        outcomes = await asyncio.gather(*(connect_attempt(url, "async")
                                          for url in spread(group.urls, BURST)))
    assert outcomes.count("connect") == 5 * PROCESSES, outcomes


def test_config_written_for_the_processes(tmp_path: Path) -> None:
    """The processes read a siomw.toml naming only the ratelimit plugin (the allow-list),
    so that the installed jwt plugin's missing secret does not stop them."""
    from .processes import write_config

    path = write_config(tmp_path, {"connect": "5/minute", "per_namespace": True,
                                   "storage_timeout": 0.5})
    assert path.read_text() == ('plugins = ["ratelimit"]\n\n[ratelimit]\nconnect = "5/minute"\n'
                                "per_namespace = true\nstorage_timeout = 0.5\n")
