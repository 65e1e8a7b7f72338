"""The ``ratelimit-http`` engine middleware: a budget of HTTP requests of the engine per
client address (Node's ``io.engine.use`` with express-rate-limit).

It counts the engine sessions a client opens (``http_requests = "handshake"``: requests
without a ``sid``, a WebSocket-only handshake included) or every engine request
(``"all"``: long-poll GETs and POSTs and the WebSocket upgrade too), with the same
strategy and storage as the connect limit but counters of its own. A refusal is HTTP 429
with ``Retry-After`` and the ``RateLimit-*`` headers of draft-ietf-httpapi-ratelimit-headers
(draft 06: ``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset`` in seconds).
"""

from __future__ import annotations

from limits import RateLimitItem

from siomw_core import CallNext, Middleware, Refusal, Request

from .options import RateLimitOptions
from .refusals import rate_limited, spend_or_refuse
from .storage import GuardedLimiter, Window, guarded_limiter

__all__ = ["HTTP_NAME", "HTTP_PRIORITY", "build_http"]

HTTP_NAME = "ratelimit-http"
#: between logging (3000, which then logs the 429) and jwt (1000)
HTTP_PRIORITY = 2000
MESSAGE = "Too many requests"


def build_http(options: RateLimitOptions, guard: GuardedLimiter | None = None) -> Middleware:
    """The ``ratelimit-http`` engine middleware for ``options.http``, built once.

    Each counted request makes one ``hit`` per limit of ``http`` on the counter
    ``"<key_prefix>/http/<strategy>/ip/<address>"`` (always the address: ``key = "user"``
    applies to the connect limit only, since no request is authenticated at this level).
    With ``headers = true`` it also reads each limit's window stats to answer with them:
    ``RateLimit-Reset`` is the whole seconds until the reported window frees a hit (with
    ``RateLimit-Remaining: 0``, the wait after which the next request passes).

    Refusals (HTTP response, ``application/json`` body ``{"message", "data"}``):

    - 429 ``{"code": "rate_limited", "retry_after": int seconds >= 1, "limit": "100 per 1
      minute"}`` with headers ``Retry-After: n``, ``RateLimit-Limit: <amount>``,
      ``RateLimit-Remaining: 0``, ``RateLimit-Reset: n`` (n = ``retry_after``, the whole
      seconds after which a retry passes every limit, never shorter than the real wait);
    - 503 ``{"code": "rate_limit_unavailable"}`` when the storage fails under
      ``on_storage_error = "closed"``.

    Args:
        options: the validated ``[ratelimit]`` table; ``options.http`` must be set.
        guard: the limiter to count with, shared with the connect limit (one is built from
            ``options`` when None).

    Raises:
        ValueError: ``options.http`` is unset.
        ConfigError: the storage cannot be used (as :func:`~.connect.build_connect`).
    """
    items = options.http_items()
    if not items:
        raise ValueError("build_http needs [ratelimit] http")
    if guard is None:
        guard = guarded_limiter(options)
    prefix = f"{options.key_prefix}/http/{options.strategy}/ip/"
    handshakes_only = options.http_requests == "handshake"
    with_headers = options.headers

    async def refuse(item: RateLimitItem, identifier: str) -> Refusal:
        retry_after = await guard.retry_after(items, item, identifier)
        seconds = str(retry_after)
        return rate_limited(
            MESSAGE, retry_after, item, status=429,
            headers={"Retry-After": seconds, "RateLimit-Limit": str(item.amount),
                     "RateLimit-Remaining": "0", "RateLimit-Reset": seconds},
        )

    async def announce(request: Request, identifier: str) -> None:
        # the draft: with several policies, the one closest to exhaustion is reported
        best: tuple[RateLimitItem, Window] | None = None
        for item in items:
            window = await guard.window(item, identifier)
            if window is not None and (best is None or window.remaining < best[1].remaining):
                best = (item, window)
        if best is None:  # the storage failed to answer: say nothing rather than guess
            return
        item, window = best
        request.response_headers.extend((
            ("RateLimit-Limit", str(item.amount)),
            ("RateLimit-Remaining", str(window.remaining)),
            ("RateLimit-Reset", str(window.reset_after)),
        ))

    async def ratelimit_http(request: Request, call_next: CallNext) -> None:
        if handshakes_only and not request.is_handshake:
            await call_next()
            return
        identifier = prefix + request.address
        await spend_or_refuse(guard, items, identifier, refuse)
        if with_headers:
            await announce(request, identifier)
        await call_next()

    return Middleware(
        name=HTTP_NAME, func=ratelimit_http, level="engine", priority=HTTP_PRIORITY,
        before=("jwt-handshake", "jwt"), if_present=True, preflight=False,
    )
