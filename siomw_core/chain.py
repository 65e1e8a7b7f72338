"""The onion runner: runs a composed chain of middlewares around an endpoint.

A chain is a tuple of :class:`~siomw_core.middleware.Middleware`, composed once (see
``ordering.py``) and run per connection. The runner adds the guarantees Node lacks
(``reference/node-socketio-semantics.md`` §1.4-1.6):

- ``call_next`` runs the rest of the chain at most once; a second call raises RuntimeError
  inside the middleware that made it;
- a middleware that returns without calling ``call_next`` and without raising refuses, with a
  warning that names it (Node leaves the client hanging);
- any exception but a :class:`Refusal` becomes the ``internal_error`` refusal at the boundary
  of the member that raised it, logged with that member's name and traceback, so members
  further out (a logger, say) see a Refusal like any other;
- a chain that passes its deadline is cancelled and refuses with ``middleware_timeout``;
  the log names the member that was running.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .errors import Refusal, internal_error, middleware_timeout
from .middleware import Middleware

__all__ = ["ENDPOINT", "run_chain"]

log = logging.getLogger("siomw")

#: the name logs give the application's handler at the end of a chain
ENDPOINT = "connect handler"


class _Run:
    """Per-run state: what is running, and whether the deadline cancelled it."""

    __slots__ = ("chain", "running", "subject", "timed_out")

    def __init__(self, chain: Sequence[Middleware], subject: Any) -> None:
        self.chain = chain
        self.subject = subject
        self.running: list[str] = []
        self.timed_out = False


def _fail(run: _Run, name: str, exc: BaseException) -> Refusal:
    """Turn an exception raised by ``name`` into the refusal outer members will see."""
    if isinstance(exc, asyncio.CancelledError):
        task = asyncio.current_task()
        if not run.timed_out:
            if task is not None and task.cancelling():
                raise exc  # a real cancellation from outside the chain
            # raised by the middleware's own code: a failure like any other
            log.error("siomw: middleware %r raised CancelledError for %r; refusing with "
                      "internal_error", name, run.subject)
            return internal_error()
        run.timed_out = False  # converted once, at the innermost member
        if task is not None:
            task.uncancel()
        log.error("siomw: chain deadline passed while %r was running for %r", name, run.subject)
        return middleware_timeout()
    log.error(
        "siomw: middleware %r raised for %r; refusing with internal_error",
        name,
        run.subject,
        exc_info=exc,
    )
    return internal_error()


async def _step(run: _Run, index: int, endpoint: Callable[[], Awaitable[Any]]) -> None:
    chain = run.chain
    if index == len(chain):
        run.running.append(ENDPOINT)
        try:
            await endpoint()
        except Refusal:
            raise
        except BaseException as exc:
            raise _fail(run, ENDPOINT, exc) from None
        finally:
            run.running.pop()
        if run.timed_out:  # the cancel was swallowed (python-socketio's handlers do)
            raise _fail(run, ENDPOINT, asyncio.CancelledError())
        return

    member = chain[index]
    called = False

    async def call_next() -> None:
        nonlocal called
        if called:
            raise RuntimeError(f"middleware {member.name!r} called call_next() twice")
        called = True
        await _step(run, index + 1, endpoint)

    run.running.append(member.name)
    try:
        await member.func(run.subject, call_next)
    except Refusal:
        raise
    except BaseException as exc:
        raise _fail(run, member.name, exc) from None
    finally:
        run.running.pop()
    if run.timed_out:  # the member swallowed the deadline's cancel
        raise _fail(run, member.name, asyncio.CancelledError())
    if not called:
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
) -> None:
    """Run ``chain`` around ``endpoint`` for ``subject`` (a socket, an event, a request).

    Args:
        chain: the composed members, outermost first.
        subject: what each member receives as its first argument.
        endpoint: awaited once every member called ``call_next``: the application.
        timeout: deadline for the whole run in seconds (``None``: no deadline).

    Returns:
        None when every member and the endpoint passed.

    Raises:
        Refusal: a member or the endpoint refused, or failed (``internal_error``), or the
            deadline passed (``middleware_timeout``).
        asyncio.CancelledError: the run was cancelled from outside.
    """
    run = _Run(chain, subject)
    if timeout is None:
        await _step(run, 0, endpoint)
        return
    task = asyncio.current_task()
    assert task is not None

    def expire() -> None:
        run.timed_out = True
        task.cancel()

    handle = asyncio.get_running_loop().call_later(timeout, expire)
    try:
        await _step(run, 0, endpoint)
    finally:
        handle.cancel()
