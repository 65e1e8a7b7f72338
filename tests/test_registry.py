"""Plugin discovery and configuration (siomw_core.registry) with real installed distributions.

Each test writes real distributions (``<name>.dist-info`` with ``METADATA`` and
``entry_points.txt``, beside their modules) into a directory put on ``sys.path``:
``importlib.metadata`` discovers them exactly as it discovers pip-installed ones.
"""

from __future__ import annotations

import importlib.metadata as md
import logging
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio

from siomw_core import (
    Config,
    ConfigError,
    CoreSettings,
    Middleware,
    PluginLoadError,
    attach,
    hookimpl,
    load_config,
)
from siomw_core.config import validate_table
from siomw_core.registry import Registry
from siomw_core.testing import connect_result, serve

ROOT = Path(__file__).resolve().parent.parent

GOOD = """
from pydantic import BaseModel, ConfigDict
from siomw_core import Middleware, hookimpl


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: int = 1
    greeting: str = "hello"


async def good_mw(socket, call_next):
    socket.data["greeting"] = OPTIONS[0].greeting
    await call_next()


OPTIONS = []


@hookimpl
def siomw_config_schema():
    return Options


@hookimpl
def siomw_middlewares(config, settings):
    OPTIONS[:] = [config]
    return [Middleware(name="good_mw", func=good_mw, priority=config.level)]
"""

BAD_IMPORT = """
raise RuntimeError("boom at import")
"""

BAD_BUILD = """
from siomw_core import hookimpl


@hookimpl
def siomw_middlewares(config, settings):
    raise ValueError("boom at build")
"""

NO_SCHEMA = """
from siomw_core import Middleware, hookimpl


async def plain(socket, call_next):
    await call_next()


@hookimpl
def siomw_middlewares(config, settings):
    assert config is None
    return [Middleware(name="plain", func=plain)]
"""

UNKNOWN_HOOK = """
from siomw_core import hookimpl


@hookimpl
def siomw_no_such_hook():
    return None
"""

NOT_A_MIDDLEWARE = """
from siomw_core import hookimpl


@hookimpl
def siomw_middlewares(config, settings):
    return ["not a middleware"]
"""

ALL = ["badbuild", "badimport", "goodplug"]


class Site:
    """A directory on ``sys.path`` holding real (unpacked) distributions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.modules: list[str] = []
        self.plugins: list[str] = []

    def others(self) -> list[str]:
        """Plugins installed in the environment (the bundled ones, say), not by this site."""
        found = {ep.name for ep in md.entry_points(group="siomw")}
        return sorted(found - set(self.plugins))

    def discovered(self, **core: Any) -> Config:
        """A config that asks for no plugin by name: every plugin of this site is merely
        discovered (the environment's own plugins are blocked)."""
        blocked = [*self.others(), *core.pop("disable_plugins", [])]
        return Config(source="siomw.toml",
                      core=CoreSettings(disable_plugins=blocked, **core))

    def install(self, plugin: str, source: str, *, dist: str | None = None,
                version: str = "1.0.0") -> str:
        """Install distribution ``dist`` (default ``siomw-<plugin>``) whose entry point
        ``plugin`` in group ``siomw`` names a fresh module holding ``source``."""
        dist = dist or f"siomw-{plugin}"
        module = f"siomw_test_{plugin}_{uuid.uuid4().hex[:8]}"
        (self.path / f"{module}.py").write_text(textwrap.dedent(source))
        info = self.path / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
        )
        (info / "entry_points.txt").write_text(f"[siomw]\n{plugin} = {module}\n")
        self.modules.append(module)
        self.plugins.append(plugin)
        return module


