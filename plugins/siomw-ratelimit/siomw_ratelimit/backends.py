"""The storage calls of the limiter, per server kind: ``limits.aio`` on an ``AsyncServer``,
``limits``' sync API on a sync ``socketio.Server``, behind one awaitable surface.

:class:`~siomw_ratelimit.storage.GuardedLimiter` (the storage-failure policy, the exact
acquire, the retry waits) is written once against :class:`Backend`; only the calls differ:

- :class:`AsyncBackend`: a ``limits.aio`` strategy on an ``async+...`` storage; each
  remote call is bounded by ``asyncio.timeout(storage_timeout)``; its clients belong to the
  event loop that first used them and are rebuilt on a new one; per-key locks are
  ``asyncio.Lock``.
- :class:`BlockingBackend`: a ``limits.strategies`` strategy on a sync storage, behind
  ``async def`` methods that call it directly, so that under
  :func:`siomw_core.drive.drive` (the request's own thread, no event loop) every await
  completes at once. A thread blocked in a socket call cannot be cancelled, so the
  ``storage_timeout`` of a Redis or Valkey storage (every ``redis*://`` / ``valkey*://``
  form) becomes redis-py's ``socket_timeout`` and ``socket_connect_timeout``, without
  redis-py's retries (a call that takes longer raises ``TimeoutError``, a storage failure
  like any other, so a call waits at most about that long); other storages keep their
  client's own timeouts. Per-key locks are ``threading.Lock`` (a
  greenlet's lock under gevent's monkey-patching).

Both count in memory (the configured ``memory://`` storage, and the fallback) on ``limits``'
memory storages whose expiry sweep runs once a second (:mod:`~siomw_ratelimit.memory`).
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import limits.aio.storage
import limits.aio.strategies
import limits.storage
import limits.strategies
from limits import RateLimitItem
from limits.errors import ConfigurationError
from limits.storage import storage_from_string
from limits.util import WindowStats

from siomw_core import ConfigError

from .memory import async_memory, sync_memory
from .options import async_storage_uri, sync_storage_uri
from .pools import Unbuilt, close_clients

__all__ = ["AsyncBackend", "Backend", "BlockingBackend", "Counter", "KeyLock", "make_backend"]

T = TypeVar("T")

#: the in-process fallback's storage URIs
ASYNC_MEMORY = "async+memory://"
SYNC_MEMORY = "memory://"


class Counter(Protocol):
    """A ``limits`` strategy as the limiter awaits it: ``limits.aio``'s own, or a sync one
    behind :class:`Blocking`'s async methods."""

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> Awaitable[bool]:
        """Spend ``cost``; False when it does not fit."""
        ...

    def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> Awaitable[bool]:
        """Whether ``cost`` would fit now (nothing spent)."""
        ...

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> Awaitable[WindowStats]:
        """The window's reset time (epoch seconds) and what remains."""
        ...


class KeyLock(Protocol):
    """A lock awaited by the per-key locks (:class:`~siomw_ratelimit.locks.KeyLocks`)."""

    async def acquire(self) -> None:
        """Take the lock (waits for the holder)."""

    def release(self) -> None:
        """Give it back."""


class Blocking:
    """A sync ``limits.strategies`` strategy behind async methods that call it directly:
    awaited under :func:`siomw_core.drive.drive`, they complete at once (in the request's
    thread, blocking it for the storage's round trip)."""

    __slots__ = ("strategy",)

    def __init__(self, strategy: limits.strategies.RateLimiter) -> None:
        self.strategy = strategy

    async def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        """``strategy.hit``."""
        return self.strategy.hit(item, *identifiers, cost=cost)

    async def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        """``strategy.test``."""
        return self.strategy.test(item, *identifiers, cost=cost)

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        """``strategy.get_window_stats``."""
        return self.strategy.get_window_stats(item, *identifiers)


