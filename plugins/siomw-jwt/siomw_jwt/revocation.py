"""Token revocation (opt-in): ``[jwt] revocation = "redis://..."`` holds revoked ``jti`` values.

A revoked ``jti`` is one Redis key, ``revocation_prefix + jti``, set with an expiry
(``SET key 1 EX ttl``): Redis forgets it once the token it names would have expired anyway,
so the set never grows beyond the tokens still alive. ``siomw token revoke JTI [--ttl
SECONDS]`` writes one (default ttl: ``revocation_ttl``, the longest lifetime the issuer gives
a token); the plugin looks the ``jti`` up (``EXISTS``) when a token is presented (engine
handshake, connect, re-authentication) and on every event of a connected socket, so a
revocation takes effect at the socket's next event. A token without a ``jti`` cannot be
revoked (add ``"jti"`` to ``[jwt] require`` to refuse such tokens).

redis-py is used as the server kind asks: ``redis.asyncio`` on an ``AsyncServer`` (each lookup
bounded by ``asyncio.timeout(revocation_timeout)``), the blocking client on sync servers
(socket timeouts of ``revocation_timeout``, no retries). When Redis does not answer,
``revocation_on_error`` decides: ``"closed"`` refuses (``temporarily_unavailable``, HTTP 503),
``"open"`` accepts; one warning per outage, and one line when Redis answers again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from siomw_core import ConfigError, Refusal

from .options import JwtOptions
from .refusals import invalid_token

__all__ = ["Revocation", "unavailable"]

log = logging.getLogger("siomw.jwt")


def unavailable() -> Refusal:
    """The refusal while the revocation store does not answer and ``revocation_on_error``
    is ``"closed"``: HTTP 503, ``{"code": "temporarily_unavailable", "detail":
    "revocation_unavailable"}`` (RFC 6749 §4.1.2.1's code for a temporary server
    condition; RFC 6750 has none)."""
    return Refusal("Token revocation check unavailable",
                   {"code": "temporarily_unavailable", "detail": "revocation_unavailable"},
                   status=503, headers={"Retry-After": "1"})


def _redis() -> Any:
    try:
        import redis
        import redis.asyncio
        import redis.asyncio.retry
        import redis.retry
    except ImportError:
        raise ConfigError("revocation: needs redis-py: pip install redis (siomw-jwt's "
                          "[revocation] extra)") from None
    return redis


class Revocation:
    """The revocation set of ``options.revocation``.

    Args:
        options: the validated ``[jwt]`` table (``revocation*``).
        blocking: use the blocking client (sync servers, the CLI); else ``redis.asyncio``.

    Raises:
        ConfigError: redis-py is not installed, or the URL is refused by it.
    """

    def __init__(self, options: JwtOptions, *, blocking: bool) -> None:
        redis = _redis()
        assert options.revocation is not None
        self._url = options.revocation
        self._prefix = options.revocation_prefix
        self._timeout = options.revocation_timeout
        self._open = options.revocation_on_error == "open"
        self._blocking = blocking
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError,
                                                         TimeoutError)
        self._failing = False
        from redis.backoff import NoBackoff

        kwargs = {"socket_timeout": self._timeout, "socket_connect_timeout": self._timeout}
        try:
            # no retries: one lookup is bounded by revocation_timeout, not a multiple of it
            if blocking:
                self._client = redis.Redis.from_url(
                    self._url, retry=redis.retry.Retry(NoBackoff(), 0), **kwargs)
            else:
                self._client = redis.asyncio.from_url(
                    self._url, retry=redis.asyncio.retry.Retry(NoBackoff(), 0), **kwargs)
        except ValueError as exc:
            raise ConfigError(f"revocation: {exc}") from None

    def key(self, jti: str) -> str:
        """The Redis key of ``jti``."""
        return self._prefix + jti

    async def revoked(self, jti: str) -> bool:
        """Whether ``jti`` is revoked; when Redis fails, False (``open``) or the
        :func:`unavailable` refusal (``closed``).

        Raises:
            Refusal: Redis did not answer within ``revocation_timeout`` and the policy is
                ``closed``.
        """
        try:
            if self._blocking:
                found = self._client.exists(self.key(jti))
            else:
                async with asyncio.timeout(self._timeout):
                    found = await self._client.exists(self.key(jti))
        except self._errors as exc:
            if not self._failing:
                self._failing = True
                log.warning("siomw: [jwt] revocation %s does not answer (%s: %s); tokens are "
                            "%s until it does", self._safe_url(), type(exc).__name__, exc,
                            "accepted unchecked" if self._open else "refused")
            if self._open:
                return False
            raise unavailable() from None
        if self._failing:
            self._failing = False
            log.warning("siomw: [jwt] revocation %s answers again", self._safe_url())
        return bool(found)

    async def check(self, claims: Mapping[str, Any]) -> None:
        """Refuse ``claims`` whose ``jti`` is revoked.

        Raises:
            Refusal: ``invalid_token``/``revoked`` (RFC 6750 §3.1: "The access token provided
                is expired, revoked, malformed, or invalid"), or :func:`unavailable`.
        """
        jti = claims.get("jti")
        if isinstance(jti, str) and await self.revoked(jti):
            raise invalid_token("Token revoked", "revoked")

    def revoke(self, jti: str, ttl: int) -> None:
        """Add ``jti`` for ``ttl`` seconds (blocking client only: the CLI).

        Raises:
            ConnectionError: Redis did not answer (redis-py's error, re-raised as one line).
        """
        try:
            self._client.set(self.key(jti), 1, ex=ttl)
        except self._errors as exc:
            raise ConnectionError(f"revocation {self._safe_url()}: {type(exc).__name__}: "
                                  f"{exc}") from None

    async def close(self) -> None:
        """Release the client's connections (the stack's shutdown); a later lookup opens
        new ones (the stack may start again, on a new event loop)."""
        try:
            if self._blocking:
                self._client.close()
            else:
                await self._client.aclose()
        except self._errors as exc:
            log.debug("siomw: [jwt] revocation close: %s", exc)

    def _safe_url(self) -> str:
        # never log a password from redis://user:password@host
        scheme, sep, rest = self._url.partition("://")
        return f"{scheme}{sep}{rest.rpartition('@')[2]}"
