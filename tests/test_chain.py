"""The onion runner (siomw_core.chain.run_chain), without a server."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from siomw_core import Middleware, Refusal
from siomw_core.chain import ENDPOINT, Deadlines, run_chain

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


def siomw_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the runner logged (logger ``siomw``), in order."""
    return [r.getMessage() for r in caplog.records if r.name == "siomw"]


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
    assert [r.getMessage() for r in records] == [
        "siomw: middleware 'broken_member' raised for 'subject-1'; refusing with internal_error"
    ]
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
    assert siomw_messages(caplog) == [
        "siomw: chain deadline passed while 'sleepy_member' was running for 'subject-1'"
    ]
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_timeout_in_endpoint_names_the_handler(caplog: pytest.LogCaptureFixture) -> None:
    """A slow endpoint past the deadline refuses with middleware_timeout naming the handler."""

    async def endpoint() -> None:
        await asyncio.sleep(5)

    with caplog.at_level(logging.ERROR, logger="siomw"), pytest.raises(Refusal) as info:
        await run_chain([recorder([], "a")], SUBJECT, endpoint, timeout=0.1)
    assert info.value.code == "middleware_timeout"
    assert siomw_messages(caplog) == [
        f"siomw: chain deadline passed while {ENDPOINT!r} was running for 'subject-1'"
    ]


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
    assert siomw_messages(caplog) == [
        "siomw: middleware 'forgetful_member' returned without calling call_next() or "
        "raising; refusing 'subject-1'"
    ]


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


# cancellation raised, swallowed or caught ----------------------------------------------
TIMEOUT = {"message": "Middleware timeout", "data": {"code": "middleware_timeout"}}
INTERNAL = {"message": "Internal server error", "data": {"code": "internal_error"}}


def assert_not_cancelling() -> None:
    """The task that ran the chain carries no pending cancellation."""
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_cancelled_error_raised_by_middleware_code_is_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A CancelledError the middleware raises itself (nobody cancelled anything) is a
    failure like any other, not a cancellation of the run."""
    trace: list[str] = []

    async def odd(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        raise asyncio.CancelledError()

    with caplog.at_level(logging.ERROR, logger="siomw"), pytest.raises(Refusal) as info:
        await run_chain([recorder(trace, "outer"), mw("odd", odd)], SUBJECT,
                        endpoint_into(trace), timeout=5)
    assert info.value.payload() == INTERNAL
    assert trace == ["outer:before", "outer:saw Internal server error|internal_error"]
    assert siomw_messages(caplog) == [
        "siomw: middleware 'odd' raised CancelledError for 'subject-1'; refusing with "
        "internal_error"
    ]
    assert_not_cancelling()


async def _swallowing_sleep(trace: list[str]) -> None:
    try:
        await asyncio.sleep(5)
    except asyncio.CancelledError:
        trace.append("swallowed")


async def test_member_that_swallows_the_deadline_and_returns_times_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A member that catches the deadline's cancel and returns (without call_next) is
    refused with middleware_timeout, named once in the log; outer members see that
    refusal, and the task is left usable."""
    trace: list[str] = []

    async def swallower(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        await _swallowing_sleep(trace)

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="siomw"), pytest.raises(Refusal) as info:
        await run_chain([recorder(trace, "outer"), mw("swallower", swallower),
                         recorder(trace, "inner")], SUBJECT, endpoint_into(trace), timeout=0.1)
    assert time.monotonic() - started < 2
    assert info.value.payload() == TIMEOUT
    assert trace == ["outer:before", "swallowed", "outer:saw Middleware timeout|middleware_timeout"]
    assert siomw_messages(caplog) == [
        "siomw: chain deadline passed while 'swallower' was running for 'subject-1'"
    ]
    assert_not_cancelling()
    await asyncio.sleep(0.01)  # not cancelled again


