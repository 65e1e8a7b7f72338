"""The onion runner when members run ``call_next`` concurrently, swallow the deadline's
cancel, or raise ``ConnectionRefusedError`` (siomw_core.chain.run_chain, no server)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from socketio.exceptions import ConnectionRefusedError as SioConnectionRefusedError

from siomw_core import Middleware, Refusal
from siomw_core.chain import run_chain

CallNext = Callable[[], Awaitable[None]]
INTERNAL = ("Internal server error", "internal_error")
TIMEOUT = ("Middleware timeout", "middleware_timeout")


def member(name: str, func: Callable[[Any, CallNext], Awaitable[None]]) -> Middleware:
    return Middleware(name=name, func=func)


class Endpoint:
    """An endpoint that records its start, end or cancellation; ``swallow`` ignores the
    cancel as python-socketio's ``_trigger_event`` does for connect handlers."""

    def __init__(self, wait: float = 0.2, swallow: bool = False) -> None:
        self.wait = wait
        self.swallow = swallow
        self.trace: list[str] = []

    async def __call__(self) -> None:
        self.trace.append("start")
        try:
            await asyncio.sleep(self.wait)
        except asyncio.CancelledError:
            self.trace.append("cancelled")
            if not self.swallow:
                raise
        self.trace.append("end")


async def refusal_of(chain: list[Middleware], endpoint: Endpoint,
                     timeout: float | None = 5) -> tuple[str, str | None]:
    with pytest.raises(Refusal) as info:
        await run_chain(chain, "subject", endpoint, timeout=timeout)
    return info.value.message, info.value.code


def siomw_records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "siomw" and r.levelno == level]


# --- concurrent call_next ----------------------------------------------------------------


