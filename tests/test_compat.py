"""The plugin contract's version and the range each plugin declares (siomw_core.contract).

Plugins here are real distributions: ``<dist>.dist-info`` directories (``METADATA`` and
``entry_points.txt``) beside their modules in a directory on ``sys.path`` (or
``PYTHONPATH`` for a ``siomw`` subprocess), which ``importlib.metadata`` discovers exactly
as it discovers pip-installed ones; one test installs a built distribution with pip into a
throwaway virtual environment.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import logging
import os
import subprocess
import sys
import textwrap
import tomllib
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import siomw_core
from siomw_core import CONTRACT_VERSION, Config, CoreSettings, PluginLoadError
from siomw_core.contract import LEGACY_RANGE, ContractError, parse_range, supports
from siomw_core.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
SIOMW = str(Path(sys.executable).parent / "siomw")
CORE = siomw_core.__version__

DECLARES = """
from siomw_core import Middleware, hookimpl


async def member(socket, call_next):
    await call_next()


@hookimpl
def siomw_contract():
    return {contract!r}


@hookimpl
def siomw_middlewares():
    return [Middleware(name="{name}-mw", func=member)]
"""

#: a plugin for a future contract: it also implements a hook this core does not know
FUTURE = DECLARES + """

@hookimpl
def siomw_hook_of_contract_two():
    return None
"""

UNDECLARED = """
from siomw_core import Middleware, hookimpl


async def member(socket, call_next):
    await call_next()


@hookimpl
def siomw_middlewares():
    return [Middleware(name="quiet-mw", func=member)]
"""


class Site:
    """A directory of real (unpacked) distributions, put on ``sys.path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.modules: list[str] = []
        self.plugins: list[str] = []

    def install(self, plugin: str, source: str, *, version: str = "0.3.0") -> None:
        """Distribution ``siomw-<plugin>`` ``version`` with entry point ``plugin``."""
        module = f"siomw_compat_{plugin}_{uuid.uuid4().hex[:8]}"
        (self.path / f"{module}.py").write_text(textwrap.dedent(source))
        info = self.path / f"siomw_{plugin}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: siomw-{plugin}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[siomw]\n{plugin} = {module}\n")
        self.modules.append(module)
        self.plugins.append(plugin)

    def config(self, *, plugins: list[str] | None = None, strict: bool = False) -> Config:
        """Only this site's plugins (the environment's are blocked), merely discovered
        unless ``plugins`` names some."""
        import importlib.metadata as md

        others = sorted({ep.name for ep in md.entry_points(group="siomw")} - set(self.plugins))
        return Config(source="siomw.toml", core=CoreSettings(
            disable_plugins=others, plugins=plugins, strict=strict))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    monkeypatch.chdir(tmp_path)
    made = Site(path)
    yield made
    for module in made.modules:
        sys.modules.pop(module, None)


def refusal(plugin: str, contract: str, version: str = "0.3.0") -> str:
    return (f"plugin {plugin!r} (distribution siomw-{plugin} {version}) supports plugin "
            f"contract {contract!r}, but siomw-core {CORE} implements contract "
            f"{CONTRACT_VERSION}: refused (install a release of it made for contract "
            f"{CONTRACT_VERSION})")


# --- the version and the ranges --------------------------------------------------------

def test_contract_version_is_major_minor_and_exported() -> None:
    assert siomw_core.CONTRACT_VERSION == CONTRACT_VERSION
    assert "CONTRACT_VERSION" in siomw_core.__all__
    assert len(Version(CONTRACT_VERSION).release) == 2
    assert supports(LEGACY_RANGE)


@pytest.mark.parametrize(("declared", "expected"), [
    (">=1,<2", True), (">=1.0", True), ("~=1.0", True), ("==1.*", True),
    (">=1.1,<2", False), (">=2,<3", False), ("<1", False),
])
def test_supports_reads_pep440_ranges(declared: str, expected: bool) -> None:
    assert supports(declared, "1.0") is expected


@pytest.mark.parametrize("declared", ["1.x", "", "  ", None, 1, [">=1"]])
def test_a_malformed_range_is_one_clear_error(declared: object) -> None:
    with pytest.raises(ContractError) as info:
        parse_range(declared)
    message = str(info.value)
    assert "\n" not in message
    assert repr(declared) in message and "PEP 440" in message


# --- the registry refuses at load ------------------------------------------------------