class _ThreadLock:
    """A ``threading.Lock`` with an awaitable ``acquire`` that blocks the calling thread
    (under gevent's monkey-patching, the calling greenlet)."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()

    async def acquire(self) -> None:
        self._lock.acquire()

    def release(self) -> None:
        self._lock.release()


class _AsyncLock:
    """An ``asyncio.Lock`` whose ``acquire`` returns None (the :class:`KeyLock` shape)."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        await self._lock.acquire()

    def release(self) -> None:
        self._lock.release()


def _no_retry(client: str) -> Any:
    """A ``Retry`` of redis-py (or valkey-py) that does not retry (None when the client
    library is missing: ``storage_from_string`` then says so)."""
    try:
        retry = importlib.import_module(f"{client}.retry")
        backoff = importlib.import_module(f"{client}.backoff")
    except ImportError:
        return None
    return retry.Retry(backoff.NoBackoff(), 0)


def _config_errors(label: str, strategy: str, build: Callable[[], T]) -> T:
    """``build()``, its ``limits`` errors as one-line ConfigErrors naming ``label``."""
    try:
        return build()
    except NotImplementedError:
        raise ConfigError(
            f"strategy: expected a strategy the storage {label!r} supports "
            f"(memcached has no moving window); found {strategy!r}"
        ) from None
    except ConfigurationError as exc:
        what = ("a storage URI limits can parse" if "parse" in str(exc).lower()
                else "a storage whose client library is installed")
        raise ConfigError(f"storage: expected {what} ({exc}); found {label!r}") from None


class Backend:
    """The storage calls of one limiter (base class; see :func:`make_backend`).

    Attributes:
        blocking: True for :class:`BlockingBackend` (sync servers).
        remote: the storage is not the in-process memory storage.
        timeout: seconds a remote call may take (None: memory, never waits).
        limiter: the strategy on the configured storage.
        fallback: the same strategy on an in-process memory storage (fail open).
        whole_seconds: the storage keeps the fixed window's reset in whole seconds (Redis,
            Valkey: a key's ``TTL``).
    """

    blocking = False
    limiter: Counter
    fallback: Counter
    whole_seconds: bool

    def __init__(self, uri: str, strategy: str, *, timeout: float, label: str) -> None:
        self.uri = uri
        self.strategy = strategy
        self.label = label
        self.remote = urlsplit(uri).scheme.removeprefix("async+") != "memory"
        self.timeout: float | None = timeout if self.remote else None
        self.build()  # here rather than on first use, so that a bad storage fails startup

    #: the in-process storage of the fallback
    memory_uri = SYNC_MEMORY
    #: the Redis storage class of this kind (fixed windows kept in whole seconds)
    redis_storage: type = limits.storage.RedisStorage

    def build(self) -> None:
        """(Re)create the storage clients and the strategies.

        Raises:
            ConfigError: the storage's client library is missing, or the storage cannot run
                the strategy.
        """
        self.closed = False
        self.fallback_storage = self._storage(self.memory_uri)
        self.fallback = self._limiter(self.fallback_storage)
        try:
            storage = _config_errors(self.label, self.strategy,
                                     lambda: self._storage(self.uri))
        except ConfigError:
            raise
        except Exception as exc:  # a client that connects when created, to a storage down
            if not self.remote:
                raise
            self.storage, self.limiter, self.whole_seconds = None, Unbuilt(exc), False
            return
        self.limiter = _config_errors(self.label, self.strategy,
                                      lambda: self._limiter(storage))
        self.whole_seconds = isinstance(storage, self.redis_storage)
        self.storage = storage

    async def open(self) -> bool:
        """Open the configured storage's pool (its health check, ``storage.check()``,
        makes the first connection), within :attr:`timeout`: True when it answered (the
        memory storage always does)."""
        return await self.check() if self.remote else True

    async def close(self) -> None:
        """Close the storages' clients and pools (:func:`~siomw_ratelimit.pools.close_clients`)
        and stop the ``limits.aio`` memory storages' expiry tasks; the backend is then
        :meth:`stale`: its next use builds fresh clients (a restarted stack)."""
        if self.remote and self.storage is not None:
            await close_clients(self.storage, self.label)
        for storage in (self.storage, self.fallback_storage):
            timer = getattr(storage, "timer", None)  # limits.aio MemoryStorage's task
            if isinstance(timer, asyncio.Task) and not timer.done():
                timer.cancel()
        self.closed = True

    async def rebuilt(self) -> bool:
        """For the recovery probe: build the clients again when they could not be created
        (:class:`~siomw_ratelimit.pools.Unbuilt`). True when the limiter is usable."""
        if self.storage is not None:
            return True
        try:
            self.build()
        except Exception:  # still down: "not yet"
            return False
        return self.storage is not None

    def _storage(self, uri: str) -> Any:
        """The ``limits`` storage of ``uri`` for this kind."""
        raise NotImplementedError

    def _limiter(self, storage: Any) -> Counter:
        """The configured strategy on ``storage``, as an awaitable :class:`Counter`."""
        raise NotImplementedError

    def stale(self) -> bool:
        """Whether the clients must be rebuilt (:meth:`build`) before this call: after
        :meth:`close`, and for an async backend first used on another event loop."""
        return self.closed

    async def timed(self, call: Awaitable[T]) -> T:
        """Await ``call``, a call to the configured storage, within :attr:`timeout`."""
        return await call

    async def check(self) -> bool:
        """The storage's own health check (``storage.check()``: a Redis ``PING``), within
        :attr:`timeout`; False when it fails."""
        raise NotImplementedError

    def lock(self) -> KeyLock:
        """A new per-key lock of this kind."""
        raise NotImplementedError


