"""The memory storages (siomw_ratelimit.memory): limits' own counting, the expiry sweep
once per SWEEP_INTERVAL, and the backends use them for memory:// and the fallback."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import limits
import limits.aio.strategies
import limits.strategies
import pytest
from siomw_ratelimit import memory
from siomw_ratelimit.memory import AsyncMemoryStorage, SyncMemoryStorage
from siomw_ratelimit.storage import GuardedLimiter

from siomw_core import AsyncRuntime, SyncRuntime

STRATEGIES = ["fixed-window", "moving-window", "sliding-window-counter"]


def test_the_installed_limits_has_the_hook() -> None:
    assert memory.sweep_hook_present()
    assert isinstance(memory.async_memory("async+memory://"), AsyncMemoryStorage)
    assert isinstance(memory.sync_memory("memory://"), SyncMemoryStorage)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_async_counts_as_limits_does(strategy: str) -> None:
    item = limits.parse("3/minute")

    async def main() -> list[bool]:
        cls: type[Any] = limits.aio.strategies.STRATEGIES[strategy]
        ours, theirs = cls(AsyncMemoryStorage()), cls(limits.aio.storage.MemoryStorage())
        got = [await ours.hit(item, "k") for _ in range(5)]
        want = [await theirs.hit(item, "k") for _ in range(5)]
        assert got == want
        return got

    assert asyncio.run(main()) == [True, True, True, False, False]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_sync_counts_as_limits_does(strategy: str) -> None:
    item = limits.parse("3/minute")
    cls: type[Any] = limits.strategies.STRATEGIES[strategy]
    ours, theirs = cls(SyncMemoryStorage()), cls(limits.storage.MemoryStorage())
    got = [ours.hit(item, "k") for _ in range(5)]
    assert got == [theirs.hit(item, "k") for _ in range(5)] == [True, True, True, False, False]


def _expired_then_swept(storage: Any, hit: Any) -> None:
    """One-second entries under 40 keys, plus a minute's under "long": once they expired
    and a sweep is due, the next count drops the expired keys and keeps the live one."""
    short, long_ = limits.parse("5/second"), limits.parse("5/minute")
    for n in range(40):
        hit(limits.strategies.MovingWindowRateLimiter, short, f"mw{n}")
        hit(limits.strategies.FixedWindowRateLimiter, short, f"fw{n}")
    time.sleep(1.05)  # the entries' expiry (not a measurement)
    storage.next_sweep = time.monotonic() + memory.SWEEP_INTERVAL  # not due yet
    hit(limits.strategies.MovingWindowRateLimiter, long_, "long")
    assert len(storage.events) == 41  # not swept before the interval
    storage.next_sweep = 0.0  # due
    hit(limits.strategies.MovingWindowRateLimiter, long_, "long")
    hit(limits.strategies.FixedWindowRateLimiter, long_, "long")
    (key,) = storage.events  # limits' key: "LIMITER/long/5/1/minute"
    assert "/long/" in key and len(storage.events[key]) == 2
    assert [k for k in storage.storage if storage.storage[k]] == [
        k for k in storage.storage if "/long/" in k] != []
    assert not [k for k in storage.locks if "/long/" not in k]


def test_async_sweeps_expired_keys_once_due() -> None:
    storage = AsyncMemoryStorage()
    loop = asyncio.new_event_loop()
    names = {limits.strategies.MovingWindowRateLimiter: "moving-window",
             limits.strategies.FixedWindowRateLimiter: "fixed-window"}

    def hit(kind: Any, item: limits.RateLimitItem, key: str) -> None:
        cls: type[Any] = limits.aio.strategies.STRATEGIES[names[kind]]
        strategy = cls(storage)
        assert loop.run_until_complete(strategy.hit(item, key))

    try:
        _expired_then_swept(storage, hit)
        assert storage.timer is None  # no task of limits' sweep was started
    finally:
        loop.close()


def test_sync_sweeps_expired_keys_once_due() -> None:
    storage = SyncMemoryStorage()
    assert not storage.timer.is_alive() or storage.timer.finished.is_set()

    def hit(kind: Any, item: limits.RateLimitItem, key: str) -> None:
        assert kind(storage).hit(item, key)

    _expired_then_swept(storage, hit)


def test_sync_sweep_skips_a_key_another_thread_holds() -> None:
    storage = SyncMemoryStorage()
    strategy = limits.strategies.MovingWindowRateLimiter(storage)
    short = limits.parse("5/second")
    assert strategy.hit(short, "held") and strategy.hit(short, "free")
    key = next(k for k in storage.events if "/held/" in k)
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        with storage.locks[key]:
            taken.set()
            done.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert taken.wait(10)
        time.sleep(1.05)  # the entries' expiry (not a measurement)
        storage.next_sweep = 0.0
        assert strategy.hit(limits.parse("5/minute"), "other")
        assert key in storage.events  # held: left for the next sweep
        assert not [k for k in storage.events if "/free/" in k]
    finally:
        done.set()
        holder.join(10)


@pytest.mark.parametrize("blocking", [False, True], ids=["async", "sync"])
def test_the_limiter_counts_in_them(blocking: bool) -> None:
    runtime = SyncRuntime(None) if blocking else AsyncRuntime()
    guard = GuardedLimiter("memory://", "moving-window", fail_open=True, timeout=1.0,
                           label="memory://", runtime=runtime)
    want = SyncMemoryStorage if blocking else AsyncMemoryStorage
    assert isinstance(guard.backend.storage, want)
    assert isinstance(guard.backend.fallback_storage, want)