@pytest.fixture(autouse=True)
def _no_siomw_toml_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty directory, so no ./siomw.toml is picked up by load_config."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """An empty site directory on sys.path (removed, with its modules, afterwards)."""
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    made = Site(path)
    yield made
    for module in made.modules:
        sys.modules.pop(module, None)


@pytest.fixture
def three(site: Site) -> Site:
    """One good plugin, one that fails to import, one whose siomw_middlewares raises."""
    site.install("goodplug", GOOD, dist="siomw-good", version="1.2.3")
    site.install("badimport", BAD_IMPORT)
    site.install("badbuild", BAD_BUILD)
    return site


def config(**core: object) -> Config:
    return Config(source="siomw.toml", core=CoreSettings(**core))  # type: ignore[arg-type]


def test_good_plugin_loads_and_broken_ones_are_recorded_and_skipped(
    three: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """A merely discovered plugin failing at import or at build is recorded (name,
    distribution, error) and skipped with an error log; the good one loads and contributes
    its middlewares."""
    with caplog.at_level(logging.ERROR, logger="siomw"):
        registry = Registry(three.discovered())
    records = {r.name: r for r in registry.plugins() if r.name in ALL}

    good = records["goodplug"]
    assert good.enabled and good.error is None
    assert (good.distribution, good.version) == ("siomw-good", "1.2.3")
    assert [(m.name, m.priority, m.plugin) for m in good.middlewares] == [
        ("good_mw", 1, "goodplug"),
    ]

    bad_import = records["badimport"]
    assert not bad_import.enabled
    assert bad_import.distribution == "siomw-badimport"
    assert bad_import.error == "RuntimeError: boom at import"

    bad_build = records["badbuild"]
    assert not bad_build.enabled and bad_build.middlewares == []
    assert bad_build.error == "ValueError: boom at build"

    assert [m.name for m in registry.middlewares("connect")] == ["good_mw"]
    assert registry.middlewares("event") == []
    messages = [r.getMessage() for r in caplog.records if r.name == "siomw"]
    assert any("'badimport'" in m and "siomw-badimport" in m and "boom at import" in m
               for m in messages)
    assert any("'badbuild'" in m and "siomw-badbuild" in m and "boom at build" in m
               for m in messages)
    assert good.as_dict() == {
        "name": "goodplug", "distribution": "siomw-good", "version": "1.2.3",
        # no siomw_contract hook: held to the first contract's range, shown as undeclared
        "enabled": True, "status": "enabled", "contract": ">=1,<2",
        "contract_declared": False, "error": None,
        "middlewares": [{"name": "good_mw", "level": "connect", "priority": 1}],
    }


def test_strict_import_failure_raises_naming_the_plugin(three: Site) -> None:
    """In strict mode a plugin that fails to import stops startup, naming it and its dist."""
    with pytest.raises(PluginLoadError) as info:
        Registry(three.discovered(strict=True))
    message = str(info.value)
    assert "'badimport'" in message and "siomw-badimport" in message
    assert "boom at import" in message


def test_strict_build_failure_raises_naming_the_plugin(three: Site) -> None:
    """In strict mode a plugin whose siomw_middlewares raises stops startup, naming it."""
    with pytest.raises(PluginLoadError) as info:
        Registry(three.discovered(disable_plugins=["badimport"], strict=True))
    message = str(info.value)
    assert "'badbuild'" in message and "failed to build its middlewares" in message
    assert "boom at build" in message


def test_plugin_with_unknown_hook_is_a_load_failure(site: Site) -> None:
    """A plugin implementing a hook siomw does not define fails to load (skipped)."""
    site.install("oddhook", UNKNOWN_HOOK)
    registry = Registry(site.discovered())
    record = next(r for r in registry.plugins() if r.name == "oddhook")
    assert not record.enabled
    assert record.error is not None and "siomw_no_such_hook" in record.error
    assert not registry.pm.has_plugin("oddhook")


def test_plugin_returning_a_non_middleware_is_a_build_failure(site: Site) -> None:
    """siomw_middlewares returning something else than Middleware specs marks it failed."""
    site.install("notmw", NOT_A_MIDDLEWARE)
    registry = Registry(site.discovered())
    record = next(r for r in registry.plugins() if r.name == "notmw")
    assert not record.enabled
    assert record.error is not None and record.error.startswith("TypeError")


@pytest.mark.parametrize("plugin", ["badimport", "badbuild"])
def test_plugin_asked_for_in_the_allow_list_fails_closed(three: Site, plugin: str) -> None:
    """A broken plugin named in the allow-list stops startup even when not strict: a
    configured plugin never silently drops out."""
    with pytest.raises(PluginLoadError, match=f"'{plugin}'"):
        Registry(config(plugins=["goodplug", plugin]))


def test_plugin_configured_by_a_table_fails_closed(three: Site) -> None:
    """A broken plugin that has a config table of its own stops startup when not strict."""
    broken = Config(source="siomw.toml", core=CoreSettings(disable_plugins=three.others()),
                    tables={"badbuild": {}})
    with pytest.raises(PluginLoadError, match=r"'badbuild'.*boom at build"):
        Registry(broken)


def test_allow_list_from_config(three: Site) -> None:
    """Only plugins on the allow-list load; the others are recorded as not allowed."""
    registry = Registry(config(plugins=["goodplug"]))
    records = {r.name: r for r in registry.plugins()}
    assert records["goodplug"].enabled
    for name in ("badimport", "badbuild"):
        assert not records[name].enabled
        assert "allow-list" in (records[name].error or "")
    assert [m.name for m in registry.middlewares()] == ["good_mw"]


def test_allow_list_from_env(three: Site) -> None:
    """SIOMW_PLUGINS selects plugins by name."""
    loaded = load_config(environ={"SIOMW_PLUGINS": "goodplug", "SIOMW_CONFIG": ""})
    registry = Registry(loaded)
    enabled = {r.name for r in registry.plugins() if r.enabled}
    assert enabled == {"goodplug"}


def test_empty_allow_list_from_env_loads_nothing(three: Site) -> None:
    """SIOMW_PLUGINS="" means no plugin at all."""
    loaded = load_config(environ={"SIOMW_PLUGINS": "", "SIOMW_CONFIG": ""})
    registry = Registry(loaded)
    assert not any(r.enabled for r in registry.plugins())
    assert {"goodplug", "badimport", "badbuild"} <= {r.name for r in registry.plugins()}


def test_block_list_from_config_and_env(three: Site) -> None:
    """A blocked plugin is not loaded (its import never runs) and is recorded as blocked."""
    loaded = load_config(environ={
        "SIOMW_PLUGINS": "goodplug,badimport",
        "SIOMW_DISABLE_PLUGINS": "badimport",
        "SIOMW_CONFIG": "",
    })
    registry = Registry(loaded)
    records = {r.name: r for r in registry.plugins()}
    assert records["goodplug"].enabled
    assert not records["badimport"].enabled
    assert "blocked" in (records["badimport"].error or "")
    by_code = Registry(config(plugins=ALL, disable_plugins=["badimport", "badbuild"]))
    assert {r.name for r in by_code.plugins() if r.enabled} == {"goodplug"}


def test_blocked_plugin_strict_is_not_an_error(three: Site) -> None:
    """Blocking a broken plugin keeps a strict startup going."""
    registry = Registry(config(plugins=ALL, disable_plugins=["badimport", "badbuild"],
                               strict=True))
    assert {r.name for r in registry.plugins() if r.enabled} == {"goodplug"}


def test_in_code_plugins_obey_the_lists(three: Site) -> None:
    """Plugins passed in code obey the allow/block lists like entry points."""
    import types

    async def func(socket: object, call_next: object) -> None:
        return None

    module = types.SimpleNamespace(
        siomw_middlewares=hookimpl(lambda config, settings: [Middleware("incode_mw", func)])
    )
    blocked = Registry(config(plugins=["goodplug", "incode"], disable_plugins=["incode"]),
                       local_plugins=[("incode", module)])
    assert {r.name for r in blocked.plugins() if r.enabled} == {"goodplug"}
    allowed = Registry(config(plugins=["incode"]), local_plugins=[("incode", module)])
    assert [m.name for m in allowed.middlewares()] == ["incode_mw"]
    assert allowed.middlewares()[0].plugin == "incode"


def test_plugin_table_is_validated_against_its_schema(three: Site, tmp_path: Path) -> None:
    """The plugin's table is validated by its schema; the options reach siomw_middlewares."""
    path = tmp_path / "siomw.toml"
    path.write_text('plugins = ["goodplug"]\n[goodplug]\nlevel = 7\ngreeting = "hey"\n')
    registry = Registry(load_config(path, environ={}))
    record = next(r for r in registry.plugins() if r.name == "goodplug")
    assert record.options.level == 7 and record.options.greeting == "hey"
    assert record.middlewares[0].priority == 7