async def test_gather_of_two_call_next_refuses_and_ends_the_endpoint(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """gather(call_next(), call_next()): the second raises RuntimeError, the member fails
    with internal_error, and the endpoint the first started is cancelled and awaited before
    run_chain returns; nothing runs afterwards."""
    endpoint = Endpoint()

    async def doubler(subject: Any, call_next: CallNext) -> None:
        await asyncio.gather(call_next(), call_next())

    assert await refusal_of([member("doubler", doubler)], endpoint) == INTERNAL
    assert endpoint.trace == ["start", "cancelled"]
    await asyncio.sleep(0.3)
    assert endpoint.trace == ["start", "cancelled"]
    [error] = siomw_records(caplog, logging.ERROR)
    assert "'doubler'" in error
    assert "twice" in str(caplog.records[-1].exc_info[1])  # type: ignore[index]


async def test_gather_with_a_swallowing_endpoint_waits_for_it() -> None:
    """An endpoint that ignores the cancel (python-socketio's handlers) is awaited to its
    end before the refusal: the caller can pair it (the connect level calls disconnect)."""
    endpoint = Endpoint(swallow=True)

    async def doubler(subject: Any, call_next: CallNext) -> None:
        await asyncio.gather(call_next(), call_next())

    assert await refusal_of([member("doubler", doubler)], endpoint) == INTERNAL
    assert endpoint.trace == ["start", "cancelled", "end"]


async def test_create_task_then_return_never_runs_the_endpoint(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """create_task(call_next()) then returning refuses (call_next had not started); when the
    task runs later, its call_next returns None with a warning naming the member, the
    endpoint never runs, and asyncio reports no "Task exception was never retrieved"."""
    endpoint = Endpoint()
    tasks: list[asyncio.Future[None]] = []
    reports: list[str] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reports.append(context["message"]))

    async def detach(subject: Any, call_next: CallNext) -> None:
        tasks.append(asyncio.ensure_future(call_next()))

    try:
        assert await refusal_of([member("detach", detach)], endpoint) == INTERNAL
        async with asyncio.timeout(2):
            await asyncio.wait(tasks)  # done; its outcome is not looked at
        tasks.clear()
        await asyncio.sleep(0.3)
        gc.collect()  # a task whose exception nobody retrieved is reported now
    finally:
        loop.set_exception_handler(previous)
    assert reports == []
    assert endpoint.trace == []
    assert siomw_records(caplog, logging.WARNING) == [
        "siomw: middleware 'detach' returned without calling call_next() or raising; "
        "refusing 'subject'",
        "siomw: middleware 'detach' called call_next() after it returned; nothing ran for "
        "'subject'",
    ]


async def test_returning_while_call_next_runs_elsewhere_cancels_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A member that starts call_next in a task and returns while it still runs refuses;
    the task (inner members and endpoint) is cancelled and awaited first."""
    endpoint = Endpoint(wait=5)
    inner_trace: list[str] = []
    started: list[asyncio.Future[None]] = []

    async def detach(subject: Any, call_next: CallNext) -> None:
        started.append(asyncio.ensure_future(call_next()))
        await asyncio.sleep(0.05)  # the task is inside the endpoint now

    async def inner(subject: Any, call_next: CallNext) -> None:
        try:
            await call_next()
        except asyncio.CancelledError:
            inner_trace.append("inner cancelled")
            raise

    chain = [member("detach", detach), member("inner", inner)]
    assert await refusal_of(chain, endpoint) == INTERNAL
    assert endpoint.trace == ["start", "cancelled"]
    assert inner_trace == ["inner cancelled"]
    [warning] = siomw_records(caplog, logging.WARNING)
    assert "'detach' returned while its call_next() still ran in another task" in warning


@pytest.mark.parametrize("style", ["create_task", "wait_for", "shield"])
async def test_awaiting_call_next_in_another_task_is_fine(style: str) -> None:
    """A member that awaits its call_next through a task (create_task, wait_for, shield)
    passes, and an inner refusal reaches it through that task."""
    endpoint = Endpoint(wait=0.01)
    seen: list[str | None] = []

    async def through_task(subject: Any, call_next: CallNext) -> None:
        if style == "create_task":
            await asyncio.ensure_future(call_next())
        elif style == "wait_for":
            await asyncio.wait_for(call_next(), 5)
        else:
            await asyncio.shield(call_next())

    await run_chain([member("through", through_task)], "subject", endpoint, timeout=5)
    assert endpoint.trace == ["start", "end"]

    async def outer(subject: Any, call_next: CallNext) -> None:
        try:
            await call_next()
        except Refusal as refusal:
            seen.append(refusal.code)
            raise

    async def refuse(subject: Any, call_next: CallNext) -> None:
        raise Refusal("no", {"code": "nope"})

    chain = [member("outer", outer), member("through", through_task), member("refuse", refuse)]
    assert await refusal_of(chain, Endpoint()) == ("no", "nope")
    assert seen == ["nope"]


@pytest.mark.parametrize("style", ["gather", "create_task_await", "create_task_sleep"])
async def test_deadline_with_call_next_in_another_task_is_middleware_timeout(
    style: str,
) -> None:
    """The deadline passing while call_next runs in another task refuses with
    middleware_timeout (not internal_error, not a bare cancellation); the endpoint ends."""
    endpoint = Endpoint(wait=5)
    started: list[asyncio.Future[None]] = []

    async def concurrent(subject: Any, call_next: CallNext) -> None:
        if style == "gather":
            await asyncio.gather(call_next())
        elif style == "create_task_await":
            await asyncio.ensure_future(call_next())
        else:
            started.append(asyncio.ensure_future(call_next()))
            await asyncio.sleep(5)

    chain = [member("concurrent", concurrent)]
    assert await refusal_of(chain, endpoint, timeout=0.2) == TIMEOUT
    assert endpoint.trace == ["start", "cancelled"]
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


# --- the deadline's cancel swallowed -----------------------------------------------------


async def test_call_next_after_swallowing_the_deadline_runs_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A member that swallows the deadline's cancel and then calls call_next gets the
    middleware_timeout refusal from it; the rest of the chain and the endpoint never run,
    and an outer member sees middleware_timeout."""
    endpoint = Endpoint(wait=0)
    ran: list[str] = []
    seen: list[str | None] = []

    async def outer(subject: Any, call_next: CallNext) -> None:
        try:
            await call_next()
        except Refusal as refusal:
            seen.append(refusal.code)
            raise

    async def stubborn(subject: Any, call_next: CallNext) -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            pass
        await call_next()

    async def inner(subject: Any, call_next: CallNext) -> None:
        ran.append("inner")
        await call_next()

    chain = [member("outer", outer), member("stubborn", stubborn), member("inner", inner)]
    assert await refusal_of(chain, endpoint, timeout=0.2) == TIMEOUT
    assert (ran, endpoint.trace, seen) == ([], [], ["middleware_timeout"])
    [error] = siomw_records(caplog, logging.ERROR)
    assert "deadline passed while 'stubborn' was running" in error


async def test_refusal_after_swallowing_the_deadline_is_middleware_timeout() -> None:
    """A member that swallows the deadline's cancel and then refuses on its own is
    reported as middleware_timeout: the deadline decided the run."""

    async def stubborn(subject: Any, call_next: CallNext) -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            pass
        raise Refusal("mine", {"code": "mine"})

    assert await refusal_of([member("stubborn", stubborn)], Endpoint(), timeout=0.2) == TIMEOUT


# --- ConnectionRefusedError ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (SioConnectionRefusedError("bad token", {"code": 401}), ("bad token", {"code": 401})),
        (SioConnectionRefusedError(), ("Connection rejected by server", None)),
        (SioConnectionRefusedError("m", 1, 2), ("m", [1, 2])),
        (ConnectionRefusedError("nope"), ("nope", None)),
        (ConnectionRefusedError("nope", {"code": "banned"}), ("nope", {"code": "banned"})),
        (ConnectionRefusedError(), ("Connection refused by server", None)),
    ],
)
async def test_connection_refused_error_in_a_member_is_its_refusal(
    exc: Exception, expected: tuple[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """ConnectionRefusedError (python-socketio's or the built-in) raised by a member refuses
    with its message and data, as python-socketio reads it from a connect handler; an outer
    member sees that Refusal; nothing is logged as an error."""
    seen: list[tuple[str, Any]] = []

    async def outer(subject: Any, call_next: CallNext) -> None:
        try:
            await call_next()
        except Refusal as refusal:
            seen.append((refusal.message, refusal.data))
            raise

    async def refuser(subject: Any, call_next: CallNext) -> None:
        raise exc

    with pytest.raises(Refusal) as info:
        await run_chain([member("outer", outer), member("refuser", refuser)], "s", Endpoint())
    assert (info.value.message, info.value.data) == expected
    assert seen == [expected]
    assert not siomw_records(caplog, logging.ERROR)


async def test_refused_tcp_connection_in_a_member_is_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A built-in ConnectionRefusedError carrying an errno (a backend is down) is a failure:
    internal_error, logged with its traceback, its text kept from the client."""

    async def fetcher(subject: Any, call_next: CallNext) -> None:
        await asyncio.open_connection("127.0.0.1", 1)  # nothing listens on port 1

    with pytest.raises(Refusal) as info:
        await run_chain([member("fetcher", fetcher)], "s", Endpoint())
    assert (info.value.message, info.value.code) == INTERNAL
    [error] = [r for r in caplog.records if r.name == "siomw" and r.levelno == logging.ERROR]
    assert "'fetcher'" in error.getMessage()
    assert isinstance(error.exc_info[1], ConnectionRefusedError)  # type: ignore[index]
