"""The ``[ratelimit]`` table: what is limited (connects, HTTP requests of the engine,
events), by which key, with which strategy and storage."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit, urlunsplit

import limits
import limits.aio.storage
import limits.storage
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, field_validator
from pydantic_core import PydanticCustomError

from siomw_core import ConfigError

__all__ = [
    "RateLimitOptions", "RateLimitString", "async_schemes", "async_storage_uri", "check_limits",
    "limits_problem", "parse_limits", "redacted_uri", "sync_schemes", "sync_storage_uri",
]

Key = Literal["ip", "user"]
EventKey = Literal["sid", "user", "ip"]
Strategy = Literal["fixed-window", "moving-window", "sliding-window-counter"]
Policy = Literal["open", "closed"]
HttpRequests = Literal["handshake", "all"]
RedisClient = Literal["coredis", "redispy"]


def limits_problem(value: object) -> str | None:
    """What a rate limit string must be, when ``value`` is not one: the one wording of
    the table's keys and of ``@siomw_ratelimit.limit(...)`` (``expected <this>; found
    ...``); None when it is (limits' notation, every amount at least 1)."""
    try:
        items = tuple(limits.parse_many(value)) if isinstance(value, str) else ()
    except ValueError:
        items = ()
    if not items:
        return ("a rate limit string such as '60/minute', '3 per 10 seconds' or "
                "'10/second;100/hour'")
    if any(item.amount < 1 for item in items):
        return "a rate limit of at least 1"
    return None


def check_limits(value: str) -> str:
    """``value`` when it is a rate limit string (:func:`limits_problem`).

    Raises:
        PydanticCustomError: it is not (validation names the file, table and key).
    """
    problem = limits_problem(value)
    if problem is not None:
        raise PydanticCustomError("rate_limit_string", problem)
    return value


#: a rate limit string, checked as its own item (an error names its key: ``events."x"``)
RateLimitString = Annotated[str, AfterValidator(check_limits)]


class RateLimitOptions(BaseModel):
    """The ``[ratelimit]`` table of ``siomw.toml``; the defaults are the embedded defaults.

    Attributes:
        connect: the connection budget in ``limits``' notation: ``"60/minute"``,
            ``"3 per 10 seconds"``, several separated by ``;`` (``"10/second;100/hour"``,
            every one must hold). Each Socket.IO namespace CONNECT spends one.
        key: what a connect budget belongs to: ``"ip"`` (the client address) or ``"user"``
            (the identity's ``sub``, ``siomw_core.get_identity(socket).sub``, which the
            jwt plugin stores with ``set_identity``; a socket without one is counted by its
            address). The ``http`` budget is always
            the address' (no request is authenticated yet at the engine level).
        strategy: ``limits``' strategy: ``"fixed-window"``, ``"moving-window"`` or
            ``"sliding-window-counter"``.
        storage: a ``limits`` storage URI: ``memory://``, ``redis://host:6379/0``,
            ``rediss://``, ``redis+sentinel://``, ``redis+cluster://``, ``valkey://``,
            ``memcached://``, ``mongodb://``; the ``async+`` form is used internally
            (``async+redis://``), and may be written directly.
        key_prefix: first segment of every counter key, so that several applications can
            share one Redis.
        per_namespace: count each namespace separately (default: one budget per key across
            every namespace).
        on_storage_error: ``"open"``: a connection is let in when the storage fails, counted
            by an in-process fallback limiter until the storage recovers; ``"closed"``: it is
            refused with code ``rate_limit_unavailable``.
        storage_timeout: seconds a remote storage may take per call before it counts as
            failed (memory storage never waits).
        redis_client: the asyncio Redis client ``limits`` drives for ``redis*://`` URIs
            (its ``implementation`` argument): ``"coredis"`` (the ``limits[async-redis]``
            extra, limits' default) or ``"redispy"`` (``redis.asyncio`` from ``redis>=5.2``,
            cheaper per call). ``valkey*://`` URIs always use ``valkey``.
        http: the budget of HTTP requests of the engine per client address, in the
            notation of ``connect``; ``None`` (the default): no engine-level limit.
        http_requests: which engine requests spend the ``http`` budget: ``"handshake"``
            (requests without a ``sid``: every new engine session, polling or
            WebSocket-only) or ``"all"`` (every request: long-poll GETs and POSTs and the
            WebSocket upgrade too). CORS preflights (``OPTIONS``) never do.
        headers: add ``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset`` to
            the responses of counted requests that are let through (refusals always have
            them, and ``Retry-After``).
        event: the budget of events per ``event_key``, every event name together, in the
            notation of ``connect``; ``None`` (the default): no such limit.
        event_key: what the ``event`` and ``events`` budgets belong to: ``"sid"`` (the
            socket: one namespace connection), ``"user"`` (the identity's ``sub``, which the
            jwt plugin stores with ``siomw_core.set_identity``; an anonymous socket is
            counted by its sid) or ``"ip"`` (the client address, trusted proxies applied by
            the core).
        events: a budget per event name (``{"chat message": "5/second"}``), spent on top
            of ``event``; each name has its own counter.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    connect: str = "60/minute"
    key: Key = "ip"
    strategy: Strategy = "moving-window"
    storage: str = "memory://"
    key_prefix: str = Field(default="siomw", min_length=1)
    per_namespace: StrictBool = False
    on_storage_error: Policy = "open"
    storage_timeout: float = Field(default=1.0, gt=0, le=60)
    redis_client: RedisClient = "coredis"
    http: str | None = None
    http_requests: HttpRequests = "handshake"
    headers: StrictBool = False
    event: str | None = None
    event_key: EventKey = "sid"
    events: dict[str, RateLimitString] = Field(default_factory=dict)

    @field_validator("connect", "http", "event")
    @classmethod
    def _parse_limits(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_limits(value)

    @field_validator("events")
    @classmethod
    def _check_event_names(cls, value: dict[str, str]) -> dict[str, str]:
        # each rate was checked as its own item (the error names its event key)
        if "" in value:
            raise PydanticCustomError("event_name", "event names that are not empty")
        return value

    @field_validator("storage")
    @classmethod
    def _check_storage(cls, value: str) -> str:
        async_storage_uri(value)
        return value

    def items(self) -> tuple[limits.RateLimitItem, ...]:
        """The parsed ``connect`` limits (``RateLimitItem``), in the order written."""
        return tuple(limits.parse_many(self.connect))

    def http_items(self) -> tuple[limits.RateLimitItem, ...]:
        """The parsed ``http`` limits, in the order written; ``()`` when ``http`` is unset."""
        return tuple(limits.parse_many(self.http)) if self.http else ()

    def event_items(self) -> tuple[limits.RateLimitItem, ...]:
        """The parsed ``event`` limits, in the order written; ``()`` when ``event`` is unset."""
        return tuple(limits.parse_many(self.event)) if self.event else ()

    def events_items(self) -> dict[str, tuple[limits.RateLimitItem, ...]]:
        """The parsed ``events`` limits: event name -> its limits, in the order written."""
        return {name: tuple(limits.parse_many(rate)) for name, rate in self.events.items()}


def parse_limits(value: object) -> tuple[limits.RateLimitItem, ...]:
    """``value`` parsed with ``limits.parse_many`` (``"5/second"``, ``"10/second;100/hour"``),
    every amount at least 1; ``()`` when it is not a valid rate limit string (limits'
    notation: ``https://limits.readthedocs.io/en/stable/quickstart.html#rate-limit-string-notation``).
    """
    try:
        items = tuple(limits.parse_many(value)) if isinstance(value, str) else ()
    except ValueError:
        return ()
    if any(item.amount < 1 for item in items):
        return ()
    return items


def _schemes(base: type) -> frozenset[str]:
    """Every storage scheme the subclasses of ``base`` declare (``STORAGE_SCHEME``)."""
    found: set[str] = set()
    pending: list[type] = [base]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        scheme = getattr(cls, "STORAGE_SCHEME", None) or ()
        found.update([scheme] if isinstance(scheme, str) else scheme)
    return frozenset(found)


def async_schemes() -> frozenset[str]:
    """Every ``async+...`` storage scheme ``limits.aio`` registers (its storages' classes
    declare them in ``STORAGE_SCHEME``)."""
    return _schemes(limits.aio.storage.Storage)


def sync_schemes() -> frozenset[str]:
    """Every storage scheme of ``limits``' sync storages (``limits.storage``)."""
    return _schemes(limits.storage.Storage)


def async_storage_uri(uri: str) -> str:
    """Map a storage URI to its ``limits.aio`` form: ``redis://h:1`` -> ``async+redis://h:1``.

    An ``async+`` URI is kept as it is.

    Raises:
        PydanticCustomError: the scheme is not one ``limits`` knows (validation turns it into
            a ConfigError naming ``[ratelimit] storage``).
    """
    scheme = urlsplit(uri).scheme if "://" in uri else ""
    known = async_schemes()
    if scheme in known:
        return uri
    if f"async+{scheme}" in known:
        return f"async+{uri}"
    plain = sorted(s.removeprefix("async+") for s in known)
    raise PydanticCustomError(
        "storage_uri",
        "a limits storage URI with one of the schemes {schemes} (e.g. 'memory://', "
        "'redis://127.0.0.1:6379')",
        {"schemes": ", ".join(f"{s}://" for s in plain)},
    )


def sync_storage_uri(uri: str) -> str:
    """Map a storage URI to its sync ``limits.storage`` form (sync servers):
    ``async+redis://h:1`` -> ``redis://h:1``; a plain URI is kept as it is.

    Raises:
        ConfigError: ``limits`` has no sync storage for the scheme.
    """
    plain = uri.removeprefix("async+")
    scheme = urlsplit(plain).scheme if "://" in plain else ""
    if scheme not in sync_schemes():
        raise ConfigError(
            "storage: expected a storage with a sync limits backend (a sync socketio.Server "
            f"counts with limits' sync API); found {redacted_uri(uri)!r}")
    return plain


def redacted_uri(uri: str) -> str:
    """``uri`` with its password replaced by ``***``, for log lines."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
