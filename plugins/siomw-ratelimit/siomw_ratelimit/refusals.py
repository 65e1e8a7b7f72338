"""The ratelimit plugin's refusals, built in one place for its three levels (engine,
connect, event): the codes ``rate_limited`` and ``rate_limit_unavailable``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from limits import RateLimitItem

from siomw_core import Refusal

from .storage import GuardedLimiter, StorageUnavailable

__all__ = ["rate_limited", "spend_or_refuse", "unavailable"]


def rate_limited(message: str, retry_after: int, item: RateLimitItem, *,
                 status: int = 403,
                 headers: Mapping[str, str] | None = None) -> Refusal:
    """The refusal of a spent budget: ``message`` (the level's wording, e.g. ``"Rate limit
    exceeded"``) with ``{"code": "rate_limited", "retry_after": retry_after, "limit":
    "5 per 1 second"}``.

    Args:
        message: the refusal's message.
        retry_after: whole seconds (>= 1) until the limit admits again.
        item: the limit that ran out (``limits``' item, shown as its ``str``).
        status: the HTTP status (engine level: 429; Refusal's default 403 otherwise).
        headers: HTTP response headers (engine level: ``Retry-After``, ``RateLimit-*``).
    """
    return Refusal(message, {"code": "rate_limited", "retry_after": retry_after,
                             "limit": str(item)}, status=status, headers=headers)


def unavailable() -> Refusal:
    """The refusal of a fail-closed limiter whose storage failed:
    ``{"code": "rate_limit_unavailable"}`` (HTTP 503)."""
    return Refusal("Rate limiting is unavailable", {"code": "rate_limit_unavailable"},
                   status=503)


async def spend_or_refuse(
    guard: GuardedLimiter, items: Sequence[RateLimitItem], identifier: str,
    refuse: Callable[[RateLimitItem, str], Awaitable[Refusal]],
) -> None:
    """Spend one unit of every limit of ``items`` for ``identifier``
    (:meth:`~siomw_ratelimit.storage.GuardedLimiter.exhausted`), the connect and engine
    members' one step.

    Raises:
        Refusal: ``await refuse(item, identifier)`` for the first limit that ran out;
            :func:`unavailable` when the storage failed and the policy is ``"closed"``.
    """
    try:
        spent = await guard.exhausted(items, identifier)
    except StorageUnavailable:
        raise unavailable() from None
    if spent is not None:
        raise await refuse(spent, identifier)
