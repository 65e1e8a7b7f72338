"""Exact event limits: concurrent bursts admit exactly k, weighted events that do not fit
spend nothing, on memory:// and on the real Redis at 127.0.0.1:6379, every strategy."""

from __future__ import annotations

import asyncio
import contextlib

import limits
import pytest
import socketio
from siomw_ratelimit import limit
from siomw_ratelimit.storage import Check

from tests.plugins.kinds import KINDS

from .events_support import (
    burst,
    client,
    echo_server,
    outcomes,
    refusal_data,
    served,
    with_ratelimit,
)
from .support import REDIS_URL, kind_limiter, run, run_all

STRATEGIES = ["fixed-window", "moving-window", "sliding-window-counter"]
STORAGES = ["memory://", REDIS_URL]


def table(storage: str, strategy: str, prefix: str) -> dict[str, str]:
    """The table for ``storage``, ``strategy`` and the test's key prefix."""
    return {"storage": storage, "strategy": strategy, "key_prefix": prefix}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_weighted_check_that_does_not_fit_spends_nothing(
    kind: str, storage: str, strategy: str, prefix: str
) -> None:
    """Against "10/minute": cost 100 is refused in an empty window, and spends nothing;
    after 8 spent, cost 3 is refused and the 2 left still pass (cost 2), then nothing."""
    guard = kind_limiter(kind, table(storage, strategy, prefix))
    item = limits.parse("10/minute")
    ident = f"{prefix}/weighted"
    huge = Check(item, ident, 100)
    assert await run(kind, guard.acquire([huge])) is huge
    window = await run(kind, guard.window(item, ident))
    assert window is not None and window.remaining == 10
    assert await run(kind, guard.acquire([Check(item, ident, 8)])) is None
    three = Check(item, ident, 3)
    assert await run(kind, guard.acquire([three])) is three
    assert await run(kind, guard.acquire([Check(item, ident, 2)])) is None
    one = Check(item, ident, 1)
    assert await run(kind, guard.acquire([one])) is one


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_several_budgets_are_spent_together_or_not_at_all(
    kind: str, storage: str, strategy: str, prefix: str
) -> None:
    """Two budgets ("5/minute" for all events, "1/minute" for one name): the 2nd named
    event is refused by the named budget and spends nothing of the common one."""
    guard = kind_limiter(kind, table(storage, strategy, prefix))
    common, named = limits.parse("5/minute"), limits.parse("1/minute")
    both = [Check(common, f"{prefix}/all"), Check(named, f"{prefix}/name")]
    assert await run(kind, guard.acquire(both)) is None
    assert await run(kind, guard.acquire(both)) is both[1]
    window = await run(kind, guard.window(common, f"{prefix}/all"))
    assert window is not None and window.remaining == 4


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_concurrent_acquires_admit_exactly_k(kind: str, storage: str, strategy: str,
                                                   prefix: str) -> None:
    """100 concurrent acquires (cost 1, and cost 3 with a second budget) against
    "10/minute": exactly 10 units are admitted (on a sync server: from 16 threads)."""
    guard = kind_limiter(kind, table(storage, strategy, prefix))
    item = limits.parse("10/minute")
    single = await run_all(kind, (guard.acquire([Check(item, f"{prefix}/one")])
                                  for _ in range(100)))
    assert sum(r is None for r in single) == 10
    other = limits.parse("100/minute")
    weighted = await run_all(kind, (
        guard.acquire([Check(other, f"{prefix}/w-all"), Check(item, f"{prefix}/w", 3)])
        for _ in range(50)))
    assert sum(r is None for r in weighted) == 3  # 3 x 3 = 9 of 10
    window = await run(kind, guard.window(other, f"{prefix}/w-all"))
    assert window is not None and window.remaining == 97  # refused ones spent nothing


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_burst_of_events_admits_exactly_k(kind: str, storage: str, strategy: str,
                                                prefix: str) -> None:
    """A python client sends 30 acknowledged events at once (async_handlers: handled
    concurrently; on a sync server each in a thread) against events "echo" = "7/minute":
    exactly 7 pass."""
    sio, _ = echo_server({"events": {"echo": "7/minute"}, "storage": storage,
                          "strategy": strategy, "key_prefix": prefix}, kind)
    async with served(sio) as url, client(url, kind=kind) as c:
        replies = await burst(c, "echo", 30)
    assert outcomes(replies) == (7, 23)
    # Redis keeps the fixed window's reset in whole seconds: one second of slack is added
    most = 61 if strategy == "fixed-window" and storage != "memory://" else 60
    for reply in replies:
        if isinstance(reply, dict):
            refusal_data(reply, "7 per 1 minute", most=most)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("storage", STORAGES)
