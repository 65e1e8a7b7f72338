"""Scopes: what a token grants, and what each namespace requires of it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .options import JwtOptions

__all__ = ["Rule", "compile_rules", "granted", "granted_scopes", "required"]

#: the granted sets seen so far, each kept once (connections share them: a frozenset is 216
#: bytes even empty, and most tokens grant one of a few sets); at most :data:`SHARED_SETS`
_shared: dict[frozenset[str], frozenset[str]] = {}
SHARED_SETS = 1024


@dataclass(frozen=True, slots=True)
class Rule:
    """What a connection must bring, compiled from the configuration.

    Attributes:
        scopes: scopes the token must grant (empty: any valid token).
        scope: the same, space-separated, as sent in ``insufficient_scope`` refusals.
        anonymous: a client without a token is let in.
    """

    scopes: frozenset[str] = frozenset()
    scope: str = ""
    anonymous: bool = False


def required(scopes: Iterable[str], anonymous: bool = False) -> Rule:
    """A :class:`Rule` for ``scopes`` (duplicates dropped, order kept in ``scope``)."""
    ordered = list(dict.fromkeys(scopes))
    return Rule(frozenset(ordered), " ".join(ordered), anonymous)


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


def granted(claims: Mapping[str, Any]) -> frozenset[str]:
    """:func:`granted_scopes` as a frozenset, shared with every earlier token that granted
    the same scopes (one object per distinct set, up to :data:`SHARED_SETS` of them; past
    that, a new one each time)."""
    found = frozenset(granted_scopes(claims))
    shared = _shared.get(found)
    if shared is not None:
        return shared
    if len(_shared) < SHARED_SETS:
        _shared[found] = found
    return found


def compile_rules(options: JwtOptions) -> dict[str, Rule]:
    """One :class:`Rule` per configured namespace."""
    return {
        namespace: required(rule.scopes, rule.anonymous)
        for namespace, rule in options.namespaces.items()
    }
