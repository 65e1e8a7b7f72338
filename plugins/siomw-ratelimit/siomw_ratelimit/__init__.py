"""siomw-ratelimit: limit Socket.IO connection attempts with ``limits`` (its async API).

The ``ratelimit`` connect middleware (priority 2000, every namespace) spends one unit of a
budget per namespace CONNECT, keyed by the client address or by the JWT subject, with the
fixed-window, moving-window or sliding-window-counter strategy, on memory or on a shared
storage (Redis, ...) for several server processes. It refuses with
``{"code": "rate_limited", "retry_after": seconds, "limit": "3 per 1 minute"}``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from siomw_core import CoreSettings, Middleware, hookimpl

from .connect import NAME, PRIORITY, build_connect
from .options import RateLimitOptions

__all__ = ["NAME", "PRIORITY", "RateLimitOptions", "siomw_config_schema", "siomw_middlewares"]


@hookimpl
def siomw_config_schema() -> type[BaseModel]:
    """The ``[ratelimit]`` table's schema: :class:`RateLimitOptions`."""
    return RateLimitOptions


@hookimpl
def siomw_middlewares(config: Any, settings: CoreSettings) -> list[Middleware]:
    """The ``ratelimit`` connect middleware, built once from the validated table.

    Raises:
        ConfigError: the storage cannot be used with the strategy (see
            :func:`~siomw_ratelimit.connect.build_connect`).
    """
    options = config if isinstance(config, RateLimitOptions) else RateLimitOptions()
    return [build_connect(options)]