def test_incompatible_plugin_is_refused_and_recorded(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """Merely discovered: refused with one message naming the plugin, its distribution and
    version, its range, the core version and contract version; the others load."""
    site.install("future", FUTURE.format(contract=">=2,<3", name="future"))
    site.install("current", DECLARES.format(contract=">=1,<2", name="current"))
    with caplog.at_level(logging.WARNING, logger="siomw"):
        registry = Registry(site.config())
    records = {r.name: r for r in registry.plugins()}
    future, current = records["future"], records["current"]
    assert (future.enabled, future.incompatible, future.status) == (False, True, "incompatible")
    assert future.contract == ">=2,<3"
    assert future.error == refusal("future", ">=2,<3")
    assert future.as_dict()["status"] == "incompatible"
    # the unknown hook of contract 2 is not what it is refused for
    assert "unknown hook" not in future.error
    assert not registry.pm.has_plugin("future")
    assert (current.status, current.contract) == ("enabled", ">=1,<2")
    assert [m.name for m in registry.middlewares()] == ["current-mw"]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [f"siomw: {refusal('future', '>=2,<3')}; skipped"]


@pytest.mark.parametrize("how", ["strict", "asked for by name"])
def test_incompatible_plugin_is_fatal_in_strict_mode_or_when_asked_for(
    site: Site, how: str
) -> None:
    site.install("future", DECLARES.format(contract=">=2", name="future"))
    config = site.config(strict=True) if how == "strict" else site.config(plugins=["future"])
    with pytest.raises(PluginLoadError) as info:
        Registry(config)
    assert str(info.value) == refusal("future", ">=2")


def test_a_newer_minor_is_refused_too(site: Site) -> None:
    """A plugin that needs what contract 1.5 added is refused by a 1.0 core."""
    site.install("newer", DECLARES.format(contract=">=1.5,<2", name="newer"))
    record = {r.name: r for r in Registry(site.config()).plugins()}["newer"]
    assert record.status == "incompatible" and record.error == refusal("newer", ">=1.5,<2")


def test_a_malformed_range_is_a_load_failure_naming_the_plugin(site: Site) -> None:
    site.install("typo", DECLARES.format(contract="1.x", name="typo"))
    record = {r.name: r for r in Registry(site.config()).plugins()}["typo"]
    assert record.status == "failed" and not record.incompatible
    assert record.error == ("ContractError: siomw_contract() returned '1.x', not a PEP 440 "
                            "specifier; expected one such as '>=1,<2'")
    with pytest.raises(PluginLoadError) as info:
        Registry(site.config(strict=True))
    assert str(info.value) == ("plugin 'typo' (distribution siomw-typo) failed to load: "
                               f"{record.error}")


def test_undeclared_is_taken_as_legacy_with_one_warning(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """Without siomw_contract a plugin loads (it predates the versioned contract, 1.0)
    and one warning per process says which range it was taken as."""
    site.install("quiet", UNDECLARED)
    with caplog.at_level(logging.WARNING, logger="siomw"):
        first = Registry(site.config())
        Registry(site.config())
    record = {r.name: r for r in first.plugins()}["quiet"]
    assert record.status == "enabled"
    assert (record.contract, record.contract_declared) == (">=1,<2", False)
    assert record.contract_shown == ">=1,<2 (undeclared)"
    warnings = [r.getMessage() for r in caplog.records if "quiet" in r.getMessage()]
    assert warnings == ["siomw: plugin 'quiet' (distribution siomw-quiet 0.3.0) declares no "
                        "contract range (hook siomw_contract); taken as '>=1,<2'"]


def test_in_code_plugins_are_checked_too(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    module = type(sys)("incode_future")
    exec(textwrap.dedent(DECLARES.format(contract=">=3", name="incode")), module.__dict__)
    config = Config(source="code", core=CoreSettings(plugins=["incode"]))
    with pytest.raises(PluginLoadError) as info:
        Registry(config, local_plugins=[("incode", module)], entry_points=False)
    assert str(info.value).startswith("plugin 'incode' supports plugin contract '>=3', but ")


# --- siomw plugins, as a user runs it --------------------------------------------------

def _siomw(*args: str, cwd: Path, pythonpath: Path | None = None,
           executable: str = SIOMW) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SIOMW_CONFIG", "SIOMW_PLUGINS", "SIOMW_DISABLE_PLUGINS")}
    env["SIOMW_JWT_SECRET"] = "compat-test-secret-of-at-least-32-bytes!"
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_siomw_plugins_shows_the_incompatible_plugin(site: Site, tmp_path: Path) -> None:
    site.install("future", DECLARES.format(contract=">=2,<3", name="future"))
    as_json = _siomw("plugins", "--json", cwd=tmp_path, pythonpath=site.path)
    assert as_json.returncode == 1, as_json.stderr
    rows = {r["name"]: r for r in json.loads(as_json.stdout)}
    assert rows["future"]["status"] == "incompatible"
    assert rows["future"]["contract"] == ">=2,<3"
    assert rows["future"]["error"] == refusal("future", ">=2,<3")
    assert rows["future"]["enabled"] is False
    bundled = [r for r in rows.values() if r["distribution"] != "siomw-future"]
    assert bundled and all(r["status"] == "enabled" for r in bundled), bundled

    table = _siomw("plugins", cwd=tmp_path, pythonpath=site.path)
    assert table.returncode == 1
    line = next(x for x in table.stdout.splitlines() if "siomw-future" in x)
    assert "incompatible" in line and ">=2,<3" in line
    assert f"plugin contract {CONTRACT_VERSION}" in table.stdout


def _wheel(where: Path, dist: str, version: str, files: dict[str, str], *,
           entry_points: str) -> Path:
    """A real wheel (PEP 427: the files, ``METADATA``, ``WHEEL``, ``entry_points.txt`` and
    a ``RECORD`` of their hashes), as a build backend writes it."""
    stem = f"{dist.replace('-', '_')}-{version}"
    info = f"{stem}.dist-info"
    files = {
        **files,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
                            "Requires-Dist: siomw-core\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                         "Tag: py3-none-any\n",
        f"{info}/entry_points.txt": entry_points,
    }
    record = []
    path = where / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            data = text.encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{name},sha256={digest.decode()},{len(data)}")
            archive.writestr(name, data)
        archive.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]) + "\n")
    return path


