"""The ``ratelimit`` connect middleware: a budget of namespace CONNECTs per IP or per user.

Per connection it makes one ``hit`` call per configured limit (one, usually); the window
stats are read only to refuse (``retry_after``).
"""

from __future__ import annotations

from collections.abc import Callable

from limits import RateLimitItem

from siomw_core import CallNext, Middleware, Refusal, Socket, get_identity

from .options import RateLimitOptions
from .refusals import rate_limited, spend_or_refuse, unavailable
from .storage import GuardedLimiter, guarded_limiter

__all__ = ["NAME", "PRIORITY", "build_connect", "unavailable"]

NAME = "ratelimit"
#: between logging (3000, outermost) and jwt (1000)
PRIORITY = 2000
MESSAGE = "Too many connection attempts"


def _identify(options: RateLimitOptions) -> Callable[[Socket], str]:
    """Build ``socket -> counter identifier`` once:
    ``"<key_prefix>/connect/<strategy>/<kind>/[<namespace>/]<value>"``.

    ``kind`` is ``ip`` or ``user`` so that an address and a subject never share a counter;
    the strategy is part of it because strategies keep different Redis types under a key
    (a changed strategy must not meet the old one's keys: Redis answers WRONGTYPE).
    """
    base = f"{options.key_prefix}/connect/{options.strategy}"
    ip_prefix = f"{base}/ip/"
    user_prefix = f"{base}/user/"
    per_namespace = options.per_namespace

    if options.key == "ip":
        if per_namespace:
            return lambda socket: f"{ip_prefix}{socket.namespace}/{socket.handshake.address}"
        return lambda socket: ip_prefix + socket.handshake.address

    def by_user(socket: Socket) -> str:
        identity = get_identity(socket)
        sub = identity.sub if identity is not None else None
        if sub:
            prefix, value = user_prefix, sub
        else:  # no authenticated subject: count the address
            prefix, value = ip_prefix, socket.handshake.address
        if per_namespace:
            return f"{prefix}{socket.namespace}/{value}"
        return prefix + value

    return by_user


def build_connect(options: RateLimitOptions, guard: GuardedLimiter | None = None) -> Middleware:
    """The ``ratelimit`` connect middleware for ``options``, built once.

    It runs in every namespace with priority 2000, and declares ``before=("jwt",)`` when
    keyed by ``ip`` (a flood is refused before any token is verified) or ``after=("jwt",)``
    when keyed by ``user`` (the subject is known by then); with ``if_present`` so that a
    server without jwt (strict or not) needs no warning.

    Refusals (CONNECT_ERROR ``data``):

    - ``{"code": "rate_limited", "retry_after": int seconds >= 1, "limit": "3 per 1 minute"}``,
      ``limit`` being ``str()`` of the ``limits`` item that ran out and ``retry_after``
      the whole seconds after which a retry passes every limit
      (:meth:`~siomw_ratelimit.storage.GuardedLimiter.retry_after`: never shorter than
      the real wait, on every storage and strategy);
    - ``{"code": "rate_limit_unavailable"}`` when the storage fails under
      ``on_storage_error = "closed"``.

    ``guard`` is the limiter to count with (one is built from ``options`` when None).

    Raises:
        ConfigError: the storage cannot be used (a missing client library) or does not
            support the strategy.
    """
    items = options.items()
    if guard is None:
        guard = guarded_limiter(options)
    identify = _identify(options)

    async def refuse(item: RateLimitItem, identifier: str) -> Refusal:
        retry_after = await guard.retry_after(items, item, identifier)
        return rate_limited(MESSAGE, retry_after, item)

    async def ratelimit(socket: Socket, call_next: CallNext) -> None:
        await spend_or_refuse(guard, items, identify(socket), refuse)
        await call_next()

    by_ip = options.key == "ip"
    return Middleware(
        name=NAME, func=ratelimit, level="connect", priority=PRIORITY, namespaces=None,
        before=("jwt",) if by_ip else (), after=() if by_ip else ("jwt",), if_present=True,
    )
