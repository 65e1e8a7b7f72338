"""``NAME`` of ``siomw new-plugin``: its spellings, and a one-line error for each rule."""

from __future__ import annotations

from pathlib import Path

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
    ("core", "would name the project siomw-core, the core itself"),
    ("Core", "lower-case letters and digits"),
    ("siomw-core", "must not start with 'siomw'"),
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


def test_core_is_refused_even_when_installed_names_are_not_checked() -> None:
    with pytest.raises(BadName, match=r"^plugin name 'core' would name the project siomw-core"):
        plugin_names("core", check_installed=False)


def test_the_core_prefix_hint_does_not_suggest_the_core() -> None:
    with pytest.raises(BadName) as caught:
        plugin_names("siomw-core")
    assert "try" not in str(caught.value)


def test_an_installed_distribution_of_the_same_name_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a real distribution on sys.path (a .dist-info directory, as pip writes it), without an
    # entry point in the group siomw: installing siomw-sharedname would replace it
    info = tmp_path / "siomw_sharedname-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: siomw-sharedname\n"
                                   "Version: 2.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(BadName) as caught:
        plugin_names("sharedname")
    message = str(caught.value)
    assert message == ("plugin name 'sharedname' would name the project siomw-sharedname, "
                       "which is installed (siomw-sharedname 2.0; installing the new project "
                       "would replace it); choose another")


def test_an_importable_package_of_the_same_name_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "siomw_samepkg").mkdir()
    (tmp_path / "siomw_samepkg" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(BadName) as caught:
        plugin_names("samepkg")
    message = str(caught.value)
    assert message.startswith("plugin name 'samepkg' would name the package siomw_samepkg, "
                              "which is already importable (")
    assert str(tmp_path) in message and "\n" not in message


def test_a_bundled_plugin_is_refused_where_it_is_not_installed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # not installed here: no entry point registers it (the real lookup, narrowed)
    monkeypatch.setattr("siomw_core.scaffold.names._taken_by", lambda plugin: None)
    with pytest.raises(BadName) as caught:
        plugin_names("metrics")
    assert str(caught.value) == ("plugin name 'metrics' would name the project siomw-metrics, "
                                 "a plugin released with siomw (pip install siomw-metrics); "
                                 "choose another")


def test_the_bundled_list_is_the_repositorys_plugins() -> None:
    from siomw_core.scaffold.names import BUNDLED

    plugins = Path(__file__).resolve().parents[2] / "plugins"
    assert sorted(BUNDLED) == sorted(p.name.removeprefix("siomw-") for p in plugins.iterdir()
                                     if (p / "pyproject.toml").is_file())