ASYNC_STRATEGIES: dict[str, type[limits.aio.strategies.RateLimiter]] = {
    "fixed-window": limits.aio.strategies.FixedWindowRateLimiter,
    "moving-window": limits.aio.strategies.MovingWindowRateLimiter,
    "sliding-window-counter": limits.aio.strategies.SlidingWindowCounterRateLimiter,
}
SYNC_STRATEGIES: dict[str, type[limits.strategies.RateLimiter]] = {
    "fixed-window": limits.strategies.FixedWindowRateLimiter,
    "moving-window": limits.strategies.MovingWindowRateLimiter,
    "sliding-window-counter": limits.strategies.SlidingWindowCounterRateLimiter,
}


class AsyncBackend(Backend):
    """``limits.aio`` on an ``AsyncServer``'s event loop (see the module).

    Args:
        uri: a storage URI (made ``async+...``).
        strategy: ``"fixed-window"``, ``"moving-window"`` or ``"sliding-window-counter"``.
        timeout: seconds per remote call (``asyncio.timeout``).
        label: the storage as errors and log lines show it.
        redis_client: limits' ``implementation`` for ``async+redis*`` URIs.
    """

    memory_uri = ASYNC_MEMORY
    redis_storage = limits.aio.storage.RedisStorage

    def __init__(self, uri: str, strategy: str, *, timeout: float, label: str,
                 redis_client: str = "coredis") -> None:
        self.redis_client = redis_client
        self.loop: asyncio.AbstractEventLoop | None = None
        super().__init__(async_storage_uri(uri), strategy, timeout=timeout, label=label)

    def _storage(self, uri: str) -> limits.aio.storage.Storage:
        if urlsplit(uri).scheme == "async+memory":  # limits' own, swept periodically
            return async_memory(uri)
        options: dict[str, str] = {}
        if uri.startswith("async+redis"):
            options["implementation"] = self.redis_client
        storage = storage_from_string(uri, wrap_exceptions=True, **options)
        if not isinstance(storage, limits.aio.storage.Storage):  # an async+ URI gives one
            raise ConfigError(f"storage: expected an async storage URI; found {uri!r}")
        return storage

    def _limiter(self, storage: Any) -> Counter:
        """A ``limits.aio`` strategy (awaitable as it is)."""
        strategy: Counter = ASYNC_STRATEGIES[self.strategy](storage)
        return strategy

    def stale(self) -> bool:
        """True once per new running loop after the first (coredis' pool hangs when reused
        from another loop); the caller rebuilds."""
        loop = asyncio.get_running_loop()
        if self.closed:
            self.loop = loop
            return True
        if loop is self.loop:
            return False
        first = self.loop is None
        self.loop = loop
        return not first

    async def timed(self, call: Awaitable[T]) -> T:
        """``call`` within ``asyncio.timeout(timeout)`` (TimeoutError past it)."""
        if self.timeout is None:
            return await call
        async with asyncio.timeout(self.timeout):
            return await call

    async def check(self) -> bool:
        """``await storage.check()`` within the timeout."""
        if not await self.rebuilt() or self.storage is None:
            return False
        try:
            return await self.timed(self.storage.check())
        except Exception:  # a failed probe is just "not yet"
            return False

    def lock(self) -> KeyLock:
        """An ``asyncio.Lock``."""
        return _AsyncLock()