def test_plugin_table_error_names_file_table_key(three: Site, tmp_path: Path) -> None:
    """A bad plugin table is a ConfigError naming the file, the table, the key, expected
    and found."""
    path = tmp_path / "siomw.toml"
    path.write_text('plugins = ["goodplug"]\n[goodplug]\nlevel = "high"\ngreting = "x"\n')
    with pytest.raises(ConfigError) as info:
        Registry(load_config(path, environ={}))
    message = str(info.value)
    assert f"{path}: [goodplug] level: expected " in message
    assert "found 'high' (str)" in message
    assert f"{path}: [goodplug] greting: unknown key" in message


def test_plugin_table_error_from_env_names_the_variable(three: Site) -> None:
    """A bad plugin key from the environment names the variable."""
    loaded = load_config(environ={"SIOMW_PLUGINS": "goodplug", "SIOMW_GOODPLUG__LEVEL": "high",
                                  "SIOMW_CONFIG": ""})
    with pytest.raises(ConfigError, match="environment variable SIOMW_GOODPLUG__LEVEL: "
                                          r"\[goodplug\] level"):
        Registry(loaded)


def test_table_naming_no_installed_plugin_is_an_error(three: Site, tmp_path: Path) -> None:
    """A config table for a plugin that is not installed is a ConfigError naming it."""
    path = tmp_path / "siomw.toml"
    path.write_text("[goodplugg]\nlevel = 1\n")
    with pytest.raises(ConfigError) as info:
        Registry(load_config(path, environ={}))
    message = str(info.value)
    assert message.startswith(f"{path}: [goodplugg]: no installed plugin is named 'goodplugg'")
    assert "goodplug" in message.split("expected one of:")[1]


