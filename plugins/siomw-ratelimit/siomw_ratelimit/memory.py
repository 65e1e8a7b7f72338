"""``limits``' in-process memory storages, with their expiry sweep made periodic.

``limits`` 5.x expires memory entries by sweeping every key from the counting call itself:
``limits.aio``'s ``MemoryStorage`` starts a task per call (when none is running) that walks
every key, taking each key's lock and an ``asyncio.to_thread`` round per key; the sync
``MemoryStorage`` starts a ``threading.Timer`` 10 ms after each call that walks every key
under its lock. With many keys (one per client address) the sweep costs more than the count
itself: hundreds of microseconds of CPU per connection at 12 500 keys (``bench/README.md``).

The sweep only frees memory: every count reads the timestamps of its own key (the moving
window compares the entry at ``limit - cost`` with the window's start; the fixed window's
``get`` drops an expired counter first), so an entry left past its expiry never admits or
refuses anything. :class:`AsyncMemoryStorage` and :class:`SyncMemoryStorage` are ``limits``'
own storages, counting with ``limits``' own code, whose sweep runs at most once per
:data:`SWEEP_INTERVAL` seconds, inline (one pass, no thread, no task), skipping a key whose
lock is held. Memory is bounded as before: an entry outlives its expiry by at most
:data:`SWEEP_INTERVAL` seconds.

They override ``limits``' private ``__schedule_expiry`` hook (name-mangled
``_MemoryStorage__schedule_expiry``); :func:`sweep_hook_present` says whether the installed
``limits`` still has it (tested), else :func:`async_memory` / :func:`sync_memory` build
``limits``' storages unchanged.
"""

from __future__ import annotations

import asyncio
import bisect
import threading
import time
from collections.abc import Callable
from typing import Any

import limits.aio.storage
import limits.storage

__all__ = ["SWEEP_INTERVAL", "AsyncMemoryStorage", "SyncMemoryStorage", "async_memory",
           "sweep_hook_present", "sync_memory"]

#: seconds between two expiry sweeps of a memory storage (limits' own: 0.01)
SWEEP_INTERVAL = 1.0
#: the private method of limits' memory storages that each count calls to expire entries
HOOK = "_MemoryStorage__schedule_expiry"


def sweep_hook_present() -> bool:
    """Whether both of ``limits``' memory storages still call the hook this module
    overrides (``limits`` 5.x does)."""
    return all(callable(getattr(cls, HOOK, None)) for cls in (
        limits.aio.storage.MemoryStorage, limits.storage.MemoryStorage))


def _nothing() -> None:
    return None


def _sweep(storage: Any, take: Callable[[str], Callable[[], None] | None]) -> int:
    """Drop ``storage``'s expired moving-window entries and fixed-window counters, as
    ``limits``' own sweep does. ``take(key)`` guards each key: None skips it (being
    counted), else it returns the function that ends the guard (a lock's ``release``).
    Returns the number of keys left with entries or a counter."""
    now = time.time()
    events: dict[str, list[Any]] = storage.events
    expirations: dict[str, float] = storage.expirations
    locks: dict[str, Any] = storage.locks
    for key in list(events):
        release = take(key)
        if release is None:
            continue
        try:
            entries = events.get(key)
            if entries is None:
                continue
            # entries are newest first: those from ``keep`` on have expired
            keep = bisect.bisect_left(entries, -now, key=lambda entry: -entry.expiry)
            if keep:
                del entries[keep:]
            else:
                del events[key]
                locks.pop(key, None)
        finally:
            release()
    for key, expiry in list(expirations.items()):
        if expiry > now:
            continue
        release = take(key)
        if release is None:
            continue
        try:
            if expirations.get(key, now) <= now:
                storage.storage.pop(key, None)
                expirations.pop(key, None)
                locks.pop(key, None)
        finally:
            release()
    return len(events) + len(expirations)


