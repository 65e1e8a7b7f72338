"""Configuration loading (siomw_core.config): files, environment overrides, error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from siomw_core import ConfigError, CoreSettings, load_config
from siomw_core.config import validate_table

SIOMW_TOML = """\
strict = true
connect_timeout = 3.5
plugins = ["jwt", "logging"]
disable_plugins = ["ratelimit"]
order = ["logging", "jwt"]

[jwt]
leeway = 10
algorithms = ["HS256"]

[logging]
format = "json"
"""

PYPROJECT = """\
[project]
name = "app"
version = "1"

[tool.ruff]
line-length = 100

[tool.siomw]
connect_timeout = 2

[tool.siomw.jwt]
leeway = 7
"""


@pytest.fixture(autouse=True)
def _no_siomw_toml_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty directory, so no ./siomw.toml is picked up unless a test writes one."""
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_siomw_toml_core_keys_and_tables(tmp_path: Path) -> None:
    """A siomw.toml gives the core keys at the top and one raw table per plugin."""
    path = write(tmp_path, "siomw.toml", SIOMW_TOML)
    config = load_config(path, environ={})
    assert config.source == str(path)
    assert config.core == CoreSettings(
        strict=True, connect_timeout=3.5, plugins=["jwt", "logging"],
        disable_plugins=["ratelimit"], order=["logging", "jwt"],
    )
    assert config.tables == {
        "jwt": {"leeway": 10, "algorithms": ["HS256"]},
        "logging": {"format": "json"},
    }
    assert config.table("jwt") == {"leeway": 10, "algorithms": ["HS256"]}
    assert config.table("absent") == {}
    assert config.origins == {}


def test_pyproject_tool_siomw(tmp_path: Path) -> None:
    """A pyproject.toml is read from its [tool.siomw] table; other tools' tables are ignored."""
    path = write(tmp_path, "pyproject.toml", PYPROJECT)
    config = load_config(path, environ={})
    assert config.core.connect_timeout == 2.0
    assert config.core.plugins is None
    assert config.tables == {"jwt": {"leeway": 7}}