def test_pip_installed_incompatible_plugin_is_refused_by_siomw_serve(tmp_path: Path) -> None:
    """A plugin distribution built and installed with pip into a virtual environment (that
    sees this one's packages): `siomw plugins` lists it incompatible, and a configuration
    that asks for it stops with the one message."""
    wheel = _wheel(tmp_path, "siomw-oldcontract", "0.0.7", {
        "siomw_oldcontract/__init__.py": textwrap.dedent(
            DECLARES.format(contract=">=0.1,<1", name="oldcontract")),
    }, entry_points="[siomw]\noldcontract = siomw_oldcontract\n")
    venv = tmp_path / "venv"
    # without pip of its own: the pip and setuptools of this environment install into it
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # the venv module builds on the base interpreter: let it see this environment's
    # packages (siomw-core and the bundled plugins, editable ones included) too
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig."
                              "get_paths()['purelib'])"], capture_output=True, text=True,
                             check=True, timeout=60).stdout.strip()
    ours = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    (Path(purelib) / "siomw_parent_env.pth").write_text(
        f"import site; site.addsitedir({ours!r})\n")
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps",
         "--no-index", "--quiet", str(wheel)],
        capture_output=True, text=True, timeout=300, check=False)
    assert pip.returncode == 0, pip.stderr
    siomw = [str(python), "-m", "siomw_core.cli"]
    work = tmp_path / "work"
    work.mkdir()
    listed = subprocess.run([*siomw, "plugins", "--json"], cwd=work, capture_output=True,
                            text=True, timeout=120, check=False,
                            env={**os.environ, "SIOMW_JWT_SECRET": "x" * 40})
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    expected = refusal("oldcontract", ">=0.1,<1", version="0.0.7")
    assert rows["oldcontract"]["status"] == "incompatible", rows["oldcontract"]
    assert rows["oldcontract"]["error"] == expected
    (work / "siomw.toml").write_text('plugins = ["oldcontract"]\n')
    served = subprocess.run([*siomw, "chain"], cwd=work, capture_output=True, text=True,
                            timeout=120, check=False)
    assert served.returncode == 1
    assert served.stderr.strip() == f"Error: {expected}"


# --- the bundled plugins ---------------------------------------------------------------

BUNDLED = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))


def test_bundled_plugins_are_found() -> None:
    assert {p.name for p in BUNDLED} >= {"siomw-headers", "siomw-jwt", "siomw-logging",
                                         "siomw-ratelimit"}


