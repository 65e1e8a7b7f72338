"""The onion runner: runs a composed chain of middlewares around an endpoint.

A chain is a tuple of :class:`~siomw_core.middleware.Middleware`, composed once (see
``ordering.py``) and run per connection. The runner adds the guarantees Node lacks
(``reference/node-socketio-semantics.md`` §1.4-1.6):

- ``call_next`` runs the rest of the chain at most once; a second call raises RuntimeError
  inside the middleware that made it;
- a middleware that returns without calling ``call_next`` and without raising refuses, with a
  warning that names it (Node leaves the client hanging);
- ``ConnectionRefusedError`` (python-socketio's or the built-in) is read as the refusal it
  stands for (``errors.as_refusal``), as python-socketio reads it from a connect handler;
- any other exception becomes the ``internal_error`` refusal at the boundary
  of the member that raised it, logged with that member's name and traceback, so members
  further out (a logger, say) see a Refusal like any other;
- a chain that passes its deadline is cancelled and refuses with ``middleware_timeout``;
  the log names the member that was running; a ``call_next`` after the deadline (by a
  member that swallowed the cancel) refuses the same way and runs nothing further;
- whatever a member does with ``call_next`` (``asyncio.gather``, ``create_task``), the rest
  of the chain never outlives it: when a member exits while its ``call_next`` still runs
  in another task, that task is cancelled and awaited and the member refuses; a
  ``call_next`` started after its member exited, or after the run ended, runs nothing;
- a refusal is never undone: a member that catches the refusal its ``call_next`` raised
  (to log it, say) and returns normally refuses with that same refusal, with a warning that
  names it (the rest of the chain, the application included, did not pass).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .errors import Refusal, as_refusal, internal_error, middleware_timeout
from .middleware import Middleware

__all__ = ["ENDPOINT", "run_chain"]

log = logging.getLogger("siomw")

#: the name logs give the application's handler at the end of a chain (``run_chain``'s
#: ``endpoint_name``: ``"event handler"`` at the event level)
ENDPOINT = "connect handler"

# what a member's call_next has done so far
_NOT_CALLED, _RUNNING, _DONE = 0, 1, 2


class _Run:
    """Per-run state: the deadline's flag, and whether the run is over."""

    __slots__ = ("chain", "endpoint_name", "over", "subject", "task", "timed_out")

    def __init__(self, chain: Sequence[Middleware], subject: Any, endpoint_name: str) -> None:
        self.chain = chain
        self.subject = subject
        self.endpoint_name = endpoint_name
        self.task = asyncio.current_task()  # the task the deadline cancels
        self.timed_out = False
        self.over = False  # decided: nothing may start the endpoint any more


def _fail(run: _Run, name: str, exc: BaseException) -> Refusal:
    """Turn an exception raised by ``name`` into the refusal outer members will see."""
    if isinstance(exc, asyncio.CancelledError):
        task = asyncio.current_task()
        if run.timed_out and task is run.task:
            run.timed_out = False  # converted once, at the innermost member of the run's task
            if task is not None and task.cancelling():
                task.uncancel()
            log.error("siomw: chain deadline passed while %r was running for %r", name,
                      run.subject)
            return middleware_timeout()
        if run.timed_out or (task is not None and task.cancelling()):
            # a real cancellation from outside; or the deadline reaching a task a member
            # started, which ends cancelled and is converted in the run's own task
            raise exc
        # raised by the middleware's own code: a failure like any other
        log.error("siomw: middleware %r raised CancelledError for %r; refusing with "
                  "internal_error", name, run.subject)
        return internal_error()
    refusal = as_refusal(exc)
    if refusal is not None:
        return refusal
    log.error(
        "siomw: middleware %r raised for %r; refusing with internal_error",
        name,
        run.subject,
        exc_info=exc,
    )
    return internal_error()


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a settled task's outcome as seen: _fail logged what mattered already."""
    if not task.cancelled():
        task.exception()


async def _settle(inner: asyncio.Task[Any]) -> None:
    """Cancel work a member left running in another task and wait for it to end."""
    inner.add_done_callback(_retrieve)
    inner.cancel()
    await asyncio.wait({inner})


