"""``NAME`` of ``siomw new-plugin``: its spellings, and a one-line error for each rule."""

from __future__ import annotations

import pytest

from siomw_core.scaffold.names import MAX_LENGTH, BadName, plugin_names


@pytest.mark.parametrize(("name", "plugin", "distribution", "package", "camel"), [
    ("audit", "audit", "siomw-audit", "siomw_audit", "Audit"),
    ("audit-log", "audit_log", "siomw-audit-log", "siomw_audit_log", "AuditLog"),
    ("audit_log", "audit_log", "siomw-audit-log", "siomw_audit_log", "AuditLog"),
    ("geo2ip", "geo2ip", "siomw-geo2ip", "siomw_geo2ip", "Geo2ip"),
])
def test_spellings(name: str, plugin: str, distribution: str, package: str, camel: str) -> None:
    names = plugin_names(name)
    assert (names.plugin, names.distribution, names.package, names.camel) == (
        plugin, distribution, package, camel)
    assert names.env_prefix == f"SIOMW_{plugin.upper()}__"


@pytest.mark.parametrize(("name", "says"), [
    ("Audit", "lower-case letters and digits"),
    ("2fa", "starting with a letter"),
    ("audit--log", "joined by one '-' or '_'"),
    ("audit-", "joined by one '-' or '_'"),
    ("audit log", "lower-case letters and digits"),
    ("", "lower-case letters and digits"),
    ("a" * (MAX_LENGTH + 1), f"at most {MAX_LENGTH}"),
    ("siomw-audit", "try 'audit'"),
    ("siomw", "must not start with 'siomw'"),
    ("strict", "core key of siomw.toml"),
    ("trusted-proxies", "core key of siomw.toml"),
    ("jwt", "taken: siomw-jwt"),  # the bundled plugin, installed in this environment
])
def test_bad_names_say_why_in_one_line(name: str, says: str) -> None:
    with pytest.raises(BadName) as caught:
        plugin_names(name)
    message = str(caught.value)
    assert says in message
    assert repr(name) in message
    assert "\n" not in message


def test_installed_names_are_allowed_when_not_checked() -> None:
    assert plugin_names("jwt", check_installed=False).package == "siomw_jwt"
