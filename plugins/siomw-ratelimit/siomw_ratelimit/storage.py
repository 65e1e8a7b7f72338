"""The limiter behind the middleware: one ``limits`` strategy on the configured storage,
with the storage-failure policy (fail open onto an in-memory fallback, or fail closed) and
the recovery probe, written once for every server kind: the storage calls go through a
:class:`~siomw_ratelimit.backends.Backend` (``limits.aio`` on an ``AsyncServer``,
``limits``' sync API on a sync ``socketio.Server``), background work through the stack's
:class:`~siomw_core.runtime.Runtime`.

On an ``AsyncServer``, storage clients are bound to the event loop that first uses them
(coredis' connection pool hangs when reused from another loop), so the storage is rebuilt
when the running loop changes: once per served application in practice.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from typing import NamedTuple

from limits import RateLimitItem
from limits.util import WindowStats

from siomw_core import AsyncRuntime, Runtime

from .backends import Backend, Counter, make_backend
from .locks import KeyLocks
from .options import RateLimitOptions, redacted_uri

__all__ = [
    "MAX_BACKOFF",
    "WHOLE_SECOND_SLACK",
    "Check",
    "GuardedLimiter",
    "StorageUnavailable",
    "Window",
    "guarded_limiter",
    "seconds_until",
]

log = logging.getLogger("siomw.ratelimit")

#: longest wait between two recovery probes of a failed storage, in seconds
#: (Flask-Limiter's in_memory_fallback backs off 2**n s, n <= 5, the same bound)
MAX_BACKOFF = 32.0
#: seconds added to a reset time read from a storage that keeps it in whole seconds: the
#: fixed window on Redis (and Valkey) is a key whose ``TTL`` the server rounds to the
#: nearest second (Redis ``expire.c``, ``ttlGenericCommand``), so the real wait may be up
#: to half a second longer than ``get_window_stats`` says
WHOLE_SECOND_SLACK = 1.0


class Window(NamedTuple):
    """A limit's window for one identifier, as :meth:`GuardedLimiter.window` reads it."""

    #: hits left in the budget (>= 0)
    remaining: int
    #: whole seconds (>= 1) until the window frees a hit; when ``remaining`` is 0, the
    #: wait after which a hit succeeds
    reset_after: int


class Check(NamedTuple):
    """One budget an event spends: ``cost`` units of ``item`` for ``identifier``."""

    item: RateLimitItem
    identifier: str
    cost: int = 1


def seconds_until(epoch: float, now: float | None = None) -> int:
    """Whole seconds from ``now`` (default: ``time.time()``) until ``epoch``, rounded up,
    at least 1: never shorter than the real wait (RFC 9110 §10.2.3 ``Retry-After`` is
    delta-seconds; 0 would invite an immediate retry that fails). A wait of exactly n
    seconds gives n: the retry comes later than ``now`` by at least the way to the client
    and back."""
    if now is None:
        now = time.time()
    return max(1, math.ceil(epoch - now))


class StorageUnavailable(Exception):  # a state, as the refusal code says
    """The storage failed (or is still marked failed) and the policy is ``"closed"``."""


