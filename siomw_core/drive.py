"""Run siomw's coroutine code to completion in the calling thread, for sync servers.

siomw's levels, its chain runner and the bundled plugins are written once, as coroutines.
On a sync ``socketio.Server`` nothing they await ever suspends: every I/O call they make goes
through the server kind's adapter (:mod:`siomw_core.adapters.sync_server`) or the plugin's
sync backend (``limits``' sync API, say), which return plain values. :func:`drive` steps such
a coroutine once, in the thread python-socketio calls it from (a WSGI worker thread, a
greenlet under gevent), and returns its result: no event loop, no thread hop.

A coroutine that does suspend (it awaited an asyncio future: ``asyncio.sleep``, a
``limits.aio`` storage, an ``aiohttp`` call) cannot make progress without a loop: the
``await`` raises :class:`SuspendedError` where it was written.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["SuspendedError", "drive", "ready"]

T = TypeVar("T")


class SuspendedError(RuntimeError):
    """A coroutine driven on a sync server awaited something only an event loop can
    complete (an asyncio future). Write the member as a plain ``def`` (sync servers call
    it in the request's thread), or use the blocking API of the library it calls."""


#: suspensions answered with SuspendedError before the coroutine is closed: a coroutine
#: that catches the error and awaits again, over and over, must not hang the thread
MAX_SUSPENSIONS = 10


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion without an event loop and return its result.

    When ``coro`` suspends (something in it awaited an asyncio future), a
    :class:`SuspendedError` is thrown in at that ``await``: the code that awaited sees it
    raised there, so a chain member that did gets refused ``internal_error`` with its own
    name logged, and the rest of the coroutine (the refusal's answer) runs on. One that
    keeps suspending is closed after :data:`MAX_SUSPENSIONS` attempts.

    Args:
        coro: a coroutine whose awaits all complete synchronously.

    Returns:
        What ``coro`` returned.

    Raises:
        SuspendedError: ``coro`` let the thrown error out, or kept suspending.
        BaseException: whatever else ``coro`` raised, unchanged.
    """
    error: SuspendedError | None = None
    for _ in range(MAX_SUSPENSIONS):
        try:
            yielded = coro.send(None) if error is None else coro.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        error = SuspendedError(
            f"awaited {yielded!r} on a sync server, where nothing runs an event loop: "
            "write it as a plain def (or with a blocking API)"
        )
    coro.close()
    assert error is not None
    raise error


class _Ready:
    """An awaitable that completes at once with a value (no suspension)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        return self.value
        yield  # pragma: no cover - makes this a generator that never suspends


def ready(value: T) -> Any:
    """An awaitable whose ``await`` returns ``value`` at once, on any kind of server.

    Sync adapters return it where the async contract expects an awaitable, so that code
    written once with ``await`` runs under :func:`drive`.
    """
    return _Ready(value)
