"""Configuration loading (siomw_core.config): files, environment overrides, error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from siomw_core import ConfigError, CoreSettings, load_config
from siomw_core.config import EnvText, validate_table

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


def test_plugin_keys_from_env_are_kept_as_text_with_their_variable(tmp_path: Path) -> None:
    """SIOMW_<PLUGIN>__<KEY> sets a table key, kept as the variable's text until the
    plugin's schema says its type; the origin is the variable."""
    path = write(tmp_path, "siomw.toml", SIOMW_TOML)
    config = load_config(path, environ={
        "SIOMW_JWT__LEEWAY": "5",
        "SIOMW_RATELIMIT__LIMIT": "10/minute",
    })
    assert config.tables["jwt"] == {"leeway": "5", "algorithms": ["HS256"]}
    assert isinstance(config.tables["jwt"]["leeway"], EnvText)
    assert config.tables["ratelimit"] == {"limit": "10/minute"}
    assert config.tables["logging"] == {"format": "json"}
    assert config.origins[("jwt", "leeway")] == "environment variable SIOMW_JWT__LEEWAY"
    assert config.origins[("ratelimit", "limit")] == "environment variable SIOMW_RATELIMIT__LIMIT"
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


# --- item: environment values take the type of the key they set -------------------------

def _env_table(schema: type[BaseModel], table: str, environ: dict[str, str]) -> BaseModel:
    config = load_config(environ={"SIOMW_CONFIG": "", **environ})
    return validate_table(schema, config.table(table), source=config.source, table=table,
                          origins=config.origins)


def test_env_values_of_every_bundled_plugin_take_the_key_type() -> None:
    """String keys take the text as it is (a numeric issuer stays a string), numbers parse,
    booleans take true/false/1/0/yes/no/on/off, lists and tables are JSON, for the real
    schemas of every bundled plugin."""
    from siomw_headers.options import HeadersOptions
    from siomw_jwt import JwtOptions
    from siomw_logging import LoggingOptions
    from siomw_ratelimit.options import RateLimitOptions

    jwt = _env_table(JwtOptions, "jwt", {
        "SIOMW_JWT__ISSUER": "2024", "SIOMW_JWT__AUDIENCE": '["a", "b"]',
        "SIOMW_JWT__LEEWAY": "5", "SIOMW_JWT__MAX_TOKEN_BYTES": "100",
        "SIOMW_JWT__HANDSHAKE": "yes", "SIOMW_JWT__ALGORITHMS": '["HS384"]',
        "SIOMW_JWT__SECRET_ENV": "1234", "SIOMW_JWT__QUERY_PARAM": "true",
        "SIOMW_JWT__NAMESPACES": '{"/admin": {"scopes": ["admin"], "anonymous": false}}',
    })
    assert isinstance(jwt, JwtOptions)
    assert (jwt.issuer, jwt.audience, jwt.leeway, jwt.max_token_bytes) == (
        "2024", ["a", "b"], 5.0, 100)
    assert (jwt.handshake, jwt.algorithms, jwt.secret_env, jwt.query_param) == (
        True, ["HS384"], "1234", "true")
    assert jwt.namespaces["/admin"].scopes == ["admin"]

    logging_ = _env_table(LoggingOptions, "logging", {
        "SIOMW_LOGGING__FORMAT": "console", "SIOMW_LOGGING__ACCESS_LOG": "0",
        "SIOMW_LOGGING__REDACT_PARAMS": '["room"]', "SIOMW_LOGGING__LOGGER_NAME": "007",
    })
    assert isinstance(logging_, LoggingOptions)
    assert (logging_.format, logging_.access_log, logging_.redact_params,
            logging_.logger_name) == ("console", False, ["room"], "007")

    ratelimit = _env_table(RateLimitOptions, "ratelimit", {
        "SIOMW_RATELIMIT__CONNECT": "10/minute", "SIOMW_RATELIMIT__PER_NAMESPACE": "On",
        "SIOMW_RATELIMIT__STORAGE_TIMEOUT": "0.5", "SIOMW_RATELIMIT__KEY_PREFIX": "42",
        "SIOMW_RATELIMIT__HEADERS": "FALSE",
    })
    assert isinstance(ratelimit, RateLimitOptions)
    assert (ratelimit.connect, ratelimit.per_namespace, ratelimit.storage_timeout,
            ratelimit.key_prefix, ratelimit.headers) == ("10/minute", True, 0.5, "42", False)

    headers = _env_table(HeadersOptions, "headers", {
        "SIOMW_HEADERS__X_FRAME_OPTIONS": "false", "SIOMW_HEADERS__X_DNS_PREFETCH_CONTROL": "on",
        "SIOMW_HEADERS__EXTRA": '{"X-Team": "7"}',
    })
    assert isinstance(headers, HeadersOptions)
    assert (headers.x_frame_options, headers.x_dns_prefetch_control, headers.extra) == (
        "", "on", {"X-Team": "7"})


def test_env_text_for_a_string_key_is_never_json_decoded() -> None:
    """A string key takes the text as it is, quotes included: a quoted value is not a JSON
    string to decode; a key that takes a string or a list decodes only a JSON list; a
    string-only key takes even a JSON list's text as it is."""
    from siomw_jwt import JwtOptions
    from siomw_ratelimit.options import RateLimitOptions

    jwt = _env_table(JwtOptions, "jwt", {
        "SIOMW_JWT__ISSUER": '"x"', "SIOMW_JWT__AUDIENCE": '"aud"',
        "SIOMW_JWT__PUBLIC_KEY_FILE": '["k.pem"]',
    })
    assert isinstance(jwt, JwtOptions)
    assert (jwt.issuer, jwt.audience, jwt.public_key_file) == (
        '"x"', '"aud"', '["k.pem"]')
    listed = _env_table(JwtOptions, "jwt", {"SIOMW_JWT__ISSUER": '["x", "y"]'})
    assert isinstance(listed, JwtOptions) and listed.issuer == ["x", "y"]
    limit = _env_table(RateLimitOptions, "ratelimit", {"SIOMW_RATELIMIT__KEY_PREFIX": '"p"'})
    assert isinstance(limit, RateLimitOptions) and limit.key_prefix == '"p"'