class GuardedLimiter:
    """One ``limits`` strategy on one storage, guarded by the storage-failure policy.

    Args:
        uri: a ``limits`` storage URI (``redis://...``, ``memory://``; the ``async+`` form
            too): the backend maps it to its kind's.
        strategy: ``"fixed-window"``, ``"moving-window"`` or ``"sliding-window-counter"``.
        fail_open: on a storage failure, count with an in-process memory limiter (True) or
            raise :class:`StorageUnavailable` (False).
        timeout: seconds a storage call may take before it counts as failed (not applied to
            the memory storage): ``asyncio.timeout`` on an ``AsyncServer``; on a sync
            server, where a thread blocked in a call cannot be cancelled, the Redis
            client's socket timeouts (:mod:`~siomw_ratelimit.backends`).
        label: the storage as log lines show it (password redacted).
        redis_client: ``"coredis"`` or ``"redispy"`` for Redis on an ``AsyncServer``.
        runtime: the stack's runtime (``runtime.blocking``: ``limits``' sync API; the
            probe runs with ``runtime.spawn``); default an :class:`AsyncRuntime`.

    A failure marks the storage down: no further calls go to it until a recovery probe
    (``storage.check()``, at most ``timeout`` seconds, run in the background by the first
    connection after the back-off) succeeds; the back-off doubles from 1 s up to
    :data:`MAX_BACKOFF`. One warning is logged when the storage goes down (however many
    calls fail at once), one info line when it recovers.

    Raises:
        ConfigError: the storage's client library is missing, or the storage cannot run the
            strategy (memcached has no moving window).
    """

    def __init__(
        self, uri: str, strategy: str, *, fail_open: bool, timeout: float, label: str,
        redis_client: str = "coredis", runtime: Runtime | None = None,
    ) -> None:
        self.runtime = runtime if runtime is not None else AsyncRuntime()
        self.strategy = strategy
        self.fail_open = fail_open
        self.label = label
        self.down = False
        self.failures = 0
        self.retry_at = 0.0
        self.probing = False
        self._state = threading.Lock()  # down/probing transitions (request threads)
        self.backend: Backend = make_backend(
            uri, strategy, timeout=timeout, label=label, blocking=self.runtime.blocking,
            redis_client=redis_client)
        self._reset()

    @property
    def timeout(self) -> float | None:
        """Seconds a call to the configured storage may take (None: memory)."""
        return self.backend.timeout

    def _reset(self) -> None:
        backend = self.backend
        self._storage_limiter()
        self.fallback: Counter = backend.fallback
        self.locks = KeyLocks(backend.lock)  # asyncio locks belong to a loop too
        self.down = False
        self.failures = 0
        self.probing = False

    def _storage_limiter(self) -> None:
        """Take the backend's limiter on the configured storage (again, after a probe that
        had to create its client)."""
        backend = self.backend
        self.limiter: Counter = backend.limiter
        # the fixed window's reset time is the key's TTL: whole seconds on Redis/Valkey
        whole_seconds = self.strategy == "fixed-window" and backend.whole_seconds
        self.slack = WHOLE_SECOND_SLACK if whole_seconds else 0.0

    def _bind(self) -> None:
        """A new event loop: the old clients belong to the old one."""
        self.backend.build()
        self._reset()

    async def hit(self, item: RateLimitItem, identifier: str) -> bool:
        """Spend one of ``item``'s budget for ``identifier``; False when it is exhausted.

        Raises:
            StorageUnavailable: the storage failed and the policy is ``"closed"``.
        """
        backend = self.backend
        if backend.stale():
            self._bind()
        if not self.down:
            try:
                return await backend.timed(self.limiter.hit(item, identifier))
            except Exception as exc:  # StorageError (wrapped), TimeoutError
                self._trip(exc)
        return await self._degraded(item, identifier)

    async def exhausted(self, items: Sequence[RateLimitItem], identifier: str
                        ) -> RateLimitItem | None:
        """Spend one unit of each of ``items`` for ``identifier``, in order: the first
        whose budget is spent (the later ones are not hit), or None when all had one.

        Raises:
            StorageUnavailable: the storage failed and the policy is ``"closed"``.
        """
        for item in items:
            if not await self.hit(item, identifier):
                return item
        return None

    async def acquire(self, checks: Sequence[Check]) -> Check | None:
        """Spend every check's ``cost``, or none of them: the check that does not fit, or
        None when all were spent.

        Exactness (one process): the identifiers' locks are held while every budget is
        tested and then spent, so concurrent events of one key are admitted exactly up to
        the limit and a refused event spends nothing, whatever the strategy. A cost above
        the limit's amount never fits (no storage call). Across processes sharing a
        storage, each spend is still one atomic storage call (moving window: limits'
        ``acquire_entry``; sliding window counter: its acquire script; fixed window:
        ``INCRBY``), so no process admits past the limit; but another process can spend
        between the test and the spend, and then the event is refused after the budgets
        before the refused one were spent (and, on the fixed window, after its own cost
        was counted: limits' ``incr`` has no conditional form).

        The common event, one check that one atomic storage call serves (:meth:`_atomic`),
        takes no lock when no other acquire holds or awaits its identifier's: that call
        is exact on its own. (On a remote storage, or from another request thread of a
        sync server, an acquire of several budgets that starts while such a call is in
        flight meets it as it would another process's.)

        Raises:
            StorageUnavailable: the storage failed and the policy is ``"closed"``.
        """
        for check in checks:
            if check.cost > check.item.amount:
                return check
        if self.backend.stale():
            self._bind()
        if len(checks) == 1 and not self.down:
            check = checks[0]
            if check.identifier not in self.locks and self._atomic(check):
                try:
                    return await self._spend_storage(checks)
                except Exception as exc:  # StorageError (wrapped), TimeoutError
                    self._trip(exc)  # then the locked path below: the fallback
        keys = sorted({check.identifier for check in checks})
        await self.locks.acquire(keys)
        try:
            if not self.down:
                try:
                    return await self._spend_storage(checks)
                except Exception as exc:  # StorageError (wrapped), TimeoutError
                    self._trip(exc)
            self._start_probe()
            if not self.fail_open:
                raise StorageUnavailable(self.label)
            return await self._spend(self.fallback, checks)
        finally:
            self.locks.release(keys)

    async def _spend_storage(self, checks: Sequence[Check]) -> Check | None:
        return await self.backend.timed(self._spend(self.limiter, checks))

    def _atomic(self, check: Check) -> bool:
        """Whether one ``hit`` spends ``check`` exactly, or refuses it spending nothing:
        every strategy's, except the fixed window's with a cost above 1 (its ``incr``
        counts a refused cost too; a cost of 1 is refused only when the window is full)."""
        return check.cost == 1 or self.strategy != "fixed-window"

    async def _spend(self, limiter: Counter, checks: Sequence[Check]) -> Check | None:
        if len(checks) == 1:
            check = checks[0]
            if self._atomic(check):  # one atomic call
                fits = await limiter.hit(check.item, check.identifier, cost=check.cost)
                return None if fits else check
        for check in checks:
            if not await limiter.test(check.item, check.identifier, cost=check.cost):
                return check
        for check in checks:
            if not await limiter.hit(check.item, check.identifier, cost=check.cost):
                return check  # another process spent it between the test and now
        return None

    async def window(self, item: RateLimitItem, identifier: str) -> Window | None:
        """``item``'s window for ``identifier`` now: what remains of the budget, and the
        whole seconds (>= 1) until the window frees a hit (:func:`seconds_until` of the
        storage's reset time, plus :data:`WHOLE_SECOND_SLACK` where the storage keeps it in
        whole seconds). Read from the limiter that counts now (the fallback while the
        storage is down); None when the storage fails to answer (a read does not mark it
        down: the next hit decides)."""
        limiter = self.fallback if self.down else self.limiter
        stats = await self._window_stats(limiter, item, identifier)
        if stats is None:
            return None
        slack = self.slack if limiter is self.limiter else 0.0
        return Window(max(0, stats.remaining), seconds_until(stats.reset_time + slack))

    async def retry_after(
        self, items: Sequence[RateLimitItem], refused: RateLimitItem, identifier: str
    ) -> int:
        """Whole seconds (>= 1) after which a retry passes every limit of ``items`` for
        ``identifier`` (each spending 1): :meth:`retry_after_checks`."""
        checks = [Check(item, identifier) for item in items]
        return await self.retry_after_checks(checks, checks[items.index(refused)])

    async def retry_after_checks(self, checks: Sequence[Check], refused: Check) -> int:
        """Whole seconds (>= 1) after which a retry passes every check of ``checks``: the
        longest wait of ``refused`` and of every other check whose budget holds less than
        its cost (a retry spends all of them). Never shorter than the real wait:

        - cost 1: the window's reset (:meth:`window`: when it frees a hit);
        - a larger cost on the fixed window: the same (the whole count resets at once);
          on the moving window, the limit's whole expiry (every entry in the window has
          left it by then); on the sliding window counter, twice the expiry (the current
          window ends within one expiry, and its count weighs nothing one expiry later).

        A storage that fails to answer counts the check's whole wait bound (as if full).
        """
        wait = 1
        for check in checks:
            window = await self.window(check.item, check.identifier)
            if window is None:
                if check is refused:
                    wait = max(wait, self._wait_bound(check))
            elif check is refused or window.remaining < check.cost:
                if check.cost == 1 or self.strategy == "fixed-window":
                    wait = max(wait, window.reset_after)
                else:
                    wait = max(wait, self._wait_bound(check))
        return wait

    def _wait_bound(self, check: Check) -> int:
        """Whole seconds within which ``check`` surely fits again (when it fits at all)."""
        expiry = check.item.get_expiry()
        if check.cost > 1 and self.strategy == "sliding-window-counter":
            expiry *= 2
        return math.ceil(expiry + self.slack)

    async def _window_stats(
        self, limiter: Counter, item: RateLimitItem, identifier: str
    ) -> WindowStats | None:
        try:
            if limiter is self.fallback:
                return await limiter.get_window_stats(item, identifier)
            return await self.backend.timed(limiter.get_window_stats(item, identifier))
        except Exception:
            return None

    # startup and shutdown (the plugin's siomw_startup / siomw_shutdown hooks) ----------
    async def open(self) -> bool:
        """Open the storage's pool on the loop (or in the thread) that serves: the clients
        are rebuilt first when they belong to another event loop, then the storage's
        health check makes the first connection, within ``storage_timeout``. A storage
        that does not answer is marked down as a failed call would be (one warning; the
        policy applies; the recovery probe brings it back). Returns True when it
        answered."""
        if self.backend.stale():
            self._bind()
        if await self.backend.open():
            return True
        if not self.down:
            self._trip(ConnectionError("no answer to the health check at startup"))
        return False

    async def close(self) -> None:
        """Close the storage's clients and pools (``backend.close()``); the limiter is
        usable again afterwards, with fresh clients that connect on first use."""
        await self.backend.close()
        self._reset()

    # failure policy --------------------------------------------------------------------
    def _start_probe(self) -> None:
        with self._state:
            if self.probing or time.monotonic() < self.retry_at:
                return
            self.probing = True
        self.runtime.spawn(self._recover)

    async def _degraded(self, item: RateLimitItem, identifier: str) -> bool:
        self._start_probe()
        if not self.fail_open:
            raise StorageUnavailable(self.label)
        return await self.fallback.hit(item, identifier)

    def _trip(self, exc: BaseException) -> None:
        with self._state:
            if self.down:  # another call in flight failed first: one warning
                return
            self.down = True
            self.failures = 0
            self.retry_at = time.monotonic() + 1.0
        log.warning(
            "siomw: [ratelimit] storage %s failed (%s: %s); %s until it recovers",
            self.label, type(exc).__name__, exc,
            "counting in memory (fail open)" if self.fail_open
            else "refusing with rate_limit_unavailable (fail closed)",
        )

    async def _recover(self) -> None:
        try:
            healthy = await self.backend.check()
            with self._state:
                if healthy:
                    self._storage_limiter()
                    self.down = False
                else:
                    self.failures += 1
                    backoff = min(2.0**self.failures, MAX_BACKOFF)
                    self.retry_at = time.monotonic() + backoff
            if healthy:
                log.info("siomw: [ratelimit] storage %s recovered", self.label)
        finally:
            self.probing = False


def guarded_limiter(options: RateLimitOptions, runtime: Runtime | None = None) -> GuardedLimiter:
    """The one :class:`GuardedLimiter` of a ``[ratelimit]`` table, shared by the connect,
    the event and the HTTP limits: one storage client, one failure state, one warning.

    Args:
        options: the validated table.
        runtime: the stack's runtime (the server kind); default an ``AsyncServer``'s.

    Raises:
        ConfigError: as :class:`GuardedLimiter`.
    """
    return GuardedLimiter(
        options.storage, options.strategy,
        fail_open=options.on_storage_error == "open", timeout=options.storage_timeout,
        label=redacted_uri(options.storage), redis_client=options.redis_client,
        runtime=runtime,
    )
