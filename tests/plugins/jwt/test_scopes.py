"""Scopes (``siomw_jwt.scopes``): what a token's claims grant and what a namespace requires.

Unit tests with exact values; the end-to-end refusals (``insufficient_scope``) are in
``test_connect.py`` and ``test_handshake.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from siomw_jwt.options import JwtOptions
from siomw_jwt.scopes import Rule, compile_rules, granted_scopes, required


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"scope": "read write"}, {"read", "write"}),
        ({"scope": "read"}, {"read"}),
        # RFC 6749 §3.3: scope tokens are separated by SP (%x20) only, and a tab is no
        # scope-token character: "read\twrite" is one (useless) token, granting neither
        ({"scope": "read\twrite"}, {"read\twrite"}),
        ({"scope": "read\nwrite"}, {"read\nwrite"}),
        ({"scopes": ["read", "write"]}, {"read", "write"}),
        ({"scope": "chat", "scopes": ["admin"]}, {"chat", "admin"}),  # both count
        ({"scopes": ["read", 7, None, ["x"], "write"]}, {"read", "write"}),  # strings only
        ({"scopes": "read write"}, set()),  # a string where a list belongs: nothing
        ({"scope": ["read"]}, set()),  # a list where a string belongs: nothing
        ({"scope": 7, "scopes": {"read": True}}, set()),
        ({"scopes": ("read",)}, set()),  # JSON has no tuples: only a list counts
        ({}, set()),
    ],
)
def test_granted_scopes(claims: dict[str, Any], expected: set[str]) -> None:
    """The ``scope`` claim split on spaces plus the string items of the ``scopes`` list."""
    assert granted_scopes(claims) == expected


def test_tab_separated_scope_grants_neither_scope() -> None:
    """A token whose scope claim is tab-separated does not satisfy a rule asking for
    ``read``: the grant is checked as the rule checks it (``scopes <= granted``)."""
    rule = required(["read"])
    assert not rule.scopes <= granted_scopes({"scope": "read\twrite"})
    assert rule.scopes <= granted_scopes({"scope": "read write"})


def test_required_keeps_order_and_drops_duplicates() -> None:
    """``scope`` (sent in insufficient_scope refusals) keeps the configured order."""
    assert required(["write", "read", "write"]) == Rule(
        frozenset({"read", "write"}), "write read", False)
    assert required(["admin"], anonymous=True) == Rule(frozenset({"admin"}), "admin", True)
    assert required([]) == Rule(frozenset(), "", False)
    assert Rule() == Rule(frozenset(), "", False)


def test_compile_rules_one_rule_per_namespace() -> None:
    """Every ``[jwt.namespaces."/ns"]`` table becomes its :class:`Rule`."""
    options = JwtOptions.model_validate({
        "algorithms": ["HS256"],
        "namespaces": {
            "/admin": {"scopes": ["admin", "read", "admin"]},
            "/public": {"anonymous": True},
        },
    })
    assert compile_rules(options) == {
        "/admin": Rule(frozenset({"admin", "read"}), "admin read", False),
        "/public": Rule(frozenset(), "", True),
    }
    assert compile_rules(JwtOptions.model_validate({"algorithms": ["HS256"]})) == {}