async def test_member_that_swallows_the_deadline_then_calls_next_runs_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """After swallowing the deadline's cancel a member's call_next raises the timeout
    refusal: inner members and the endpoint never run."""
    trace: list[str] = []
    seen: list[Any] = []

    async def swallower(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        await _swallowing_sleep(trace)
        try:
            await call_next()
        except Refusal as refusal:
            seen.append(refusal.payload())
            raise

    with caplog.at_level(logging.WARNING, logger="siomw"), pytest.raises(Refusal) as info:
        await run_chain([mw("swallower", swallower), recorder(trace, "inner")], SUBJECT,
                        endpoint_into(trace), timeout=0.1)
    assert info.value.payload() == TIMEOUT
    assert seen == [TIMEOUT]
    assert trace == ["swallowed"]
    assert siomw_messages(caplog) == [
        "siomw: chain deadline passed while 'swallower' was running for 'subject-1'"
    ]
    assert_not_cancelling()


async def test_member_that_swallows_the_deadline_then_raises_times_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A member that swallows the deadline's cancel and then raises something else is
    still refused by the deadline (middleware_timeout), and its exception is not logged
    as a failure."""
    trace: list[str] = []

    async def swallower(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        await _swallowing_sleep(trace)
        raise ValueError("after the deadline")

    with caplog.at_level(logging.WARNING, logger="siomw"), pytest.raises(Refusal) as info:
        await run_chain([recorder(trace, "outer"), mw("swallower", swallower)], SUBJECT,
                        endpoint_into(trace), timeout=0.1)
    assert info.value.payload() == TIMEOUT
    assert siomw_messages(caplog) == [
        "siomw: chain deadline passed while 'swallower' was running for 'subject-1'"
    ]
    assert_not_cancelling()


async def test_endpoint_that_swallows_the_deadline_times_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An endpoint (a handler) that catches the deadline's cancel and returns is refused
    with middleware_timeout naming the handler; members see the refusal."""
    trace: list[str] = []

    async def endpoint() -> None:
        await _swallowing_sleep(trace)

    with caplog.at_level(logging.WARNING, logger="siomw"), pytest.raises(Refusal) as info:
        await run_chain([recorder(trace, "a")], SUBJECT, endpoint, timeout=0.1)
    assert info.value.payload() == TIMEOUT
    assert trace == ["a:before", "swallowed", "a:saw Middleware timeout|middleware_timeout"]
    assert siomw_messages(caplog) == [
        f"siomw: chain deadline passed while {ENDPOINT!r} was running for 'subject-1'"
    ]
    assert_not_cancelling()


async def test_deadline_converted_once_for_nested_swallowers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two members that both swallow: the innermost running one is named, once."""
    trace: list[str] = []

    async def outer(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        try:
            await call_next()
        except Refusal as refusal:
            trace.append(f"outer saw {refusal.code}")
            raise

    async def swallower(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        await _swallowing_sleep(trace)

    with caplog.at_level(logging.WARNING, logger="siomw"), pytest.raises(Refusal) as info:
        await run_chain([mw("outer", outer), recorder(trace, "middle"),
                         mw("swallower", swallower)], SUBJECT, endpoint_into(trace),
                        timeout=0.1)
    assert info.value.payload() == TIMEOUT
    assert trace == ["middle:before", "swallowed",
                     "middle:saw Middleware timeout|middleware_timeout",
                     "outer saw middleware_timeout"]
    assert siomw_messages(caplog) == [
        "siomw: chain deadline passed while 'swallower' was running for 'subject-1'"
    ]


@pytest.mark.parametrize("inner_kind", ["timeout", "refusal"])
async def test_outer_member_that_catches_a_refusal_and_returns_still_refuses(
    inner_kind: str, caplog: pytest.LogCaptureFixture,
) -> None:
    """An outer member that catches the timeout refusal (or any refusal) of its
    call_next and carries on cannot turn the attempt into an accepted one: the endpoint
    never ran, so the refusal stands."""
    trace: list[str] = []

    async def outer(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        try:
            await call_next()
        except Refusal as refusal:
            trace.append(f"outer caught {refusal.code}")

    async def inner(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        if inner_kind == "timeout":
            await asyncio.sleep(5)
        raise Refusal("no", {"code": "nope"})

    with pytest.raises(Refusal) as info:
        await run_chain([mw("outer", outer), mw("inner", inner)], SUBJECT,
                        endpoint_into(trace), timeout=0.1)
    expected = "middleware_timeout" if inner_kind == "timeout" else "nope"
    assert info.value.code == expected
    assert trace == [f"outer caught {expected}"]
    warned = [r.getMessage() for r in caplog.records if "caught the refusal" in r.getMessage()]
    assert warned == [f"siomw: middleware 'outer' caught the refusal of its call_next() "
                      f"({expected}) and returned; the refusal stands for {SUBJECT!r}"]


# call_next in other tasks ----------------------------------------------------------------
async def test_call_next_left_running_in_a_task_is_cancelled_and_refuses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A member that starts call_next in a task and returns while it runs: that task is
    cancelled and awaited (the endpoint never finishes), the member refuses with
    internal_error and a warning naming it; nothing is left for the event loop to report."""
    trace: list[str] = []
    tasks: list[asyncio.Task[None]] = []
    running = asyncio.Event()

    async def spawner(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        tasks.append(asyncio.create_task(call_next()))  # type: ignore[arg-type]
        await running.wait()  # the endpoint is running now

    async def endpoint() -> None:
        trace.append("endpoint started")
        running.set()
        await asyncio.sleep(5)
        trace.append("endpoint finished")

    with caplog.at_level(logging.WARNING), pytest.raises(Refusal) as info:
        await run_chain([recorder(trace, "outer"), mw("spawner", spawner),
                         recorder(trace, "inner")], SUBJECT, endpoint, timeout=5)
    assert info.value.payload() == INTERNAL
    assert tasks[0].cancelled()
    assert trace == ["outer:before", "inner:before", "endpoint started",
                     "outer:saw Internal server error|internal_error"]
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        ("siomw", "siomw: middleware 'spawner' returned while its call_next() still ran in "
                  "another task (cancelled); refusing 'subject-1'"),
    ]
    assert_not_cancelling()


async def test_call_next_in_a_task_that_finished_is_a_normal_pass() -> None:
    """A member that awaits the task it ran call_next in passes like any other."""
    trace: list[str] = []

    async def awaiting(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        await asyncio.create_task(call_next())  # type: ignore[arg-type]

    await run_chain([mw("awaiting", awaiting), recorder(trace, "inner")], SUBJECT,
                    endpoint_into(trace), timeout=5)
    assert trace == ["inner:before", "endpoint", "inner:after"]


@contextlib.contextmanager
def loop_reports() -> Iterator[list[str]]:
    """What the event loop's exception handler is asked to report meanwhile (asyncio's
    "Task exception was never retrieved", say), after a garbage collection so that tasks
    nobody awaited are reported."""
    loop = asyncio.get_running_loop()
    reports: list[str] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reports.append(context["message"]))
    try:
        yield reports
        gc.collect()
    finally:
        loop.set_exception_handler(previous)


async def test_call_next_after_the_member_returned_runs_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """create_task(call_next()) then returning: the member refused (returned without
    call_next); when the task runs, its call_next returns None with one warning naming the
    member, runs nothing, and leaves nothing for asyncio to report as never retrieved."""
    trace: list[str] = []
    tasks: list[asyncio.Task[None]] = []

    async def gate(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        tasks.append(asyncio.create_task(call_next()))  # type: ignore[arg-type]

    with loop_reports() as reports:
        with caplog.at_level(logging.WARNING, logger="siomw"), pytest.raises(Refusal) as info:
            await run_chain([mw("gate", gate), recorder(trace, "inner")], SUBJECT,
                            endpoint_into(trace))
        assert info.value.payload() == INTERNAL
        async with asyncio.timeout(2):
            await asyncio.wait(tasks)  # done, its outcome not looked at
        tasks.clear()
    assert reports == []
    assert trace == []
    assert siomw_messages(caplog) == [
        "siomw: middleware 'gate' returned without calling call_next() or raising; "
        "refusing 'subject-1'",
        "siomw: middleware 'gate' called call_next() after it returned; nothing ran for "
        "'subject-1'",
    ]


async def test_call_next_after_the_member_returned_runs_nothing_while_the_run_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An outer member is still running (it caught the refusal) when the task its inner
    member started calls that member's call_next: it returns None and nothing runs."""
    trace: list[str] = []
    tasks: list[asyncio.Task[None]] = []
    results: list[object] = []

    async def outer(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        try:
            await call_next()
        except Refusal:
            # the spawned call_next runs now, its member gone
            results.append(await tasks[0])  # type: ignore[func-returns-value]
            raise

    async def spawner(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        tasks.append(asyncio.create_task(call_next()))  # type: ignore[arg-type]

    with caplog.at_level(logging.WARNING, logger="siomw"), pytest.raises(Refusal) as info:
        await run_chain([mw("outer", outer), mw("spawner", spawner), recorder(trace, "inner")],
                        SUBJECT, endpoint_into(trace))
    assert info.value.payload() == INTERNAL
    assert results == [None]
    assert trace == []
    assert siomw_messages(caplog)[-1] == (
        "siomw: middleware 'spawner' called call_next() after it returned; nothing ran for "
        "'subject-1'")


async def test_a_second_call_next_while_the_member_runs_still_raises() -> None:
    """Calling call_next twice while the member is still running is the member's own
    programming error: the second call raises RuntimeError into it."""
    errors: list[str] = []

    async def twice(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        await call_next()
        try:
            await call_next()
        except RuntimeError as exc:
            errors.append(str(exc))

    trace: list[str] = []
    await run_chain([mw("twice", twice)], SUBJECT, endpoint_into(trace))
    assert errors == ["middleware 'twice' called call_next() twice"]
    assert trace == ["endpoint"]


@pytest.mark.parametrize("timeout", [None, 5.0])
async def test_call_next_after_the_run_was_cancelled_runs_nothing(
    timeout: float | None, caplog: pytest.LogCaptureFixture,
) -> None:
    """The run is cancelled from outside while it waits for a call_next task that holds
    out against its cancel: run_chain raises CancelledError (not a refusal), and a
    call_next made after that in the held-out task returns None with a warning: the
    endpoint never runs."""
    trace: list[str] = []
    holding = asyncio.Event()
    settling = asyncio.Event()
    done = asyncio.Event()
    results: list[object] = []

    async def spawner(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        asyncio.create_task(call_next())  # type: ignore[arg-type]  # noqa: RUF006
        await holding.wait()

    async def stubborn(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        try:
            holding.set()
            await asyncio.sleep(5)  # cancelled by the runner when spawner returns
        except asyncio.CancelledError:  # spawner returned: the runner cancels this task
            settling.set()
            await asyncio.sleep(0.2)  # holds out while the run is cancelled from outside
        try:
            results.append(await call_next())  # type: ignore[func-returns-value]
        finally:
            done.set()

    run = asyncio.create_task(run_chain(
        [mw("spawner", spawner), mw("stubborn", stubborn)], SUBJECT, endpoint_into(trace),
        timeout=timeout))
    async with asyncio.timeout(5):
        await settling.wait()  # the runner waits for the stubborn task now
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    async with asyncio.timeout(2):
        await done.wait()
    assert results == [None]
    assert trace == []
    assert siomw_messages(caplog) == [
        "siomw: middleware 'stubborn' called call_next() after its chain's run ended; nothing "
        "ran for 'subject-1'"]


async def test_untimed_endpoint_is_not_polled_while_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the endpoint's time not counted, a member that used up nearly all of the
    deadline before a slow endpoint does not make the timer wake up again and again while
    the endpoint runs: it is set once more after the endpoint returns (and the rest of the
    members' time still counts)."""
    loop = asyncio.get_running_loop()
    armed: list[float] = []
    call_later = loop.call_later

    def counting(delay: float, callback: Any, *args: Any) -> asyncio.TimerHandle:
        if getattr(callback, "__name__", "") == "expire":  # the deadline's, not sleep's
            armed.append(delay)
        return call_later(delay, callback, *args)

    monkeypatch.setattr(loop, "call_later", counting)

    async def slow_member(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(0.18)  # of a 0.2 s deadline
        await call_next()

    async def slow_endpoint() -> None:
        await asyncio.sleep(0.5)

    await run_chain([mw("slow", slow_member)], SUBJECT, slow_endpoint, timeout=0.2,
                    endpoint_timed=False)
    assert len(armed) <= 2, armed  # the run's timer, and once after the endpoint at most

    async def late_member(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(0.15)
        await call_next()
        await asyncio.sleep(0.3)  # after the endpoint: members' time again, past 0.2 s

    with pytest.raises(Refusal) as info:
        await run_chain([mw("late", late_member)], SUBJECT, slow_endpoint, timeout=0.2,
                        endpoint_timed=False)
    assert info.value.code == "middleware_timeout"


# the subject's ``answered`` ------------------------------------------------------------------
class _Answered:
    """A subject a member answered itself (``Event.reply()`` sets ``answered``)."""

    answered = True

    def __repr__(self) -> str:
        return "answered-subject"


async def test_member_that_answered_ends_the_run_without_refusing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A member that returns without call_next on an answered subject is not refused: the
    endpoint does not run, outer members' after parts do, nothing is logged."""
    trace: list[str] = []

    async def answers(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        trace.append("answers")

    with caplog.at_level(logging.DEBUG, logger="siomw"):
        await run_chain([recorder(trace, "a"), mw("answers", answers)], _Answered(),
                        endpoint_into(trace), timeout=5)
    assert trace == ["a:before", "answers", "a:after"]
    assert siomw_messages(caplog) == []


# Deadlines: one timer for a level's runs -----------------------------------------------------
def _counting_call_at(monkeypatch: pytest.MonkeyPatch,
                      loop: asyncio.AbstractEventLoop) -> list[float]:
    """The ``when`` of every ``loop.call_at`` a Deadlines makes (its ``_fire``)."""
    armed: list[float] = []
    call_at = loop.call_at

    def counting(when: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        if getattr(callback, "__name__", "") == "_fire":
            armed.append(when)
        return call_at(when, callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_at", counting)
    return armed


async def test_deadlines_one_timer_expires_runs_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Runs added at different times expire in order, each at its own start + timeout, with
    one timer at a time (set for the oldest run, then for the next); once all expired, a new
    run arms it again."""
    loop = asyncio.get_running_loop()
    armed = _counting_call_at(monkeypatch, loop)
    deadlines = Deadlines(0.1)
    assert len(deadlines) == 0
    assert deadlines.timeout == 0.1
    expired: list[tuple[str, float]] = []
    bounds: dict[str, tuple[float, float]] = {}

    def add(name: str) -> None:
        before = loop.time()
        deadlines.add(loop, name, lambda: expired.append((name, loop.time())))
        bounds[name] = (before + 0.1, loop.time() + 0.1)

    add("a")
    await asyncio.sleep(0.03)
    add("b")
    await asyncio.sleep(0.03)
    add("c")
    assert len(deadlines) == 3
    assert len(armed) == 1  # one timer for the three runs
    async with asyncio.timeout(2):
        while len(expired) < 3:
            await asyncio.sleep(0.01)
    assert [name for name, _ in expired] == ["a", "b", "c"]
    for name, at in expired:
        assert at >= bounds[name][0], (name, at, bounds[name])
    assert len(deadlines) == 0
    assert len(armed) == 3  # the oldest run's deadline, then each next one's
    for when, name in zip(armed, "abc", strict=True):
        assert bounds[name][0] <= when <= bounds[name][1]
    add("d")  # all expired: the timer is set again
    assert len(armed) == 4
    async with asyncio.timeout(2):
        while len(expired) < 4:
            await asyncio.sleep(0.01)
    assert expired[3][0] == "d" and expired[3][1] >= bounds["d"][0]


async def test_deadlines_discard_forgets_a_run() -> None:
    """A discarded run never expires; the others still do; discarding a run that expired
    already (or was never added) is harmless."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(0.05)
    expired: list[str] = []
    for name in ("a", "b", "c"):
        deadlines.add(loop, name, lambda name=name: expired.append(name))  # type: ignore[misc]
    deadlines.discard("a")
    assert len(deadlines) == 2
    await asyncio.sleep(0.15)
    assert expired == ["b", "c"]
    assert len(deadlines) == 0
    deadlines.discard("b")  # expired already
    deadlines.discard("never added")
    assert len(deadlines) == 0


def test_deadlines_on_a_new_event_loop() -> None:
    """A Deadlines kept across event loops (a server restarted in tests) starts afresh on a
    new loop: the old loop's pending timer and runs are dropped, the new run expires."""
    deadlines = Deadlines(0.05)
    expired: list[str] = []

    async def first() -> None:
        deadlines.add(asyncio.get_running_loop(), "old", lambda: expired.append("old"))
        # the loop ends before the deadline: its timer never fires

    async def second() -> None:
        deadlines.add(asyncio.get_running_loop(), "new", lambda: expired.append("new"))
        assert len(deadlines) == 1  # the old loop's run is gone
        await asyncio.sleep(0.15)

    asyncio.run(first())
    assert len(deadlines) == 1
    asyncio.run(second())
    assert expired == ["new"]
    assert len(deadlines) == 0


async def test_run_chain_with_shared_deadlines_concurrent_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Runs sharing a Deadlines: the one past its deadline refuses with middleware_timeout
    naming its member, the others pass; every run is discarded when it ends."""
    deadlines = Deadlines(0.2)
    trace: list[str] = []
    never = asyncio.Event()

    async def stuck(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        await never.wait()

    async def quick(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(0.05)
        await call_next()

    async def endpoint() -> None:
        trace.append("endpoint")

    await run_chain([mw("quick", quick)], "s0", endpoint, deadlines)
    assert len(deadlines) == 0  # discarded when it ended, long before its deadline
    trace.clear()
    start = asyncio.get_running_loop().time()
    with caplog.at_level(logging.ERROR, logger="siomw"):
        async with asyncio.timeout(3):
            results = await asyncio.gather(
                run_chain([mw("stuck", stuck)], "s1", endpoint, deadlines),
                run_chain([mw("quick", quick)], "s2", endpoint, deadlines),
                run_chain([mw("quick", quick)], "s3", endpoint, deadlines),
                return_exceptions=True)
    elapsed = asyncio.get_running_loop().time() - start
    assert isinstance(results[0], Refusal) and results[0].code == "middleware_timeout"
    assert results[1] is None and results[2] is None
    assert trace == ["endpoint", "endpoint"]
    assert 0.2 <= elapsed < 2
    assert siomw_messages(caplog) == [
        "siomw: chain deadline passed while 'stuck' was running for 's1'"]
    assert len(deadlines) == 0
    # a later run on the same Deadlines is timed again
    with pytest.raises(Refusal) as info:
        async with asyncio.timeout(3):
            await run_chain([mw("stuck", stuck)], "s4", endpoint, deadlines)
    assert info.value.code == "middleware_timeout"
    assert len(deadlines) == 0


# endpoint_timed=False: the endpoint's own time is not counted --------------------------------
def _timed_member(before: float, after: float | None) -> Middleware:
    """Sleeps ``before`` seconds, calls call_next, then sleeps ``after`` (None: forever)."""
    never = asyncio.Event()

    async def func(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(before)
        await call_next()
        if after is None:
            await never.wait()
        else:
            await asyncio.sleep(after)

    return mw("m", func)


def _sleeping(seconds: float) -> Callable[[], Awaitable[None]]:
    async def endpoint() -> None:
        await asyncio.sleep(seconds)

    return endpoint


def _counting_call_later(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delay of every ``call_later`` of a run's deadline (its ``expire``)."""
    loop = asyncio.get_running_loop()
    armed: list[float] = []
    call_later = loop.call_later

    def counting(delay: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        if getattr(callback, "__name__", "") == "expire":
            armed.append(delay)
        return call_later(delay, callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_later", counting)
    return armed


async def test_untimed_endpoint_time_not_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    """An endpoint longer than the whole deadline passes when the members' own time is
    short; the deadline that fell due while it ran is set again after it, for what is left
    of the members' time (0.3 s less the member's 0.02 s before)."""
    armed = _counting_call_later(monkeypatch)
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with asyncio.timeout(3):
        await run_chain([_timed_member(0.02, 0.05)], SUBJECT, _sleeping(0.4), timeout=0.3,
                        endpoint_timed=False)
    assert loop.time() - start >= 0.47
    assert len(armed) == 2, armed
    assert armed[0] == 0.3
    assert 0.1 < armed[1] <= 0.28  # what the member left: at most 0.3 - 0.02


async def test_untimed_fast_run_arms_one_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that ends before its deadline sets exactly one timer."""
    armed = _counting_call_later(monkeypatch)
    await run_chain([_timed_member(0, 0)], SUBJECT, _sleeping(0), timeout=0.3,
                    endpoint_timed=False)
    assert armed == [0.3]


async def test_untimed_members_time_before_and_after_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The deadline falling due after the endpoint returned gives back the endpoint's time
    (0.15 s): a member with 0.02 s before and 0.2 s after it (0.22 s of a 0.3 s deadline)
    passes."""
    armed = _counting_call_later(monkeypatch)
    trace: list[str] = []
    async with asyncio.timeout(3):
        await run_chain([recorder(trace, "r"), _timed_member(0.02, 0.2)], SUBJECT,
                        _sleeping(0.15), timeout=0.3, endpoint_timed=False)
    assert trace == ["r:before", "r:after"]
    assert len(armed) == 2, armed  # the run's timer, then the endpoint's time given back
    assert armed[0] == 0.3
    # 0.3 - the members' own time: the timer fires at 0.3 with the endpoint's 0.15 s (and
    # the clock's jitter: asyncio.sleep(0.15) lasts at least that) given back
    assert 0.05 < armed[1] <= 0.16


async def test_untimed_members_time_after_the_endpoint_times_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A member that runs on after the endpoint is cancelled once the members' own time
    reaches the deadline: at 0.3 s plus the endpoint's 0.15 s, naming the member."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    with caplog.at_level(logging.ERROR, logger="siomw"), pytest.raises(Refusal) as info:
        async with asyncio.timeout(3):
            await run_chain([_timed_member(0.02, None)], SUBJECT, _sleeping(0.15),
                            timeout=0.3, endpoint_timed=False)
    elapsed = loop.time() - start
    assert info.value.code == "middleware_timeout"
    assert 0.45 <= elapsed < 2
    assert siomw_messages(caplog) == [
        "siomw: chain deadline passed while 'm' was running for 'subject-1'"]


async def test_untimed_member_before_the_endpoint_times_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before the endpoint runs the clock runs as usual: a member stuck there is cancelled
    at the deadline and the endpoint never runs."""
    trace: list[str] = []
    never = asyncio.Event()

    async def stuck(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        await never.wait()

    loop = asyncio.get_running_loop()
    start = loop.time()
    with caplog.at_level(logging.ERROR, logger="siomw"), pytest.raises(Refusal) as info:
        async with asyncio.timeout(3):
            await run_chain([mw("stuck", stuck)], SUBJECT, endpoint_into(trace),
                            timeout=0.1, endpoint_timed=False)
    assert info.value.code == "middleware_timeout"
    assert 0.1 <= loop.time() - start < 2
    assert trace == []
    assert siomw_messages(caplog) == [
        "siomw: chain deadline passed while 'stuck' was running for 'subject-1'"]


async def test_untimed_runs_sharing_deadlines() -> None:
    """Concurrent untimed runs on one Deadlines: a slow endpoint passes, a member stuck
    before its endpoint times out, a fast run passes; all are discarded."""
    deadlines = Deadlines(0.2)
    never = asyncio.Event()

    async def stuck(subject: Any, call_next: Callable[[], Awaitable[None]]) -> None:
        await never.wait()

    async with asyncio.timeout(3):
        results = await asyncio.gather(
            run_chain([_timed_member(0.02, 0.05)], "slow", _sleeping(0.35), deadlines,
                      endpoint_timed=False),
            run_chain([mw("stuck", stuck)], "stuck", _sleeping(0), deadlines,
                      endpoint_timed=False),
            run_chain([_timed_member(0, 0)], "fast", _sleeping(0), deadlines,
                      endpoint_timed=False),
            return_exceptions=True)
    assert results[0] is None
    assert isinstance(results[1], Refusal) and results[1].code == "middleware_timeout"
    assert results[2] is None
    assert len(deadlines) == 0