async def _step(run: _Run, index: int, endpoint: Callable[[], Awaitable[Any]]) -> None:
    chain = run.chain
    if index == len(chain):
        # no run.over check here: call_next checked it with no await since
        try:
            await endpoint()
        except BaseException as exc:
            raise _fail(run, run.endpoint_name, exc) from None
        if run.timed_out:  # the cancel was swallowed (python-socketio's handlers do)
            raise _fail(run, run.endpoint_name, asyncio.CancelledError())
        return

    member = chain[index]
    here = asyncio.current_task()
    state = _NOT_CALLED
    inner: asyncio.Task[Any] | None = None  # the other task call_next runs in, if any
    exited = False
    seen: Refusal | None = None  # what call_next raised into the member

    async def call_next() -> None:
        nonlocal state, inner, seen
        if state != _NOT_CALLED:
            raise RuntimeError(f"middleware {member.name!r} called call_next() twice")
        if exited or run.over:
            raise RuntimeError(f"middleware {member.name!r} called call_next() after it "
                               "returned; nothing ran")
        state = _RUNNING
        task = asyncio.current_task()
        if task is not here:
            inner = task
        try:
            if run.timed_out:  # the member swallowed the deadline's cancel: decided
                raise _fail(run, member.name, asyncio.CancelledError())
            await _step(run, index + 1, endpoint)
        except Refusal as refusal:
            seen = refusal
            raise
        finally:
            state = _DONE

    error: BaseException | None = None
    try:
        await member.func(run.subject, call_next)
    except BaseException as exc:
        error = exc
    exited = True
    left_running = state == _RUNNING and inner is not None
    if left_running:
        assert inner is not None
        try:
            await _settle(inner)
        except asyncio.CancelledError as exc:  # the deadline, or a cancel from outside
            error = exc
    if error is not None:
        if run.timed_out and not isinstance(error, asyncio.CancelledError):
            error = asyncio.CancelledError()  # it swallowed the deadline's cancel, then ended
        if isinstance(error, Refusal):
            raise error
        raise _fail(run, member.name, error) from None
    if run.timed_out:  # the member swallowed the deadline's cancel
        raise _fail(run, member.name, asyncio.CancelledError())
    if seen is not None:  # it caught the refusal and returned: a refusal is never undone
        log.warning(
            "siomw: middleware %r caught the refusal of its call_next() (%s) and returned; "
            "the refusal stands for %r",
            member.name,
            seen.code or seen.message,
            run.subject,
        )
        raise seen
    if left_running:
        log.warning(
            "siomw: middleware %r returned while its call_next() still ran in another "
            "task (cancelled); refusing %r",
            member.name,
            run.subject,
        )
        raise internal_error()
    if state == _NOT_CALLED:
        if getattr(run.subject, "answered", False):  # an event member's Event.reply()
            return
        log.warning(
            "siomw: middleware %r returned without calling call_next() or raising; "
            "refusing %r",
            member.name,
            run.subject,
        )
        raise internal_error()


async def run_chain(
    chain: Sequence[Middleware],
    subject: Any,
    endpoint: Callable[[], Awaitable[Any]],
    timeout: float | None = None,
    *,
    endpoint_name: str = ENDPOINT,
    endpoint_timed: bool = True,
) -> None:
    """Run ``chain`` around ``endpoint`` for ``subject`` (a socket, an event, a request).

    Args:
        chain: the composed members, outermost first.
        subject: what each member receives as its first argument.
        endpoint: awaited at most once, when every member called ``call_next``: the
            application. It never starts once the run is decided.
        timeout: deadline for the whole run in seconds (``None``: no deadline).
        endpoint_name: what logs call the endpoint (``"connect handler"``,
            ``"event handler"``).
        endpoint_timed: False stops the deadline's clock while the endpoint runs (an event
            handler may take as long as it needs; the middlewares' own time is bounded),
            and restarts it with what was left when the endpoint returns.

    Returns:
        None when every member and the endpoint passed.

    Raises:
        Refusal: a member or the endpoint refused (a ``Refusal`` or a
            ``ConnectionRefusedError``), or failed (``internal_error``), or the deadline
            passed (``middleware_timeout``).
        asyncio.CancelledError: the run was cancelled from outside.
    """
    run = _Run(chain, subject, endpoint_name)
    if timeout is None:
        try:
            await _step(run, 0, endpoint)
        finally:
            run.over = True
        return
    task = run.task
    assert task is not None

    loop = asyncio.get_running_loop()
    inner = endpoint
    handle: asyncio.TimerHandle
    if endpoint_timed:
        def expire() -> None:
            run.timed_out = True
            task.cancel()
    else:
        # one timer per run, never re-armed on the way: when it fires, the time the
        # endpoint took (or is taking) is given back and it is set again for the rest
        started = loop.time()
        endpoint_time = 0.0
        endpoint_since: float | None = None

        def expire() -> None:
            nonlocal handle
            if run.over:
                return
            now = loop.time()
            running = now - endpoint_since if endpoint_since is not None else 0.0
            spent = now - started - endpoint_time - running
            if spent < timeout:
                handle = loop.call_later(timeout - spent, expire)
                return
            run.timed_out = True
            task.cancel()

        async def untimed() -> None:
            nonlocal endpoint_time, endpoint_since
            since = endpoint_since = loop.time()
            try:
                await endpoint()
            finally:
                endpoint_time += loop.time() - since
                endpoint_since = None

        inner = untimed
    handle = loop.call_later(timeout, expire)
    try:
        await _step(run, 0, inner)
    finally:
        run.over = True
        handle.cancel()
