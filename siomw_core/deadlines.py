"""One timer for the deadlines of every run of a level that has one timeout (the event
level's), so that a run's deadline costs two dict operations instead of a timer's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["Deadlines"]


class Deadlines:
    """One timer for every run of a level that has one timeout (the event level's).

    A run is added with its expiry callback and discarded when it ends (two dict
    operations: per-event cost stays far below a ``loop.call_later`` and its cancel). As
    every run gets the same timeout, the oldest run has the earliest deadline; one
    ``call_at`` waits for it and, when it fires, expires what is due and waits for the next.

    Args:
        timeout: seconds from a run's start to its deadline.
    """

    __slots__ = ("_handle", "_loop", "_runs", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._runs: dict[object, tuple[float, Callable[[], None]]] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __len__(self) -> int:
        return len(self._runs)

    def add(self, loop: asyncio.AbstractEventLoop, run: object,
            expire: Callable[[], None]) -> None:
        """Call ``expire()`` ``timeout`` seconds from now unless ``run`` is discarded."""
        if loop is not self._loop:  # the first run, or a new event loop (tests)
            self._loop, self._runs, self._handle = loop, {}, None
        deadline = loop.time() + self.timeout
        self._runs[run] = (deadline, expire)
        if self._handle is None:
            self._handle = loop.call_at(deadline, self._fire)

    def discard(self, run: object) -> None:
        """Forget ``run`` (it ended)."""
        self._runs.pop(run, None)

    def _fire(self) -> None:
        loop = self._loop
        assert loop is not None
        self._handle = None
        now = loop.time()
        runs = self._runs
        while runs:
            run = next(iter(runs))
            deadline, expire = runs[run]
            if deadline > now:
                self._handle = loop.call_at(deadline, self._fire)
                return
            del runs[run]
            expire()
