"""The ``jwt`` connect middleware: verify the token, store the claims, check scopes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jwt.exceptions import PyJWTError

from siomw_core import CallNext, Middleware, Socket

from .decoder import TokenDecoder, failure_detail
from .extract import token_of
from .options import JwtOptions
from .refusals import insufficient_scope, invalid_request, invalid_token

__all__ = ["NAME", "PRIORITY", "Rule", "build_middleware", "granted_scopes"]

NAME = "jwt"
#: Kong's jwt plugin runs at 1450, before its rate limiting (910); siomw's bundled plugins use
#: 3000 (logging), 2000 (ratelimit), 1000 (jwt)
PRIORITY = 1000
#: where handlers find the claims: ``socket.data["user"]``, the python-socketio session
USER_KEY = "user"


@dataclass(frozen=True, slots=True)
class Rule:
    """A namespace's requirements, compiled from :class:`~siomw_jwt.options.NamespaceRule`.

    Attributes:
        scopes: scopes the token must grant (empty: any valid token).
        scope: the same, space-separated, as sent in ``insufficient_scope`` refusals.
        anonymous: a client without a token is let in.
    """

    scopes: frozenset[str] = frozenset()
    scope: str = ""
    anonymous: bool = False


def granted_scopes(claims: Mapping[str, Any]) -> set[str]:
    """The scopes a token grants: its ``scope`` claim split on spaces (RFC 8693 §4.2) and its
    ``scopes`` list claim, together. Values of other types grant nothing."""
    granted: set[str] = set()
    scope = claims.get("scope")
    if isinstance(scope, str):
        granted.update(scope.split(" "))
    scopes = claims.get("scopes")
    if isinstance(scopes, list):
        granted.update(s for s in scopes if isinstance(s, str))
    return granted


def compile_rules(options: JwtOptions) -> dict[str, Rule]:
    """One :class:`Rule` per configured namespace."""
    rules = {}
    for namespace, rule in options.namespaces.items():
        ordered = list(dict.fromkeys(rule.scopes))
        rules[namespace] = Rule(frozenset(ordered), " ".join(ordered), rule.anonymous)
    return rules


def build_middleware(options: JwtOptions, decoder: TokenDecoder) -> Middleware:
    """The ``jwt`` middleware spec: connect level, priority 1000, every namespace.

    Per connection: find the token (:func:`siomw_jwt.extract.token_of`), refuse
    ``invalid_request`` when there is none (unless the namespace is ``anonymous``), verify it
    (``invalid_token`` with a detail), store the claims in ``socket.data["user"]``, and
    refuse ``insufficient_scope`` when the namespace's scopes are not all granted.
    """
    rules = compile_rules(options)
    default = Rule()
    max_len = options.max_token_bytes
    decode = decoder.decode

    async def jwt_middleware(socket: Socket, call_next: CallNext) -> None:
        rule = rules.get(socket.namespace, default)
        token = token_of(socket.handshake)
        if token is None:
            if rule.anonymous:
                await call_next()
                return
            raise invalid_request("missing_token")
        if len(token) > max_len:
            raise invalid_token("Token too large", "too_large")
        if not token.isascii():  # a compact JWS is base64url and dots only (RFC 7515 §7.1)
            raise invalid_token("Token is malformed", "malformed")
        try:
            claims = decode(token)
        except PyJWTError as exc:
            message, detail, extra = failure_detail(exc)
            raise invalid_token(message, detail, extra) from None
        if rule.scopes and not rule.scopes <= granted_scopes(claims):
            raise insufficient_scope(rule.scope)
        socket.data[USER_KEY] = claims
        await call_next()

    return Middleware(name=NAME, func=jwt_middleware, level="connect", priority=PRIORITY)