@pytest.mark.parametrize("project", BUNDLED, ids=lambda p: p.name)
def test_bundled_plugin_pins_a_compatible_core(project: Path) -> None:
    """Its siomw-core requirement is a bounded range that this core's version satisfies
    (scripts/setup.sh installs the plugins editable beside it)."""
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    cores = [Requirement(d) for d in meta["dependencies"]
             if Requirement(d).name == "siomw-core"]
    assert len(cores) == 1, f"{project.name}: expected one siomw-core requirement"
    spec = cores[0].specifier
    assert any(s.operator in ("<", "~=", "==") for s in spec), (
        f"{project.name}: siomw-core {spec} has no upper bound")
    assert spec.contains(CORE, prereleases=True), f"{project.name}: {spec} excludes {CORE}"


@pytest.mark.parametrize("project", BUNDLED, ids=lambda p: p.name)
def test_bundled_plugin_declares_a_compatible_contract(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each entry point's module implements siomw_contract with a range admitting this
    core's contract version."""
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    entry_points = meta.get("entry-points", {}).get("siomw", {})
    assert entry_points, f"{project.name}: no [project.entry-points.siomw]"
    monkeypatch.syspath_prepend(str(project))
    for name, target in entry_points.items():
        module = importlib.import_module(target.partition(":")[0])
        hook = getattr(module, "siomw_contract", None)
        assert hook is not None and getattr(hook, "siomw_impl", None) is not None, (
            f"{project.name}: plugin {name!r} has no @hookimpl siomw_contract")
        assert supports(hook()), f"{project.name}: {hook()!r} excludes {CONTRACT_VERSION}"


# --- the contract's content is kept with its version -----------------------------------

#: what each contract version holds: its hookspecs (with their arguments) and the names
#: ``siomw_core`` exports. Changing either without a new CONTRACT_VERSION fails below.
CONTRACT = {
    "1.1": {
        "hooks": {
            "siomw_contract": [],
            "siomw_config_schema": [],
            "siomw_middlewares": ["config", "settings", "runtime"],
            "siomw_observer": ["config", "settings", "runtime"],
            "siomw_register_commands": ["cli"],
            "siomw_shutdown": ["config", "settings", "runtime"],
            "siomw_startup": ["config", "settings", "runtime"],
        },
        "names": [
            "AsyncRuntime", "CLIENT_GONE", "CONTRACT_VERSION", "CallNext", "Config",
            "ConfigError", "CoreSettings", "ENGINE_QUERY_PARAMS", "Event", "EventMiddleware",
            "Handshake", "Identity", "Middleware", "Observer", "OrderingError", "Outcome",
            "PluginLoadError", "Refusal", "Request", "Requirement", "Runtime", "Secrets",
            "Siomw", "Socket", "SuspendedError", "SyncCallNext", "SyncRuntime", "TimerHandle",
            "__version__", "aiohttp_middleware", "answer_request", "asgi_middleware",
            "attach", "client_address", "current_secrets", "declare_secret", "drive",
            "get_identity", "handler_name", "hookimpl", "load_config", "parse_cookies",
            "require", "requirements_of", "send_refusal", "set_identity", "wsgi_middleware",
        ],
    },
}
#: 1.2 changed a promise, not a hook or name: a WebSocket's engine chain is done at its 101
CONTRACT["1.2"] = CONTRACT["1.1"]


def test_the_contract_changes_only_with_its_version() -> None:
    """The hookspecs and ``siomw_core.__all__`` are those recorded for CONTRACT_VERSION: a
    hook or name added needs a minor bump, one removed or an argument changed a major one
    (siomw_core/contract.py says which), recorded here and in contract.py's history."""
    import inspect

    from siomw_core import hookspecs

    assert CONTRACT_VERSION in CONTRACT, (
        f"CONTRACT_VERSION {CONTRACT_VERSION} has no entry in tests/test_compat.py CONTRACT")
    recorded = CONTRACT[CONTRACT_VERSION]
    hooks = {name: list(inspect.signature(func).parameters)
             for name, func in inspect.getmembers(hookspecs, inspect.isfunction)
             if getattr(func, f"{hookspecs.PROJECT}_spec", None) is not None}
    assert hooks == recorded["hooks"], (
        f"the hookspecs are not contract {CONTRACT_VERSION}'s: bump CONTRACT_VERSION "
        f"(minor: added; major: removed or changed) and record the new version")
    assert sorted(siomw_core.__all__) == sorted(recorded["names"]), (
        f"siomw_core.__all__ is not contract {CONTRACT_VERSION}'s: added "
        f"{sorted(set(siomw_core.__all__) - set(recorded['names']))}, removed "
        f"{sorted(set(recorded['names']) - set(siomw_core.__all__))}; bump CONTRACT_VERSION "
        f"(minor: added; major: removed) and record the new version")
