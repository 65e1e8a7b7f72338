"""The onion runner (siomw_core.chain.run_chain), without a server."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from siomw_core import Middleware, Refusal
from siomw_core.chain import ENDPOINT, run_chain

Func = Callable[[Any, Callable[[], Awaitable[None]]], Awaitable[None]]
SUBJECT = "subject-1"


def mw(name: str, func: Func) -> Middleware:
    return Middleware(name=name, func=func)


def recorder(trace: list[str], name: str) -> Middleware:
    """A member that records its before and after parts, and a refusal passing through."""

    async def func(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        trace.append(f"{name}:before")
        try:
            await call_next()
        except Refusal as refusal:
            trace.append(f"{name}:saw {refusal.message}|{refusal.code}")
            raise
        trace.append(f"{name}:after")

    return mw(name, func)


def endpoint_into(trace: list[str]) -> Callable[[], Awaitable[None]]:
    async def endpoint() -> None:
        trace.append("endpoint")

    return endpoint


async def test_onion_order() -> None:
    """Members run outermost first before the endpoint, and innermost first after it."""
    trace: list[str] = []
    chain = [recorder(trace, "a"), recorder(trace, "b"), recorder(trace, "c")]
    await run_chain(chain, SUBJECT, endpoint_into(trace), timeout=5)
    assert trace == [
        "a:before", "b:before", "c:before", "endpoint", "c:after", "b:after", "a:after",
    ]


async def test_empty_chain_runs_endpoint() -> None:
    """An empty chain runs only the endpoint."""
    trace: list[str] = []
    await run_chain([], SUBJECT, endpoint_into(trace))
    assert trace == ["endpoint"]


async def test_subject_is_passed_to_every_member() -> None:
    """Each member receives the run's subject as its first argument."""
    seen: list[Any] = []

    async def func(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        seen.append(subject)
        await call_next()

    subject = object()
    await run_chain([mw("a", func), mw("b", func)], subject, endpoint_into([]))
    assert seen == [subject, subject]


async def test_refusal_propagates_through_outer_after_parts() -> None:
    """A Refusal raised inside is seen, unchanged, by every outer member, then by the caller."""
    trace: list[str] = []

    async def refuse(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        raise Refusal("not authorized", {"content": "Please retry later"})

    chain = [recorder(trace, "a"), recorder(trace, "b"), mw("refuse", refuse)]
    with pytest.raises(Refusal) as info:
        await run_chain(chain, SUBJECT, endpoint_into(trace), timeout=5)
    assert info.value.message == "not authorized"
    assert info.value.data == {"content": "Please retry later"}
    assert info.value.payload() == {
        "message": "not authorized", "data": {"content": "Please retry later"},
    }
    assert trace == [
        "a:before", "b:before", "b:saw not authorized|None", "a:saw not authorized|None",
    ]


async def test_outer_member_may_replace_a_refusal() -> None:
    """An outer member that catches a Refusal and raises another one decides the outcome."""

    async def outer(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        try:
            await call_next()
        except Refusal as refusal:
            raise Refusal("wrapped", {"inner": refusal.message}) from refusal

    async def inner(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        raise Refusal("inner")

    with pytest.raises(Refusal) as info:
        await run_chain([mw("outer", outer), mw("inner", inner)], SUBJECT, endpoint_into([]))
    assert info.value.payload() == {"message": "wrapped", "data": {"inner": "inner"}}


async def test_endpoint_refusal_reaches_outer_members() -> None:
    """A Refusal raised by the endpoint (the application's handler) passes through members."""
    trace: list[str] = []

    async def endpoint() -> None:
        raise Refusal("handler says no", {"code": "nope"})

    with pytest.raises(Refusal) as info:
        await run_chain([recorder(trace, "a")], SUBJECT, endpoint)
    assert info.value.code == "nope"
    assert trace == ["a:before", "a:saw handler says no|nope"]


async def test_exception_becomes_internal_error_with_attribution(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A non-Refusal exception becomes internal_error at the raising member's boundary.

    Outer members see the Refusal (not the exception), the text of the exception never
    appears in the refusal, and the log names the member with a traceback.
    """
    trace: list[str] = []

    async def broken(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        raise ValueError("secret database password")

    chain = [recorder(trace, "outer"), mw("broken_member", broken)]
    with caplog.at_level(logging.ERROR, logger="siomw"), pytest.raises(Refusal) as info:
        await run_chain(chain, SUBJECT, endpoint_into(trace))
    assert info.value.payload() == {
        "message": "Internal server error", "data": {"code": "internal_error"},
    }
    assert "secret" not in repr(info.value.payload())
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert trace == ["outer:before", "outer:saw Internal server error|internal_error"]
    records = [r for r in caplog.records if r.name == "siomw" and r.levelno == logging.ERROR]
    assert len(records) == 1
    assert "broken_member" in records[0].getMessage()
    assert records[0].exc_info is not None and records[0].exc_info[0] is ValueError


async def test_exception_after_call_next_is_attributed_to_that_member(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception raised in a member's after part is blamed on it, not on inner members."""

    async def late(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        await call_next()
        raise KeyError("after")

    async def fine(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        await call_next()

    with caplog.at_level(logging.ERROR, logger="siomw"), pytest.raises(Refusal) as info:
        await run_chain([mw("late_one", late), mw("fine_one", fine)], SUBJECT, endpoint_into([]))
    assert info.value.code == "internal_error"
    messages = [r.getMessage() for r in caplog.records if r.name == "siomw"]
    assert any("late_one" in m for m in messages)
    assert not any("fine_one" in m for m in messages)


async def test_endpoint_exception_is_attributed_to_the_handler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception from the endpoint becomes internal_error, logged as the connect handler."""

    async def endpoint() -> None:
        raise RuntimeError("handler bug")

    with caplog.at_level(logging.ERROR, logger="siomw"), pytest.raises(Refusal) as info:
        await run_chain([recorder([], "a")], SUBJECT, endpoint)
    assert info.value.code == "internal_error"
    assert any(ENDPOINT in r.getMessage() for r in caplog.records if r.name == "siomw")


async def test_timeout_is_a_refusal_seen_by_outer_members(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past the deadline the running member is cancelled and outer members see a Refusal
    with code middleware_timeout; the log names the member that was running."""
    trace: list[str] = []

    async def slow(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(5)
        await call_next()

    async def outer(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        try:
            await call_next()
        except Refusal as refusal:
            trace.append(f"saw {refusal.code}")
            await asyncio.sleep(0.01)  # the task is usable again: not re-cancelled
            trace.append("cleanup done")
            raise

    start = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="siomw"), pytest.raises(Refusal) as info:
        await run_chain([mw("outer", outer), mw("sleepy_member", slow)], SUBJECT,
                        endpoint_into(trace), timeout=0.2)
    elapsed = time.monotonic() - start
    assert elapsed < 2
    assert info.value.payload() == {
        "message": "Middleware timeout", "data": {"code": "middleware_timeout"},
    }
    assert trace == ["saw middleware_timeout", "cleanup done"]
    messages = [r.getMessage() for r in caplog.records if r.name == "siomw"]
    assert any("sleepy_member" in m for m in messages)
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_timeout_in_endpoint_names_the_handler(caplog: pytest.LogCaptureFixture) -> None:
    """A slow endpoint past the deadline refuses with middleware_timeout naming the handler."""

    async def endpoint() -> None:
        await asyncio.sleep(5)

    with caplog.at_level(logging.ERROR, logger="siomw"), pytest.raises(Refusal) as info:
        await run_chain([recorder([], "a")], SUBJECT, endpoint, timeout=0.1)
    assert info.value.code == "middleware_timeout"
    assert any(ENDPOINT in r.getMessage() for r in caplog.records if r.name == "siomw")


async def test_deadline_does_not_fire_after_a_fast_run() -> None:
    """A run that finishes before its deadline leaves no pending cancellation behind."""
    await run_chain([recorder([], "a")], SUBJECT, endpoint_into([]), timeout=0.05)
    await asyncio.sleep(0.1)  # would raise CancelledError if the deadline still fired
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_outside_cancellation_is_not_a_refusal() -> None:
    """Cancelling the task that runs a chain propagates CancelledError, not a Refusal."""
    started = asyncio.Event()

    async def waiting(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        started.set()
        await asyncio.sleep(5)

    task = asyncio.create_task(run_chain([mw("waiting", waiting)], SUBJECT, endpoint_into([]),
                                         timeout=5))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_returning_without_call_next_refuses(caplog: pytest.LogCaptureFixture) -> None:
    """A member that returns without calling call_next refuses with internal_error, and a
    warning names it; the endpoint and inner members never run."""
    trace: list[str] = []

    async def forgetful(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        trace.append("forgetful")

    chain = [recorder(trace, "outer"), mw("forgetful_member", forgetful), recorder(trace, "inner")]
    with caplog.at_level(logging.WARNING, logger="siomw"), pytest.raises(Refusal) as info:
        await run_chain(chain, SUBJECT, endpoint_into(trace))
    assert info.value.code == "internal_error"
    assert trace == ["outer:before", "forgetful", "outer:saw Internal server error|internal_error"]
    warnings = [r for r in caplog.records if r.name == "siomw" and r.levelno == logging.WARNING]
    assert any("forgetful_member" in r.getMessage() for r in warnings)


async def test_call_next_twice_raises_inside_the_member() -> None:
    """A second call_next raises RuntimeError inside the member; the rest ran only once."""
    trace: list[str] = []
    errors: list[BaseException] = []

    async def greedy(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        await call_next()
        try:
            await call_next()
        except RuntimeError as exc:
            errors.append(exc)

    await run_chain([mw("greedy", greedy), recorder(trace, "inner")], SUBJECT,
                    endpoint_into(trace))
    assert trace == ["inner:before", "endpoint", "inner:after"]
    assert len(errors) == 1 and "greedy" in str(errors[0])


async def test_call_next_twice_uncaught_is_internal_error() -> None:
    """A member that lets the second call_next's RuntimeError escape refuses internal_error."""
    calls: list[str] = []

    async def greedy(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        await call_next()
        await call_next()

    async def endpoint() -> None:
        calls.append("endpoint")

    with pytest.raises(Refusal) as info:
        await run_chain([mw("greedy", greedy)], SUBJECT, endpoint)
    assert info.value.code == "internal_error"
    assert calls == ["endpoint"]


async def test_call_next_after_a_refusal_is_not_retried() -> None:
    """call_next that raised a Refusal still counts as the one call: a retry is refused."""
    errors: list[str] = []

    async def retrying(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        try:
            await call_next()
        except Refusal:
            try:
                await call_next()
            except RuntimeError as exc:
                errors.append(str(exc))
            raise

    async def endpoint() -> None:
        raise Refusal("no")

    with pytest.raises(Refusal):
        await run_chain([mw("retrying", retrying)], SUBJECT, endpoint)
    assert len(errors) == 1
