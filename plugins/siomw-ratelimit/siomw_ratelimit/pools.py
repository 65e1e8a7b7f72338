"""Closing the connections of a ``limits`` storage, whatever its client library.

``limits`` (5.x) opens its clients' connections on first use and has no ``close()``: the
clients are its storages' attributes (``storage.storage``, and ``storage.bridge.storage`` for
``limits.aio``'s Redis storages, with a replica client and Sentinel's own clients). Each is
closed by its library's public API: ``aclose()`` (``redis.asyncio``, ``valkey.asyncio``),
``close()`` (redis-py, valkey-py, pymemcache, pymongo), then its connection pool's
``disconnect()`` (coredis, which has no ``close``; a redis-py pool the client does not own).
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, NoReturn

__all__ = ["Unbuilt", "close_clients", "storage_clients"]

log = logging.getLogger("siomw.ratelimit")

#: attributes of a limits storage (or of its Redis bridge) that hold a client
CLIENT_ATTRIBUTES = ("storage", "storage_replica", "storage_slave")


def storage_clients(storage: Any) -> list[Any]:
    """The client objects ``storage`` (a ``limits`` storage, sync or async) holds: those
    with a ``close``, ``aclose`` or ``connection_pool`` (the memory storage's dicts have
    none), Sentinel's clients included."""
    found: list[Any] = []
    owners = [storage, getattr(storage, "bridge", None)]
    for owner in owners:
        if owner is None:
            continue
        candidates = [getattr(owner, name, None) for name in CLIENT_ATTRIBUTES]
        sentinel = getattr(owner, "sentinel", None)
        candidates.extend(getattr(sentinel, "sentinels", None) or ())
        for client in candidates:
            if client is None or client is storage or any(client is c for c in found):
                continue
            if any(hasattr(client, name) for name in ("aclose", "close", "connection_pool")):
                found.append(client)
    return found


async def _call(method: Any) -> None:
    result = method()
    if inspect.isawaitable(result):
        await result


async def close_clients(storage: Any, label: str) -> int:
    """Close every client of ``storage`` (:func:`storage_clients`) and its pool; a client
    that fails to close is logged (``label``: the storage, password redacted) and the
    others are still closed. Returns how many clients were closed.

    Awaited on an ``AsyncServer``'s loop, or driven in the calling thread on a sync server
    (the sync clients' methods return plain values).
    """
    closed = 0
    for client in storage_clients(storage):
        try:
            aclose = getattr(client, "aclose", None)
            close = getattr(client, "close", None)
            if callable(aclose):
                await _call(aclose)
            elif callable(close):
                await _call(close)
            pool = getattr(client, "connection_pool", None)
            disconnect = getattr(pool, "disconnect", None)
            if callable(disconnect):
                await _call(disconnect)
            closed += 1
        except Exception as exc:
            log.warning("siomw: [ratelimit] closing a client of storage %s failed (%s: %s)",
                        label, type(exc).__name__, exc)
    return closed


class Unbuilt:
    """The limiter of a storage whose client could not be created: redis-py's
    ``RedisCluster`` connects in its constructor, so a cluster down when a sync server's
    plugin is built has no client yet. Every call raises that error, a storage failure
    like any other (one warning, the ``on_storage_error`` policy); the recovery probe builds
    the client again (``Backend.rebuilt``)."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error

    def _raise(self) -> NoReturn:
        raise ConnectionError(f"the storage's client could not be created: "
                              f"{type(self.error).__name__}: {self.error}")

    async def hit(self, item: Any, *identifiers: str, cost: int = 1) -> bool:
        """Raises ``ConnectionError``."""
        self._raise()

    async def test(self, item: Any, *identifiers: str, cost: int = 1) -> bool:
        """Raises ``ConnectionError``."""
        self._raise()

    async def get_window_stats(self, item: Any, *identifiers: str) -> Any:
        """Raises ``ConnectionError``."""
        self._raise()
