"""siomw-ratelimit: limit Socket.IO connection attempts, events and engine HTTP requests
with ``limits``: its async API on an ``AsyncServer``, its sync API and storages on a sync
``socketio.Server`` (one code base: :mod:`siomw_ratelimit.backends`).

The ``ratelimit`` connect middleware (priority 2000, every namespace) spends one unit of a
budget per namespace CONNECT, keyed by the client address or by the JWT subject, with the
fixed-window, moving-window or sliding-window-counter strategy, on memory or on a shared
storage (Redis, ...) for several server processes. It refuses with
``{"code": "rate_limited", "retry_after": seconds, "limit": "3 per 1 minute"}``.

The ``ratelimit-events`` event middleware (priority 2000, every namespace) enforces the
:func:`limit` decorators of event handlers and the ``event`` / ``events`` budgets of the
table, exactly under concurrency, refusing with the same data.

With ``http`` set, the ``ratelimit-http`` engine middleware (priority 2000) counts HTTP
requests of the engine per client address (handshakes only, or every request) on the same
storage, and refuses with HTTP 429, ``Retry-After`` and ``RateLimit-*`` headers.

The ``siomw_startup`` / ``siomw_shutdown`` hooks open the storage's connection pool where
the stack serves and close its clients when it stops (a storage down at startup is the
``on_storage_error`` policy, not a failed start).
"""

from __future__ import annotations

import weakref
from typing import Any

from pydantic import BaseModel

from siomw_core import CoreSettings, Middleware, Runtime, hookimpl

from .connect import NAME, PRIORITY, build_connect
from .engine import HTTP_NAME, HTTP_PRIORITY, build_http
from .events import EVENT_NAME, EVENT_PRIORITY, build_events, limit
from .options import RateLimitOptions
from .storage import GuardedLimiter, guarded_limiter

__all__ = [
    "EVENT_NAME",
    "EVENT_PRIORITY",
    "HTTP_NAME",
    "HTTP_PRIORITY",
    "NAME",
    "PRIORITY",
    "RateLimitOptions",
    "limit",
    "siomw_config_schema",
    "siomw_contract",
    "siomw_middlewares",
    "siomw_shutdown",
    "siomw_startup",
]

#: each stack's limiter, by the stack's runtime (one per server siomw is attached to)
_LIMITERS: weakref.WeakKeyDictionary[Runtime, GuardedLimiter] = weakref.WeakKeyDictionary()


@hookimpl
def siomw_config_schema() -> type[BaseModel]:
    """The ``[ratelimit]`` table's schema: :class:`RateLimitOptions`."""
    return RateLimitOptions


@hookimpl
def siomw_middlewares(config: Any, settings: CoreSettings, runtime: Runtime) -> list[Middleware]:
    """The ``ratelimit`` connect middleware, the ``ratelimit-events`` event middleware
    (always: any handler may carry a :func:`limit`; an event without one, with no
    ``event`` / ``events`` configured, costs one attribute read), and the
    ``ratelimit-http`` engine middleware when ``http`` is set, built once from the
    validated table on one shared limiter. ``runtime`` (the stack's) picks the backend:
    ``limits``' sync API when ``runtime.blocking`` (a sync server), ``limits.aio`` else.

    Raises:
        ConfigError: the storage cannot be used with the strategy (see
            :func:`~siomw_ratelimit.connect.build_connect`).
    """
    options = config if isinstance(config, RateLimitOptions) else RateLimitOptions()
    guard = guarded_limiter(options, runtime)
    _LIMITERS[runtime] = guard
    members = [build_connect(options, guard), build_events(options, guard)]
    if options.http is not None:
        members.append(build_http(options, guard))
    return members


@hookimpl
async def siomw_startup(runtime: Runtime) -> None:
    """Open the stack's storage pool on the loop (or in the thread) that serves
    (:meth:`~siomw_ratelimit.storage.GuardedLimiter.open`): a Redis that does not answer
    is one warning and the ``on_storage_error`` policy, not a failed start."""
    guard = _LIMITERS.get(runtime)
    if guard is not None:
        await guard.open()


@hookimpl
async def siomw_shutdown(runtime: Runtime) -> None:
    """Close the stack's storage clients and pools
    (:meth:`~siomw_ratelimit.storage.GuardedLimiter.close`)."""
    guard = _LIMITERS.get(runtime)
    if guard is not None:
        await guard.close()


@hookimpl
def siomw_contract() -> str:
    """The plugin contract versions this plugin supports: 1.2 (its engine members are done at
    a WebSocket's 101) and every later 1.x."""
    return ">=1.2,<2"