def test_table_for_a_plugin_without_schema_is_an_error(site: Site) -> None:
    """A table given to a plugin that declares no options is a ConfigError."""
    site.install("noschema", NO_SCHEMA)
    ok = Registry(config(plugins=["noschema"]))
    assert [m.name for m in ok.middlewares()] == ["plain"]
    bad = Config(source="siomw.toml", core=CoreSettings(plugins=["noschema"]),
                 tables={"noschema": {"x": 1}})
    with pytest.raises(ConfigError, match=r"siomw.toml: \[noschema\]: .*takes no options"):
        Registry(bad)


def test_entry_points_off_ignores_installed_plugins(three: Site) -> None:
    """entry_points=False discovers nothing."""
    registry = Registry(config(), entry_points=False)
    assert list(registry.plugins()) == []


async def test_discovered_plugin_runs_in_a_real_server(three: Site) -> None:
    """A discovered plugin's middleware runs on a real connection; its data reaches the
    python-socketio session."""
    sio = socketio.AsyncServer(async_mode="asgi")
    seen: dict[str, object] = {}

    @sio.event
    async def connect(sid: str, environ: dict[str, object], auth: object) -> None:
        seen.update(await sio.get_session(sid))

    mw = attach(sio, config=Config(source="test", core=CoreSettings(plugins=["goodplug"]),
                                   tables={"goodplug": {"greeting": "from toml"}}))
    assert [p.middleware.name for p in mw.placed("connect", "/")] == ["good_mw"]
    async with serve(socketio.ASGIApp(sio)) as url:
        outcome, data, client = await connect_result(url, transports=["websocket"])
        assert (outcome, data) == ("connect", None)
        await client.disconnect()
    assert seen == {"greeting": "from toml"}