async def test_burst_from_several_sockets_admits_exactly_k(kind: str, storage: str,
                                                           prefix: str) -> None:
    """Five sockets each send 10 events at once under one budget per address
    (event_key = "ip", event = "12/minute"): exactly 12 of the 50 pass."""
    sio, _ = echo_server({"event": "12/minute", "event_key": "ip", "storage": storage,
                          "key_prefix": prefix}, kind)
    async with served(sio) as url, contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(client(url, kind=kind)) for _ in range(5)]
        replies = await asyncio.gather(*(burst(c, "echo", 10) for c in clients))
    assert outcomes([r for group in replies for r in group]) == (12, 38)


@pytest.mark.parametrize("strategy", ["moving-window", "sliding-window-counter"])
async def test_two_servers_on_one_redis_admit_exactly_k(strategy: str, prefix: str) -> None:
    """Two servers (two limiters, as two processes would have) share one Redis budget per
    address: bursts to both at once admit exactly 9 (moving window and sliding window
    counter spend with one atomic script per check)."""
    table = {"event": "9/minute", "event_key": "ip", "storage": REDIS_URL,
             "strategy": strategy, "key_prefix": prefix}
    first, _ = echo_server(table)
    second, _ = echo_server(table)
    async with served(first) as url1, served(second) as url2, \
            client(url1) as c1, client(url2) as c2:
        replies = await asyncio.gather(burst(c1, "echo", 15), burst(c2, "echo", 15))
    assert outcomes(replies[0] + replies[1]) == (9, 21)


@pytest.mark.parametrize("storage", STORAGES)
async def test_weighted_decorator_end_to_end(storage: str, prefix: str) -> None:
    """``@limit("10/minute", cost=3)``: 3 pass (9 spent), the 4th is refused and spends
    nothing, so the cost-1 handler sharing the scope still gets the last unit."""
    sio = socketio.AsyncServer(async_mode="asgi")

    @limit("10/minute", cost=3, scope="test-exact-upload")
    @sio.event
    async def upload(sid: str) -> str:
        return "ok:upload"

    @limit("10/minute", scope="test-exact-upload")
    @sio.event
    async def note(sid: str) -> str:
        return "ok:note"

    with_ratelimit(sio, {"storage": storage, "key_prefix": prefix})
    async with served(sio) as url, client(url) as c:
        uploads = [await c.call("upload", timeout=5) for _ in range(4)]
        notes = [await c.call("note", timeout=5) for _ in range(2)]
    assert uploads[:3] == ["ok:upload"] * 3
    refusal_data(uploads[3], "10 per 1 minute")
    assert notes[0] == "ok:note"
    refusal_data(notes[1], "10 per 1 minute")


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_retry_after_on_redis(strategy: str, prefix: str) -> None:
    """On Redis, waiting the refusal's retry_after lets the next event through."""
    sio, _ = echo_server({"events": {"echo": "2/second"}, "storage": REDIS_URL,
                          "strategy": strategy, "key_prefix": prefix})
    async with served(sio) as url, client(url) as c:
        replies = await burst(c, "echo", 3)
        assert outcomes(replies) == (2, 1)
        refused = next(r for r in replies if isinstance(r, dict))
        retry_after = refusal_data(refused, "2 per 1 second",
                                   most=2 if strategy == "fixed-window" else 1)
        await asyncio.sleep(retry_after)
        assert await c.call("echo", timeout=5) == "ok:echo"