class BlockingBackend(Backend):
    """``limits``' sync API on a sync ``socketio.Server`` (see the module).

    Args:
        uri: a storage URI (an ``async+`` prefix is dropped).
        strategy: as :class:`AsyncBackend`.
        timeout: seconds per remote call: redis-py's socket timeouts on a Redis or Valkey
            storage (other storages: their client's own).
        label: the storage as errors and log lines show it.
    """

    blocking = True

    def __init__(self, uri: str, strategy: str, *, timeout: float, label: str) -> None:
        super().__init__(sync_storage_uri(uri), strategy, timeout=timeout, label=label)

    def _storage(self, uri: str) -> limits.storage.Storage:
        options: dict[str, Any] = {}
        scheme = urlsplit(uri).scheme
        if scheme == "memory":  # limits' own, swept periodically
            return sync_memory(uri)
        if self.timeout is not None and scheme.startswith(("redis", "valkey")):
            # a blocked thread cannot be cancelled: the socket gives up instead, once (the
            # client's default retries, with back-off, would take several timeouts)
            options.update(socket_timeout=self.timeout, socket_connect_timeout=self.timeout,
                           retry=_no_retry("valkey" if scheme.startswith("valkey") else "redis"))
        storage = storage_from_string(uri, wrap_exceptions=True, **options)
        if not isinstance(storage, limits.storage.Storage):  # a plain URI always gives one
            raise ConfigError(f"storage: expected a sync storage URI; found {uri!r}")
        return storage

    def _limiter(self, storage: Any) -> Counter:
        """A ``limits.strategies`` strategy behind :class:`Blocking`."""
        return Blocking(SYNC_STRATEGIES[self.strategy](storage))

    async def check(self) -> bool:
        """``storage.check()`` (bounded by the socket timeouts)."""
        if not await self.rebuilt() or self.storage is None:
            return False
        try:
            return bool(self.storage.check())
        except Exception:  # a failed probe is just "not yet"
            return False

    def lock(self) -> KeyLock:
        """A ``threading.Lock``."""
        return _ThreadLock()


def make_backend(uri: str, strategy: str, *, timeout: float, label: str, blocking: bool,
                 redis_client: str = "coredis") -> Backend:
    """The backend of a server kind: :class:`BlockingBackend` when ``blocking`` (a sync
    server, ``runtime.blocking``), else :class:`AsyncBackend`.

    Raises:
        ConfigError: as :meth:`Backend.build`.
    """
    if blocking:
        return BlockingBackend(uri, strategy, timeout=timeout, label=label)
    return AsyncBackend(uri, strategy, timeout=timeout, label=label, redis_client=redis_client)