# --- every problem at once, each named by its real origin --------------------------------

SIOMW = str(Path(sys.executable).parent / "siomw")
#: the plugins installed here, as errors list them (the bundled ones: scripts/setup.sh)
INSTALLED = ", ".join(sorted(ep.name for ep in md.entry_points(group="siomw")))
MANY_PROBLEMS = 'conect_timeout = 5\n[ratelimit]\nconect = "1/second"\n[jwt]\nleeway = "soon"\n'

NO_SECRET = ("[jwt]: secret_env: environment variable 'SIOMW_JWT_SECRET' is not set; expected "
             "the HMAC secret for HS256")


def ratelimit_keys() -> str:
    from siomw_ratelimit.options import RateLimitOptions

    return ", ".join(sorted(RateLimitOptions.model_fields))


def many_problems(where: str) -> list[str]:
    """The lines of MANY_PROBLEMS written at ``where`` plus SIOMW_JTW__LEEWAY=1, without
    SIOMW_JWT_SECRET: the [jwt] table is wrong, and the plugin built with what validated
    reports its unset secret too."""
    return [
        f"{where}: conect_timeout: unknown key; expected a known key (connect_timeout, "
        "disable_plugins, event_error_event, event_timeout, forwarded_headers, order, "
        "plugins, strict, trusted_proxies) or a plugin's table ([conect_timeout]); found 5 "
        "(int)",
        f"environment variable SIOMW_JTW__LEEWAY: [jtw]: no installed plugin is named 'jtw'; "
        f"expected one of: {INSTALLED}",
        f"{where}: [jwt] leeway: expected Input should be a valid number, unable to parse "
        "string as a number; found 'soon' (str)",
        f"{where}: [ratelimit] conect: unknown key; expected a known key ({ratelimit_keys()})",
        f"{where}: {NO_SECRET}",
    ]


