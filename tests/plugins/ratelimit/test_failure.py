"""Storage failure across processes: two real server processes of one application count on a
Redis server the test starts itself on a free port (never the shared 6379), which it kills
(SIGKILL) or freezes (SIGSTOP: connections accepted, nothing answered) during the run and
brings back. On both server kinds (uvicorn; gunicorn's gthread workers) and both policies:

- every attempt is answered within ``storage_timeout`` (the client waits a little more);
- ``on_storage_error = "open"``: each process counts alone in memory while Redis is away
  (the limit once per process); ``"closed"``: every attempt is refused
  ``rate_limit_unavailable``;
- the server keeps answering other requests meanwhile (its event loop, or its threads, are
  not held by the storage);
- each process logs one warning per outage;
- once Redis is back, each process' recovery probe returns to it and the limit is shared
  again: a burst over both admits exactly the limit.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis

from siomw_core.testing import close_client, connect_result

from .processes import OwnRedis, Servers, own_redis, servers

KINDS = ["async", "sync"]
#: seconds a storage call may take (the table's storage_timeout)
TIMEOUT = 1.0
#: seconds a client waits for its answer: storage_timeout and some room for scheduling
WAIT = TIMEOUT + 2
LIMIT = 4
WARNING = "siomw: [ratelimit] storage"


def table(storage: OwnRedis, policy: str, prefix: str) -> dict[str, Any]:
    return {"connect": f"{LIMIT}/minute", "strategy": "moving-window", "storage": storage.url,
            "key_prefix": prefix, "on_storage_error": policy, "storage_timeout": TIMEOUT}


def counter_key(prefix: str) -> str:
    """The moving window's list of the connect budget of 127.0.0.1 (limits' key)."""
    return f"LIMITS:LIMITER/{prefix}/connect/moving-window/ip/127.0.0.1/{LIMIT}/1/minute"


async def attempt(url: str) -> str:
    """One python client's connection attempt, answered within :data:`WAIT`: ``"connect"``,
    ``"rate_limited"`` or ``"rate_limit_unavailable"`` (``"timeout"``: no answer)."""
    outcome, data, client = await connect_result(url, transports=["websocket"],
                                                 wait_timeout=WAIT)
    if outcome == "connect":
        await close_client(client)
        return "connect"
    if outcome == "connect_error":
        assert isinstance(data, dict), data
        return str(data["data"]["code"])
    return outcome


async def burst(urls: list[str], per_process: int) -> list[list[str]]:
    """``per_process`` concurrent attempts on each URL at once: the outcomes per URL."""
    tasks = [[asyncio.ensure_future(attempt(url)) for _ in range(per_process)] for url in urls]
    return [list(await asyncio.gather(*group)) for group in tasks]


def warnings_of(group: Servers, index: int) -> list[str]:
    return [line for line in group.log_text(index).splitlines() if WARNING in line]


async def recover(group: Servers, storage: OwnRedis, prefix: str) -> None:
    """Attempt on each process (at most 60 times, 0.25 s apart) until it counts in Redis
    again: on an emptied counter, its attempt adds the entry there (the probe ran, the
    storage recovered). Then the counter is emptied, for a fresh window."""
    client = redis.Redis(port=storage.port)
    try:
        for url in group.urls:
            for _ in range(60):
                client.delete(counter_key(prefix))
                await attempt(url)
                if client.llen(counter_key(prefix)) == 1:
                    break
                await asyncio.sleep(0.25)
            else:
                raise AssertionError(f"{url} did not return to Redis")
        client.delete(counter_key(prefix))
    finally:
        client.close()


async def answered_meanwhile(url: str, pending: Awaitable[Any]) -> bool:
    """Whether a request outside the engine (``GET /up``, no storage call) is answered
    while ``pending`` (attempts waiting on the storage) is still running."""
    task = asyncio.ensure_future(pending)
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/up", timeout=aiohttp.ClientTimeout(total=WAIT)) as r:
            assert r.status == 404
    meanwhile = not task.done()
    await task
    return meanwhile


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("policy", ["open", "closed"])
async def test_redis_killed_and_restarted(tmp_path: Path, prefix: str, policy: str,
                                          kind: str) -> None:
    """SIGKILL the Redis mid-run, then start it again on its port."""
    with own_redis() as storage:
        async with servers(tmp_path, table(storage, policy, prefix), kind=kind,
                           count=2) as group:
            # shared while Redis is up: 2 + 2 over two processes spend the limit of 4
            first = await burst(group.urls, 3)
            assert sum(o.count("connect") for o in first) == LIMIT, first
            storage.kill()
            down = await burst(group.urls, LIMIT + 2)
            if policy == "open":  # each process counts alone, from zero, in memory
                assert [o.count("connect") for o in down] == [LIMIT, LIMIT], down
                assert all(o.count("rate_limited") == 2 for o in down), down
            else:
                assert all(o == ["rate_limit_unavailable"] * (LIMIT + 2) for o in down), down
            storage.start()
            await recover(group, storage, prefix)
            shared = await burst(group.urls, LIMIT)
            assert sum(o.count("connect") for o in shared) == LIMIT, shared
            for index in range(2):
                lines = warnings_of(group, index)
                assert len(lines) == 1, lines  # one outage, one warning per process
                assert ("counting in memory" if policy == "open"
                        else "rate_limit_unavailable") in lines[0]


@pytest.mark.parametrize("kind", KINDS)
async def test_frozen_redis_is_answered_within_the_timeout(tmp_path: Path, prefix: str,
                                                           kind: str) -> None:
    """SIGSTOP the Redis (it accepts connections and answers nothing): every attempt gets
    its answer within storage_timeout (fail open: counted in memory), the server answers
    other requests while they wait, one warning per process; after SIGCONT the limit is
    shared again."""
    with own_redis() as storage:
        async with servers(tmp_path, table(storage, "open", prefix), kind=kind,
                           count=2) as group:
            assert (await attempt(group.urls[0])) == "connect"
            assert storage.proc is not None
            os.kill(storage.proc.pid, signal.SIGSTOP)
            try:
                results: list[list[str]] = []

                async def frozen_burst() -> None:
                    results.extend(await burst(group.urls, 3))

                assert await answered_meanwhile(group.urls[0], frozen_burst())
                assert all(o == ["connect"] * 3 for o in results), results
            finally:
                os.kill(storage.proc.pid, signal.SIGCONT)
            await recover(group, storage, prefix)
            shared = await burst(group.urls, LIMIT)
            assert sum(o.count("connect") for o in shared) == LIMIT, shared
            for index in range(2):
                lines = warnings_of(group, index)
                assert len(lines) == 1, lines
                assert "counting in memory" in lines[0]


def test_burst_groups_are_per_url() -> None:
    """(The helpers' shape: one list of outcomes per process.)"""
    assert list(itertools.islice(itertools.cycle("ab"), 3)) == ["a", "b", "a"]
