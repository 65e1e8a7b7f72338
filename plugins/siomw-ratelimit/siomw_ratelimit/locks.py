"""Per-identifier asyncio locks, held by the limiter while an event's budgets are tested
and spent, so that the two steps run as one within the process."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

__all__ = ["KeyLocks"]


class KeyLocks:
    """One ``asyncio.Lock`` per identifier while someone holds or awaits it (then dropped):
    the test-then-spend of several budgets runs as one step within the process."""

    __slots__ = ("_locks",)

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def __contains__(self, key: object) -> bool:
        """Whether someone holds or awaits ``key``'s lock."""
        return key in self._locks

    async def acquire(self, keys: Sequence[str]) -> None:
        """Take every lock of ``keys`` (sorted and distinct: no two holders can deadlock)."""
        locks = self._locks
        taken: list[str] = []
        try:
            for key in keys:
                lock, users = locks.get(key) or (asyncio.Lock(), 0)
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
            lock, users = locks[key]
            if acquired is None or index < acquired:
                lock.release()
            if users == 1:
                del locks[key]
            else:
                locks[key] = (lock, users - 1)