def test_core_keys_from_env_take_the_key_type() -> None:
    """SIOMW_CONNECT_TIMEOUT is a number, SIOMW_STRICT a boolean in any usual spelling,
    SIOMW_ORDER and the lists comma-separated or JSON."""
    config = load_config(environ={
        "SIOMW_CONFIG": "", "SIOMW_CONNECT_TIMEOUT": "3", "SIOMW_STRICT": "Yes",
        "SIOMW_ORDER": "logging, jwt", "SIOMW_PLUGINS": '["jwt", "logging"]',
    })
    assert (config.core.connect_timeout, config.core.strict) == (3.0, True)
    assert config.core.order == ["logging", "jwt"]
    assert config.core.plugins == ["jwt", "logging"]
    assert load_config(environ={"SIOMW_CONFIG": "", "SIOMW_STRICT": "0"}).core.strict is False


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SIOMW_STRICT": "maybe"},
         "environment variable SIOMW_STRICT: strict: expected Input should be a valid "
         "boolean; found 'maybe' (str)"),
        ({"SIOMW_CONNECT_TIMEOUT": "-1"},
         "environment variable SIOMW_CONNECT_TIMEOUT: connect_timeout: expected Input should "
         "be greater than 0; found -1 (int)"),
    ],
)
def test_bad_core_values_from_env_name_the_variable(environ: dict[str, str],
                                                    message: str) -> None:
    """A wrong value from the environment is one line naming the variable, with the text."""
    with pytest.raises(ConfigError) as info:
        load_config(environ={"SIOMW_CONFIG": "", **environ})
    assert str(info.value) == message


def test_bad_plugin_values_from_env_name_the_variable() -> None:
    """A wrong value for a typed key names the variable and shows the text as found."""
    from siomw_jwt import JwtOptions

    with pytest.raises(ConfigError) as info:
        _env_table(JwtOptions, "jwt", {"SIOMW_JWT__HANDSHAKE": "sometimes",
                                       "SIOMW_JWT__ALGORITHMS": "HS256"})
    assert str(info.value).splitlines() == [
        "environment variable SIOMW_JWT__ALGORITHMS: [jwt] algorithms: expected Input should "
        "be a valid list; found 'HS256' (str)",
        "environment variable SIOMW_JWT__HANDSHAKE: [jwt] handshake: expected Input should be "
        "a valid boolean; found 'sometimes' (str)",
    ]


# --- item: keyword overrides are validated and never change what was passed --------------

def test_keyword_overrides_are_validated_and_never_mutate_the_config() -> None:
    """Siomw(sio, config=cfg, connect_timeout=-1) is refused naming the keyword; a valid
    keyword applies to the stack only; cfg is the same before and after."""
    import socketio

    from siomw_core import Siomw

    cfg = load_config(environ={"SIOMW_CONFIG": ""}, overrides={"plugins": []})
    before = cfg.core
    with pytest.raises(ConfigError) as info:
        Siomw(socketio.AsyncServer(async_mode="asgi"), config=cfg, entry_points=False,
              connect_timeout=-1)
    assert str(info.value) == ("code (attach / Siomw keyword): connect_timeout: expected Input "
                               "should be greater than 0; found -1 (int)")
    with pytest.raises(ConfigError) as info:
        Siomw(socketio.AsyncServer(async_mode="asgi"), config=cfg, entry_points=False,
              conect_timeout=2, strict="yes")
    assert str(info.value).splitlines() == [
        "code (attach / Siomw keyword): strict: expected Input should be a valid boolean; "
        "found 'yes' (str)",
        "code (attach / Siomw keyword): conect_timeout: unknown key; expected a known key "
        "(connect_timeout, disable_plugins, event_error_event, event_timeout, forwarded_headers, "
        "order, plugins, strict, trusted_proxies)",
    ]
    stack = Siomw(socketio.AsyncServer(async_mode="asgi"), config=cfg, entry_points=False,
                  connect_timeout=2)
    assert stack.config.core.connect_timeout == 2
    assert stack.config.where("connect_timeout") == "code (attach / Siomw keyword)"
    assert cfg.core is before and cfg.core.connect_timeout == 10
    assert "connect_timeout" not in cfg.core_origins


def test_load_config_reports_every_core_problem_at_once(tmp_path: Path) -> None:
    """Two misspelt core keys and a wrong value from the environment: three lines."""
    path = write(tmp_path, "siomw.toml", 'conect_timeout = 5\nstrikt = true\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={"SIOMW_CONNECT_TIMEOUT": "soon"})
    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert lines[0] == ("environment variable SIOMW_CONNECT_TIMEOUT: connect_timeout: expected "
                        "Input should be a valid number, unable to parse string as a number; "
                        "found 'soon' (str)")
    assert lines[1].startswith(f"{path}: conect_timeout: unknown key; expected a known key (")
    assert lines[2].startswith(f"{path}: strikt: unknown key; expected a known key (")
    deferred = load_config(path, environ={}, check=False)
    assert len(deferred.problems) == 2 and deferred.core == CoreSettings()