def siomw(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the ``siomw`` command as a user does, with ``env`` on a clean SIOMW_ slate."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("SIOMW_")}
    full.update(env)
    return subprocess.run([SIOMW, *args], cwd=cwd, env=full, capture_output=True, text=True,
                          timeout=60, check=False)


def test_every_problem_of_every_table_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A misspelt core key does not hide a bad [jwt] value, a misspelt [ratelimit] key nor
    a table (from the environment) naming no plugin: one ConfigError, one line each."""
    monkeypatch.delenv("SIOMW_JWT_SECRET", raising=False)
    path = tmp_path / "siomw.toml"
    path.write_text(MANY_PROBLEMS)
    loaded = load_config(path, environ={"SIOMW_JTW__LEEWAY": "1"}, check=False)
    with pytest.raises(ConfigError) as info:
        Registry(loaded)
    assert str(info.value).splitlines() == many_problems(str(path))
    with pytest.raises(ConfigError) as info:  # siomw plugins' mode: the same lines
        Registry(loaded, diagnose=True)
    assert str(info.value).splitlines() == many_problems(str(path))


STRICT_ISSUER_LEEWAY = 'strict = "yes"\n[jwt]\nleeway = -5\nissuer = 2024\n'


@pytest.mark.parametrize("args", [("chain",), ("plugins",), ("serve", "--port", "0")])
def test_cli_reports_the_build_problem_of_a_wrong_table(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """strict = "yes", [jwt] leeway = -5, issuer = 2024 and SIOMW_JWT_SECRET unset: four
    problems, one line each, the unset secret (found only by building the plugin) among
    them; issuer, typed a string or a list of strings, is one line naming what it takes."""
    (tmp_path / "f.toml").write_text(STRICT_ISSUER_LEEWAY)
    result = siomw("--config", "f.toml", *args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: f.toml: strict: expected Input should be a valid boolean; found 'yes' (str)",
        "f.toml: [jwt] issuer: expected a string or a list of strings; found 2024 (int)",
        "f.toml: [jwt] leeway: expected Input should be greater than or equal to 0; found -5 "
        "(int)",
        f"f.toml: {NO_SECRET}",
    ]


def test_tables_that_validate_are_built_when_another_is_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong [ratelimit] key does not hide the jwt plugin's unset secret: its table
    validates, it is built, and its build error is reported with the rest (nothing
    served)."""
    monkeypatch.delenv("SIOMW_JWT_SECRET", raising=False)
    path = tmp_path / "siomw.toml"
    path.write_text('[ratelimit]\nconect = "1/second"\n')
    with pytest.raises(ConfigError) as info:
        Registry(load_config(path, environ={}, check=False))
    assert str(info.value).splitlines() == [
        f"{path}: [ratelimit] conect: unknown key; expected a known key ({ratelimit_keys()})",
        f"{path}: {NO_SECRET}",
    ]


@pytest.mark.parametrize(("table", "line"), [
    ({"issuer": 2024}, "[jwt] issuer: expected a string or a list of strings; found 2024 (int)"),
    ({"audience": [1]}, "[jwt] audience: expected a string or a list of strings; found [1] "
                        "(list)"),
    ({"reauth_event": 3}, "[jwt] reauth_event: expected an event name (not empty, not "
                          "connect, connect_error or disconnect) or false; found 3 (int)"),
])
def test_a_union_typed_key_is_one_line(table: dict[str, Any], line: str) -> None:
    """pydantic reports one error per type of a union (issuer.str, issuer.list[str]): the
    line names the key once and every type it takes, with the value as found."""
    from siomw_jwt import JwtOptions

    with pytest.raises(ConfigError) as info:
        validate_table(JwtOptions, table, source="siomw.toml", table="jwt")
    assert str(info.value).splitlines() == [f"siomw.toml: {line}"]


@pytest.mark.parametrize("args", [("chain",), ("plugins",), ("serve", "--port", "0")])
def test_cli_reports_every_problem_at_once(tmp_path: Path, args: tuple[str, ...]) -> None:
    """`siomw --config f.toml chain` (and plugins, serve) print every problem, exit 1."""
    (tmp_path / "f.toml").write_text(MANY_PROBLEMS)
    result = siomw("--config", "f.toml", *args, cwd=tmp_path, SIOMW_JTW__LEEWAY="1")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == ["Error: " + many_problems("f.toml")[0], *many_problems("f.toml")[1:]]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SIOMW_PLUGINS": "jtw"},
         "environment variable SIOMW_PLUGINS: plugins: no installed plugin is named 'jtw'; "
         f"expected one of: {INSTALLED}"),
        ({"SIOMW_DISABLE_PLUGINS": "logging,ratelimitt", "SIOMW_JWT_SECRET": "x" * 32},
         "environment variable SIOMW_DISABLE_PLUGINS: disable_plugins: no installed plugin is "
         f"named 'ratelimitt'; expected one of: {INSTALLED}"),
        ({"SIOMW_JWT__SECRET_ENV": "SIOMW_TEST_NO_SUCH_SECRET"},
         "environment variable SIOMW_JWT__SECRET_ENV: [jwt]: secret_env: environment variable "
         "'SIOMW_TEST_NO_SUCH_SECRET' is not set; expected the HMAC secret for HS256"),
        ({"SIOMW_JWT__LEEWAY": "soon", "SIOMW_JWT_SECRET": "x" * 32},
         "environment variable SIOMW_JWT__LEEWAY: [jwt] leeway: expected Input should be a "
         "valid number, unable to parse string as a number; found 'soon' (str)"),
        ({"SIOMW_STRICT": "maybe", "SIOMW_JWT_SECRET": "x" * 32},
         "environment variable SIOMW_STRICT: strict: expected Input should be a valid boolean; "
         "found 'maybe' (str)"),
    ],
    ids=["allow-list", "block-list", "plugin-build", "plugin-key", "core-key"],
)
def test_demo_errors_name_the_environment_variable(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    """`siomw chain` of the demo (its config rebuilt with the demo's tables) still names the
    variable a bad value came from, not <embedded defaults>."""
    result = siomw("chain", cwd=tmp_path, **env)
    assert (result.returncode, result.stderr.strip()) == (1, f"Error: {message}")


def test_demo_keys_are_named_as_the_demo_s(tmp_path: Path) -> None:
    """The demo's own additions keep every origin of the loaded config and are named as
    the demo's; the config passed in is not changed."""
    from siomw_core.demo import DEMO_ORIGIN, demo_config

    loaded = load_config(environ={"SIOMW_PLUGINS": "jwt,ratelimit",
                                  "SIOMW_RATELIMIT__CONNECT": "5/minute"})
    demo = demo_config(loaded)
    assert demo.where("plugins") == "environment variable SIOMW_PLUGINS"
    assert demo.origins[("jwt", "namespaces")] == DEMO_ORIGIN
    assert demo.table("ratelimit") == {"connect": "5/minute"}  # the variable wins
    assert demo.origins[("ratelimit", "connect")] == (
        "environment variable SIOMW_RATELIMIT__CONNECT")
    assert "jwt" not in loaded.tables


def test_use_given_a_middleware_spec_says_to_add_it() -> None:
    """``mw.engine.use(asgi_middleware(...))`` is one clear TypeError pointing at
    ``mw.add`` (not "func is not callable"), and adds nothing."""
    from siomw_core import Config, CoreSettings, asgi_middleware, attach

    class App:
        def __init__(self, app: Any) -> None:
            self.app = app

    sio = socketio.AsyncServer(async_mode="asgi")
    mw = attach(sio, config=Config(source="test", core=CoreSettings()), entry_points=False)
    with pytest.raises(TypeError, match=r"^use\(\) takes a middleware function; 'App' is a "
                                        r"Middleware spec already: add it with mw.add\(spec\)$"):
        mw.engine.use(asgi_middleware(App))  # type: ignore[call-overload]
    assert not mw.engine_chain()


def test_use_and_add_name_what_they_take() -> None:
    """A class given to use() (Starlette's middleware, say), an aiohttp @web.middleware
    function, and something that is not a spec given to mw.add() are one clear TypeError
    each, pointing at the right call; nothing is added."""
    from aiohttp import web

    from siomw_core import Config, CoreSettings, attach

    class SessionLike:
        def __init__(self, app: Any) -> None:
            self.app = app

    @web.middleware
    async def aio_mw(request: Any, handler: Any) -> Any:
        return await handler(request)

    async def member(request: Any, call_next: Any) -> None:
        await call_next()

    sio = socketio.AsyncServer(async_mode="asgi")
    mw = attach(sio, config=Config(source="test", core=CoreSettings()), entry_points=False)
    with pytest.raises(TypeError, match=r"'SessionLike' is a class: a framework middleware "
                                        r"class joins the engine chain with "
                                        r"mw.add\(asgi_middleware\(SessionLike, \.\.\.\)\)"):
        mw.engine.use(SessionLike)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'aio_mw' is an aiohttp middleware "
                                        r"\(@web.middleware, called with a handler\): add it "
                                        r"with mw.add\(aiohttp_middleware\(aio_mw\)\)"):
        mw.engine.use(aio_mw)
    with pytest.raises(TypeError, match=r"^mw.add\(\) takes a Middleware spec .*a middleware "
                                        r"function goes to mw.use, mw.engine.use or "
                                        r"mw.event.use$"):
        mw.add(member)  # type: ignore[arg-type]
    assert not mw.engine_chain()
