"""The ratelimit plugin's refusals, built in one place for its three levels (engine,
connect, event): the codes ``rate_limited`` and ``rate_limit_unavailable``."""

from __future__ import annotations

from collections.abc import Mapping

from limits import RateLimitItem

from siomw_core import Refusal

__all__ = ["rate_limited", "unavailable"]


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
