"""The identity of a connection: who authenticated it, with which scopes, until when.

One core contract, so that any authentication plugin can replace another: the plugin that
verifies a credential (jwt today) calls :func:`set_identity` on the :class:`~siomw_core.Socket`;
every other reader (ratelimit's ``key = "user"``, logging's ``user``, an application
middleware) calls :func:`get_identity`. The Socket lives for the whole connection (the
connect chain, then every event of that sid, until disconnect), so what the connect chain
stored is what the event chain reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import Socket

__all__ = ["Identity", "get_identity", "set_identity"]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a connection is, as the plugin that authenticated it established.

    Attributes:
        sub: the subject (jwt ``sub``, RFC 7519 §4.1.2) as a string; None when the
            credential names none.
        scopes: the granted scopes (RFC 8693 §4.2 ``scope``, split on spaces).
        claims: the verified claims (what handlers read as ``socket.data["user"]``),
            read-only: a mapping given is copied into a ``MappingProxyType``; one given as
            a ``MappingProxyType`` is kept as it is (its maker vouches that nobody writes
            the dict behind it).
        expires_at: when the credential expires, in seconds since the epoch (jwt ``exp``);
            None: never.
        source: the plugin that authenticated it, e.g. ``"jwt"``.
    """

    sub: str | None
    scopes: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = field(default_factory=dict)
    expires_at: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if self.sub is not None and not isinstance(self.sub, str):
            object.__setattr__(self, "sub", str(self.sub))
        if not isinstance(self.scopes, frozenset):
            scopes: Iterable[str] = self.scopes
            object.__setattr__(self, "scopes", frozenset(scopes))
        if not isinstance(self.claims, MappingProxyType):
            object.__setattr__(self, "claims", MappingProxyType(dict(self.claims)))

    def expired(self, now: float, leeway: float = 0.0) -> bool:
        """Whether the identity has expired at ``now``: ``now >= expires_at + leeway``
        (seconds since the epoch; ``leeway``: seconds of clock skew allowed). The rule of
        RFC 7519 §4.1.4 as PyJWT applies it (``jwt.api_jwt._validate_exp``); False when
        ``expires_at`` is None (never expires). (The jwt plugin also reads ``exp`` as an
        ``int``, as PyJWT does: ``siomw_jwt.session.deadline``.)"""
        return self.expires_at is not None and now >= self.expires_at + leeway


def set_identity(socket: Socket, identity: Identity | None) -> None:
    """Store ``identity`` on ``socket``: the one place that writes it.

    Sets ``socket.identity`` and ``socket.data["user"] = dict(identity.claims)`` (what
    handlers read from the session); ``None`` removes both. Call it from a connect-level
    middleware (the session is saved after the chain) or at the event level (re-auth).
    """
    socket.identity = identity
    if identity is None:
        socket.data.pop("user", None)
    else:
        socket.data["user"] = dict(identity.claims)


def get_identity(socket: Socket) -> Identity | None:
    """The identity stored on ``socket`` by :func:`set_identity`, or None (anonymous)."""
    return socket.identity
