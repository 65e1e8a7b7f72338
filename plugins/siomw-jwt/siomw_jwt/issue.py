"""Issuing tokens signed with the configured HMAC secret (``siomw token``, tests, demos)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import jwt

from siomw_core import ConfigError

from .keys import read_secret
from .options import HMAC_ALGORITHMS, JwtOptions

__all__ = ["issue_token"]


def issue_token(
    options: JwtOptions,
    sub: str,
    scopes: Iterable[str] = (),
    ttl: int = 3600,
    *,
    jti: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """A token that the ``[jwt]`` configuration ``options`` accepts.

    Signed with the first HS* algorithm of ``options.algorithms`` and the secret from
    ``options.secret_env``. Claims: ``sub``, ``iat`` (now), ``exp`` (now + ``ttl`` seconds),
    ``scope`` (the scopes space-separated, RFC 8693 §4.2; left out when there are none),
    ``aud`` and ``iss`` when the configuration checks them (the first value of a list),
    ``jti`` when given, or a random one (32 hex digits) when the configuration has
    ``revocation`` or requires ``jti`` (what ``siomw token revoke`` names).

    Args:
        options: the validated ``[jwt]`` table.
        sub: the subject (the user's name or id).
        scopes: scopes to grant.
        ttl: lifetime in seconds (> 0).
        jti: the token's id (RFC 7519 §4.1.7); None: as described above.
        environ: where to read the secret (default ``os.environ``).

    Raises:
        ConfigError: no HS* algorithm is configured, the secret is missing, or ``ttl`` <= 0.
        ValueError: ``sub`` is empty, or a scope is not one RFC 6749 §3.3 scope-token.
    """
    algorithm = next((a for a in options.algorithms if a in HMAC_ALGORITHMS), None)
    if algorithm is None:
        raise ConfigError(
            f"algorithms: {options.algorithms} has no HS* algorithm; siomw can only issue "
            "tokens signed with the HMAC secret (tokens for RS*/ES*/PS*/EdDSA come from the "
            "holder of the private key)"
        )
    if ttl <= 0:
        raise ConfigError(f"ttl: expected a positive number of seconds; found {ttl}")
    if not sub or not sub.strip():
        raise ValueError("sub: expected a non-empty subject")
    for scope_token in scopes:
        # RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), so no space
        if not scope_token or not all(
            c == "\x21" or "\x23" <= c <= "\x5b" or "\x5d" <= c <= "\x7e" for c in scope_token
        ):
            raise ValueError(f"scope: {scope_token!r} is not one scope token (RFC 6749 §3.3: "
                             "no spaces, quotes or backslashes; repeat --scope for several)")
    secret = read_secret(options, environ)
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "iat": now, "exp": now + ttl}
    scope = " ".join(dict.fromkeys(scopes))
    if scope:
        claims["scope"] = scope
    if jti is None and (options.revocation is not None or "jti" in options.require):
        jti = uuid.uuid4().hex
    if jti is not None:
        if not jti:
            raise ValueError("jti: expected a non-empty token id")
        claims["jti"] = jti
    if options.audience is not None:
        aud = options.audience
        claims["aud"] = aud if isinstance(aud, str) else aud[0]
    if options.issuer is not None:
        iss = options.issuer
        claims["iss"] = iss if isinstance(iss, str) else iss[0]
    return jwt.encode(claims, secret, algorithm=algorithm)