class _OneLock(dict[str, asyncio.Lock]):
    """``limits.aio``'s per-key locks (``MemoryStorage.locks``, a ``defaultdict``) as one
    lock for every key, so that a key costs no ``asyncio.Lock`` (about 150 bytes with its
    entry, kept as long as the key). The same exclusion: ``limits.aio``'s memory storage
    holds a key's lock only around code with no ``await`` in it (``incr``, ``decr``,
    ``acquire_entry``; its sweep is replaced here), so on one event loop no other count can
    run while it is held, and an uncontended ``asyncio.Lock`` never waits nor binds a loop.
    Empty as a dict: nothing per key is stored."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = asyncio.Lock()

    def __getitem__(self, key: str) -> asyncio.Lock:
        return self.lock

    def get(self, key: str, default: Any = None) -> asyncio.Lock:
        return self.lock


class AsyncMemoryStorage(limits.aio.storage.MemoryStorage):
    """``limits.aio``'s ``async+memory://`` storage, swept at most once per
    :data:`SWEEP_INTERVAL` seconds, inline on the event loop, with one lock for all keys
    (:class:`_OneLock`; see the module)."""

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False,
                 **options: str) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.locks = _OneLock()  # type: ignore[assignment]
        self.next_sweep = time.monotonic() + SWEEP_INTERVAL

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.locks = _OneLock()  # type: ignore[assignment]

    async def _MemoryStorage__schedule_expiry(self) -> None:  # limits' hook
        now = time.monotonic()
        if now < self.next_sweep:
            return
        self.next_sweep = now + SWEEP_INTERVAL
        locks = self.locks

        def take(key: str) -> Callable[[], None] | None:
            lock = locks.get(key)
            return None if lock is not None and lock.locked() else _nothing

        # no await from here to the end: no count on this loop runs meanwhile
        _sweep(self, take)


class SyncMemoryStorage(limits.storage.MemoryStorage):
    """``limits``' sync ``memory://`` storage, swept at most once per
    :data:`SWEEP_INTERVAL` seconds by the counting thread that finds it due (the others
    go on counting), each key under its own lock as ``limits`` does (see the module)."""

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False,
                 **options: str) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.timer.cancel()  # limits' first sweep, 10 ms from now: ours replaces it
        self.next_sweep = time.monotonic() + SWEEP_INTERVAL
        self.sweeping = threading.Lock()

    def _MemoryStorage__schedule_expiry(self) -> None:  # limits' hook
        now = time.monotonic()
        if now < self.next_sweep or not self.sweeping.acquire(blocking=False):
            return
        try:
            self.next_sweep = now + SWEEP_INTERVAL
            _sweep(self, self._take)
        finally:
            self.sweeping.release()

    def _take(self, key: str) -> Callable[[], None] | None:
        """``key``'s lock, held while the key is swept; None when another thread holds it
        (the key is left for the next sweep)."""
        lock = self.locks[key]  # limits' defaultdict: a key without one gets one
        if not lock.acquire(blocking=False):
            return None
        return lock.release


def async_memory(uri: str, *, wrap_exceptions: bool = True) -> limits.aio.storage.Storage:
    """An ``async+memory://`` storage: :class:`AsyncMemoryStorage`, or ``limits``' own when
    the hook is gone."""
    if sweep_hook_present():
        return AsyncMemoryStorage(uri, wrap_exceptions=wrap_exceptions)
    return limits.aio.storage.MemoryStorage(uri, wrap_exceptions=wrap_exceptions)


def sync_memory(uri: str, *, wrap_exceptions: bool = True) -> limits.storage.Storage:
    """A ``memory://`` storage: :class:`SyncMemoryStorage`, or ``limits``' own when the
    hook is gone."""
    if sweep_hook_present():
        return SyncMemoryStorage(uri, wrap_exceptions=wrap_exceptions)
    return limits.storage.MemoryStorage(uri, wrap_exceptions=wrap_exceptions)
