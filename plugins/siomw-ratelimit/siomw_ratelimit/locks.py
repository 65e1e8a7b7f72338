"""Per-identifier locks, held by the limiter while an event's budgets are tested and
spent, so that the two steps run as one within the process (``asyncio.Lock`` on an
``AsyncServer``, ``threading.Lock`` on a sync server: the backend's kind)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from .backends import KeyLock

__all__ = ["KeyLocks"]


class KeyLocks:
    """One lock per identifier while someone holds or awaits it (then dropped): the
    test-then-spend of several budgets runs as one step within the process.

    Args:
        make_lock: a new lock of the server's kind (``Backend.lock``).

    The table of locks is itself guarded by a ``threading.Lock`` held only while it is
    read or changed (never across an await), so that request threads of a sync server
    share it safely; on an event loop it is never contended.
    """

    __slots__ = ("_guard", "_locks", "_make")

    def __init__(self, make_lock: Callable[[], KeyLock]) -> None:
        self._make = make_lock
        self._locks: dict[str, tuple[KeyLock, int]] = {}
        self._guard = threading.Lock()

    def __contains__(self, key: object) -> bool:
        """Whether someone holds or awaits ``key``'s lock."""
        return key in self._locks

    async def acquire(self, keys: Sequence[str]) -> None:
        """Take every lock of ``keys`` (sorted and distinct: no two holders can deadlock)."""
        locks = self._locks
        taken: list[str] = []
        try:
            for key in keys:
                with self._guard:
                    entry = locks.get(key)
                    lock, users = entry if entry is not None else (self._make(), 0)
                    locks[key] = (lock, users + 1)
                taken.append(key)
                await lock.acquire()
        except BaseException:  # cancelled while waiting: give back what was taken
            self.release(taken, acquired=len(taken) - 1)
            raise

    def release(self, keys: Sequence[str], acquired: int | None = None) -> None:
        """Release the locks of ``keys`` (the first ``acquired`` of them were acquired;
        default all) and drop those nobody else wants."""
        locks = self._locks
        for index, key in enumerate(keys):
            with self._guard:
                lock, users = locks[key]
                if users == 1:
                    del locks[key]
                else:
                    locks[key] = (lock, users - 1)
            if acquired is None or index < acquired:
                lock.release()