def test_pyproject_without_tool_siomw_is_an_error(tmp_path: Path) -> None:
    """A pyproject.toml with no [tool.siomw] table is refused, naming the file."""
    path = write(tmp_path, "pyproject.toml", "[project]\nname = 'x'\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(path) in str(info.value) and "[tool.siomw]" in str(info.value)


def test_embedded_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no path, no SIOMW_CONFIG and no ./siomw.toml, the embedded defaults apply."""
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert config.source == "<embedded defaults>"
    assert config.core == CoreSettings()
    assert config.core.connect_timeout == 10.0
    assert config.core.strict is False
    assert config.core.plugins is None
    assert config.tables == {}


def test_siomw_toml_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a path, ./siomw.toml is read."""
    write(tmp_path, "siomw.toml", "connect_timeout = 4\n")
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert config.source == "siomw.toml"
    assert config.core.connect_timeout == 4.0


def test_siomw_config_variable_names_the_file(tmp_path: Path) -> None:
    """SIOMW_CONFIG names the file when no path is given."""
    path = write(tmp_path, "other.toml", "connect_timeout = 6\n")
    config = load_config(environ={"SIOMW_CONFIG": str(path)})
    assert config.source == str(path)
    assert config.core.connect_timeout == 6.0


def test_env_overrides_core_keys(tmp_path: Path) -> None:
    """SIOMW_CONNECT_TIMEOUT, _STRICT, _PLUGINS and _DISABLE_PLUGINS override the file."""
    path = write(tmp_path, "siomw.toml", SIOMW_TOML)
    config = load_config(path, environ={
        "SIOMW_CONNECT_TIMEOUT": "0.25",
        "SIOMW_STRICT": "false",
        "SIOMW_PLUGINS": " jwt , ratelimit,",
        "SIOMW_DISABLE_PLUGINS": "logging",
        "UNRELATED": "1",
    })
    assert config.core.connect_timeout == 0.25
    assert config.core.strict is False
    assert config.core.plugins == ["jwt", "ratelimit"]
    assert config.core.disable_plugins == ["logging"]
    assert config.core.order == ["logging", "jwt"]  # not overridden: kept from the file


def test_empty_siomw_plugins_means_none() -> None:
    """SIOMW_PLUGINS="" is an empty allow-list (no plugin), not "every plugin"."""
    config = load_config(environ={"SIOMW_PLUGINS": "", "SIOMW_CONFIG": ""})
    assert config.core.plugins == []


def test_strict_from_env() -> None:
    """SIOMW_STRICT=true turns strict mode on."""
    assert load_config(environ={"SIOMW_STRICT": "true", "SIOMW_CONFIG": ""}).core.strict is True


def test_plugin_keys_from_env_are_parsed_as_json(tmp_path: Path) -> None:
    """SIOMW_<PLUGIN>__<KEY> sets a table key; JSON values are parsed, others stay strings."""
    path = write(tmp_path, "siomw.toml", SIOMW_TOML)
    config = load_config(path, environ={
        "SIOMW_JWT__LEEWAY": "5",
        "SIOMW_JWT__ALGORITHMS": '["RS256", "ES256"]',
        "SIOMW_JWT__VERIFY": "true",
        "SIOMW_JWT__SECRET": "not json",
        "SIOMW_RATELIMIT__LIMIT": "10/minute",
    })
    assert config.tables["jwt"] == {
        "leeway": 5, "algorithms": ["RS256", "ES256"], "verify": True, "secret": "not json",
    }
    assert config.tables["ratelimit"] == {"limit": "10/minute"}
    assert config.tables["logging"] == {"format": "json"}
    assert config.origins[("jwt", "leeway")] == "SIOMW_JWT__LEEWAY"
    assert config.origins[("ratelimit", "limit")] == "SIOMW_RATELIMIT__LIMIT"
    assert ("logging", "format") not in config.origins


def test_code_overrides_win_over_env_and_file(tmp_path: Path) -> None:
    """Keyword arguments set in code win over the environment and the file."""
    path = write(tmp_path, "siomw.toml", SIOMW_TOML)
    config = load_config(path, environ={"SIOMW_CONNECT_TIMEOUT": "1"},
                         overrides={"connect_timeout": 0.5, "plugins": []})
    assert config.core.connect_timeout == 0.5
    assert config.core.plugins == []


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    """Invalid TOML is a ConfigError naming the file and the parser's complaint."""
    path = write(tmp_path, "siomw.toml", "connect_timeout = \n[jwt\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert str(path) in message and "not valid TOML" in message and "line 1" in message


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    """A config path that does not exist is a ConfigError naming it."""
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found"):
        load_config(path, environ={})


def test_unknown_top_level_key(tmp_path: Path) -> None:
    """A misspelt top-level key names the file, the key and the known keys."""
    path = write(tmp_path, "siomw.toml", "conect_timeout = 5\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert message.startswith(f"{path}: conect_timeout: unknown key")
    for known in ("connect_timeout", "disable_plugins", "order", "plugins", "strict"):
        assert known in message


@pytest.mark.parametrize(
    ("line", "key", "expected", "found"),
    [
        ('connect_timeout = "soon"', "connect_timeout", "valid number", "'soon' (str)"),
        ("connect_timeout = 0", "connect_timeout", "greater than 0", "0 (int)"),
        ('strict = "maybe"', "strict", "valid boolean", "'maybe' (str)"),
        ('plugins = "jwt"', "plugins", "valid list", "'jwt' (str)"),
        ("order = [1]", "order.0", "valid string", "1 (int)"),
    ],
)
def test_wrong_type_names_file_key_expected_found(
    tmp_path: Path, line: str, key: str, expected: str, found: str
) -> None:
    """An ill-typed top-level key names the file, the key, what was expected and found."""
    path = write(tmp_path, "siomw.toml", line + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: expected ")
    assert expected in message
    assert message.endswith(f"found {found}")


def test_wrong_type_from_env_names_the_variable(tmp_path: Path) -> None:
    """An ill-typed value from the environment names the variable instead of the file."""
    path = write(tmp_path, "siomw.toml", SIOMW_TOML)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={"SIOMW_CONNECT_TIMEOUT": "soon"})
    message = str(info.value)
    assert message.startswith("environment variable SIOMW_CONNECT_TIMEOUT: connect_timeout:")
    assert "'soon' (str)" in message


class JwtOptions(BaseModel):
    """A plugin schema like the bundled ones: extra keys forbidden."""

    model_config = ConfigDict(extra="forbid")
    leeway: float = 0
    algorithms: list[str]


def test_validate_table_names_file_table_key_expected_found(tmp_path: Path) -> None:
    """A plugin table error names the file, [table], key, expected and found, one per line."""
    path = write(tmp_path, "siomw.toml", '[jwt]\nleeway = "soon"\nleewai = 3\n')
    config = load_config(path, environ={})
    with pytest.raises(ConfigError) as info:
        validate_table(JwtOptions, config.table("jwt"), source=config.source, table="jwt",
                       origins=config.origins)
    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert any(line.startswith(f"{path}: [jwt] leeway: expected ")
               and line.endswith("found 'soon' (str)") for line in lines)
    assert f"{path}: [jwt] algorithms: expected a value; found nothing" in lines
    assert any(line.startswith(f"{path}: [jwt] leewai: unknown key; expected a known key")
               and "algorithms, leeway" in line for line in lines)


def test_validate_table_names_the_env_variable(tmp_path: Path) -> None:
    """A plugin key set from the environment is named by its variable in errors."""
    path = write(tmp_path, "siomw.toml", '[jwt]\nalgorithms = ["HS256"]\n')
    config = load_config(path, environ={"SIOMW_JWT__LEEWAY": "soon"})
    with pytest.raises(ConfigError) as info:
        validate_table(JwtOptions, config.table("jwt"), source=config.source, table="jwt",
                       origins=config.origins)
    assert str(info.value).startswith("environment variable SIOMW_JWT__LEEWAY: [jwt] leeway:")


def test_validate_table_returns_the_model(tmp_path: Path) -> None:
    """A valid table returns an instance of the schema with defaults filled in."""
    options = validate_table(JwtOptions, {"algorithms": ["HS256"]}, source="x", table="jwt")
    assert options == JwtOptions(leeway=0, algorithms=["HS256"])


def test_broken_pyproject_with_siomw_table_is_an_error(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A ./pyproject.toml that mentions [tool.siomw] but does not parse is reported, not
    silently replaced by the embedded defaults."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.siomw]\nplugins = ["logging"]\nv = 1.2.3\n')
    with pytest.raises(ConfigError, match=r"pyproject.toml: not valid TOML"):
        load_config(environ={})


def test_non_utf8_config_is_a_config_error(tmp_path: Path) -> None:
    """A config file that is not UTF-8 gives a one-line ConfigError, not a traceback."""
    path = tmp_path / "siomw.toml"
    path.write_bytes(b"\xff\xfeconnect_timeout = 3\n")
    with pytest.raises(ConfigError, match=r"siomw.toml: not valid TOML: not UTF-8"):
        load_config(path, environ={})


def test_boolean_timeout_and_env_origin_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """connect_timeout = true is not one second; an env allow-list error names the variable."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.toml"
    path.write_text("connect_timeout = true\n")
    with pytest.raises(ConfigError, match=r"connect_timeout: expected .*not a boolean"):
        load_config(path, environ={})
    config = load_config(environ={"SIOMW_PLUGINS": "jtw", "SIOMW_CONFIG": ""})
    assert config.where("plugins") == "environment variable SIOMW_PLUGINS"
    assert load_config(environ={}, overrides={"strict": True}).where("strict").startswith("code")
