"""drive() and the runtimes: what sync servers run siomw's coroutines and timers on."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
import socketio

from siomw_core.drive import SuspendedError, drive, ready
from siomw_core.runtime import AsyncRuntime, SyncRuntime


def test_drive_returns_what_nested_coroutines_return() -> None:
    async def inner() -> int:
        return int(await ready(40))

    async def outer() -> int:
        return await inner() + 2

    assert drive(outer()) == 42


def test_drive_passes_exceptions_through() -> None:
    async def fails() -> None:
        await ready(None)
        raise KeyError("k")

    with pytest.raises(KeyError):
        drive(fails())


def test_drive_raises_suspended_error_at_the_await_that_suspended() -> None:
    """An awaited asyncio future cannot complete without a loop: the await raises
    SuspendedError where it was written, so the code around it can answer (and does here)."""

    async def sleeper() -> str:
        try:
            await asyncio.sleep(0)
        except SuspendedError as exc:
            return f"caught: {exc}"
        return "slept"

    assert drive(sleeper()) == ("caught: awaited None on a sync server, where nothing runs "
                                "an event loop: write it as a plain def (or with a blocking "
                                "API)")


def test_drive_closes_a_coroutine_that_keeps_suspending() -> None:
    cleaned: list[str] = []

    async def stubborn() -> None:
        try:
            while True:
                try:
                    await asyncio.sleep(0)
                except SuspendedError:
                    continue
        finally:
            cleaned.append("finally")

    with pytest.raises(SuspendedError, match="awaited None on a sync server"):
        drive(stubborn())
    assert cleaned == ["finally"]


def test_drive_lets_an_uncaught_suspended_error_out() -> None:
    async def sleeper() -> None:
        await asyncio.sleep(0)

    with pytest.raises(SuspendedError):
        drive(sleeper())


def test_sync_runtime_timers_fire_in_order_and_cancel() -> None:
    """Timers on one background task of the server's async mode: due ones fire in deadline
    order, a cancelled one never fires, a coroutine callback is driven there."""
    runtime = SyncRuntime(socketio.Server(async_mode="threading"))
    fired: list[str] = []
    done = threading.Event()

    async def coroutine_callback(name: str) -> None:
        fired.append(await ready(name))
        done.set()

    runtime.call_later(0.2, fired.append, "second")
    runtime.call_later(0.05, fired.append, "first")
    runtime.call_later(0.1, fired.append, "cancelled").cancel()
    runtime.call_later(0.3, coroutine_callback, "coroutine")
    assert done.wait(5)
    assert fired == ["first", "second", "coroutine"]


def test_sync_runtime_logs_a_failing_callback_and_keeps_running(
        caplog: pytest.LogCaptureFixture) -> None:
    runtime = SyncRuntime(socketio.Server(async_mode="threading"))
    done = threading.Event()

    def boom() -> None:
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR, "siomw"):
        runtime.call_later(0.01, boom)
        runtime.call_later(0.05, done.set)
        assert done.wait(5)
    assert any("background call" in r.getMessage() and r.exc_info for r in caplog.records)


def test_sync_runtime_spawn_drives_a_coroutine_in_the_background() -> None:
    runtime = SyncRuntime(socketio.Server(async_mode="threading"))
    seen: list[Any] = []
    done = threading.Event()

    async def job(value: int) -> None:
        seen.append((await ready(value), threading.current_thread() is not main))
        done.set()

    main = threading.current_thread()
    runtime.spawn(job, 7)
    assert done.wait(5)
    assert seen == [(7, True)]
    assert runtime.blocking and runtime.kind == "threading"


async def test_async_runtime_timers_and_tasks() -> None:
    runtime = AsyncRuntime(socketio.AsyncServer(async_mode="asgi"))
    seen: list[str] = []

    async def later(name: str) -> None:
        await asyncio.sleep(0)
        seen.append(name)

    runtime.call_later(0.01, later, "timer")
    runtime.call_later(0.02, seen.append, "plain")
    runtime.call_later(0.01, later, "cancelled").cancel()
    runtime.spawn(later, "spawned")
    for _ in range(100):
        if len(seen) == 3:
            break
        await asyncio.sleep(0.01)
    assert sorted(seen) == ["plain", "spawned", "timer"]
    assert not runtime.blocking and runtime.kind == "asgi"
