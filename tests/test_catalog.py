"""The plugin catalog (siomw_core.catalog, ``siomw catalog``), generated from real installed
distributions: the bundled plugins, and throwaway ones written as ``.dist-info`` directories
on ``PYTHONPATH`` (what ``importlib.metadata`` discovers as it discovers pip's)."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from siomw_core.catalog import ConfigKey, config_keys

ROOT = Path(__file__).resolve().parent.parent
SIOMW = str(Path(sys.executable).parent / "siomw")
PAGE = ROOT / "docs" / "plugins" / "catalog.md"
#: what the committed page is built with: the jwt plugin's defaults need a secret
SECRET = "catalog-placeholder-secret-of-32-bytes"
BUNDLED = sorted(
    tomllib.loads(p.read_text())["project"]["name"]
    for p in (ROOT / "plugins").glob("*/pyproject.toml")
)


def siomw(*args: str, cwd: Path, pythonpath: Path | None = None,
          ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIOMW_")}
    env["SIOMW_JWT_SECRET"] = SECRET
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([SIOMW, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_committed_catalog_is_current(tmp_path: Path) -> None:
    """docs/plugins/catalog.md is what `siomw catalog` generates now for every bundled
    plugin (plugins/*/): a changed version, summary, priority or config key fails here."""
    assert BUNDLED, "no plugins/*/pyproject.toml"
    for dist in BUNDLED:
        try:
            md.distribution(dist)
        except md.PackageNotFoundError:
            pytest.fail(f"bundled plugin {dist} is not installed: pip install -e "
                        f"plugins/{dist} (scripts/setup.sh installs every one)")
    result = siomw("catalog", "--check", "--output", str(PAGE), *BUNDLED, cwd=tmp_path)
    assert result.returncode == 0, (
        f"docs/plugins/catalog.md is stale; regenerate it with\n  SIOMW_JWT_SECRET={SECRET} "
        f"siomw catalog --output docs/plugins/catalog.md\n{result.stderr}\n{result.stdout}")
    for dist in BUNDLED:
        assert f"`pip install {dist}`" in PAGE.read_text()


def test_check_shows_a_diff_of_a_stale_page(tmp_path: Path) -> None:
    stale = tmp_path / "catalog.md"
    stale.write_text(PAGE.read_text().replace("| 2500 |", "| 2400 |"))
    result = siomw("catalog", "--check", "--output", str(stale), "siomw-headers",
                   cwd=tmp_path)
    assert result.returncode == 1
    assert "-| `headers` | engine | 2400 |" in result.stdout
    assert "+| `headers` | engine | 2500 |" in result.stdout
    assert "is stale; regenerate it with: siomw catalog" in result.stderr


class Inner(BaseModel):
    limit: str
    burst: int = 3


class Options(BaseModel):
    rate: str = "1/second"
    mode: Literal["open", "closed"] = "open"
    rules: list[Inner] = Field(default_factory=list)
    by_name: dict[str, Inner] = Field(default_factory=dict)
    fallback: Inner | None = None
    names: tuple[str, ...] = ("a",)


def test_config_keys_walk_nested_models() -> None:
    assert config_keys(Options) == [
        ConfigKey("rate", "str", '"1/second"'),
        ConfigKey("mode", '"open" | "closed"', '"open"'),
        ConfigKey("rules", "list[Inner]", "[]"),
        ConfigKey("rules[].limit", "str", "required"),
        ConfigKey("rules[].burst", "int", "3"),
        ConfigKey("by_name", "dict[str, Inner]", "{}"),
        ConfigKey("by_name.<name>.limit", "str", "required"),
        ConfigKey("by_name.<name>.burst", "int", "3"),
        ConfigKey("fallback", "Inner | None", "unset"),
        ConfigKey("fallback.limit", "str", "required"),
        ConfigKey("fallback.burst", "int", "3"),
        ConfigKey("names", "tuple[str, ...]", '["a"]'),
    ]


THROWAWAY = """
from pydantic import BaseModel
from siomw_core import Middleware, hookimpl


class Options(BaseModel):
    banned: list[str] = []
    code: str = "banned"


async def gate(socket, call_next):
    await call_next()


@hookimpl
def siomw_contract():
    return ">=1,<2"


@hookimpl
def siomw_config_schema():
    return Options


@hookimpl
def siomw_middlewares(config):
    return [Middleware(name="gate", func=gate, priority=1500, after=("jwt",),
                       namespaces=("/chat",)),
            Middleware(name="gate-http", func=gate, level="engine", before=("headers",))]
"""


def test_catalog_of_an_installed_distribution(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "siomw_gate_mod.py").write_text(textwrap.dedent(THROWAWAY))
    info = site / "siomw_gate-2.3.4.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: siomw-gate\nVersion: 2.3.4\n"
                                   "Summary: a gate for the catalog test\n")
    (info / "entry_points.txt").write_text("[siomw]\ngate = siomw_gate_mod\n")
    result = siomw("catalog", "siomw-gate", cwd=tmp_path, pythonpath=site)
    assert result.returncode == 0, result.stderr
    page = result.stdout
    assert ("| [gate](#gate) | `siomw-gate` | 2.3.4 | `>=1,<2` | engine, connect | "
            "a gate for the catalog test |") in page
    assert "| `gate` | connect | 1500 | - | `jwt` | `/chat` |" in page
    assert "| `gate-http` | engine | 0 | `headers` | - | all |" in page
    assert "| `banned` | `list[str]` | `[]` |" in page
    assert "| `code` | `str` | `\"banned\"` |" in page
    assert "siomw-jwt" not in page  # only what was asked for

    every = siomw("catalog", cwd=tmp_path, pythonpath=site)
    assert "## gate" in every.stdout and "## jwt" in every.stdout


def test_unknown_distribution_is_a_usage_error(tmp_path: Path) -> None:
    result = siomw("catalog", "siomw-nope", cwd=tmp_path)
    assert result.returncode == 2
    assert "no installed distribution declares a siomw plugin: siomw-nope" in result.stderr


UNDECLARED = """
from typing import Literal

from pydantic import BaseModel
from siomw_core import Middleware, hookimpl


class Options(BaseModel):
    format: Literal["json", "console"] = "json"


async def member(socket, call_next):
    await call_next()


@hookimpl
def siomw_config_schema():
    return Options


@hookimpl
def siomw_middlewares(config):
    return [Middleware(name="old-mw", func=member)]
"""

INCOMPATIBLE = """
from siomw_core import Middleware, hookimpl


async def member(socket, call_next):
    await call_next()


@hookimpl
def siomw_contract():
    return ">=2,<3"


@hookimpl
def siomw_middlewares(config):
    return [Middleware(name="future-mw", func=member)]
"""


def _install(site: Path, plugin: str, source: str) -> None:
    (site / f"siomw_{plugin}_mod.py").write_text(textwrap.dedent(source))
    info = site / f"siomw_{plugin}-0.3.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: siomw-{plugin}\n"
                                   f"Version: 0.3.0\nSummary: the {plugin} one\n")
    (info / "entry_points.txt").write_text(f"[siomw]\n{plugin} = siomw_{plugin}_mod\n")


def test_undeclared_and_incompatible_read_alike_in_the_catalog_and_siomw_plugins(
        tmp_path: Path) -> None:
    """A plugin without ``siomw_contract`` shows the range it is taken as, marked
    undeclared, in both; an incompatible one is said to be incompatible, not unbuildable."""
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "oldie", UNDECLARED)
    _install(site, "future", INCOMPATIBLE)
    page = siomw("catalog", "siomw-oldie", "siomw-future", cwd=tmp_path, pythonpath=site)
    assert page.returncode == 0, page.stderr
    assert "| [oldie](#oldie) | `siomw-oldie` | 0.3.0 | `>=1,<2` (undeclared) | connect |" \
        in page.stdout
    assert "- version: 0.3.0; plugin contract: `>=1,<2` (undeclared)" in page.stdout
    assert ("- incompatible with this core (contract 1.2): `plugin 'future' (distribution "
            "siomw-future 0.3.0) supports plugin contract '>=2,<3', but siomw-core") \
        in page.stdout
    assert "does not build" not in page.stdout
    # a `|` inside a table's code span is one cell on GitHub and in mkdocs alike
    assert '| `format` | <code>"json" &#124; "console"</code> | `"json"` |' in page.stdout

    table = siomw("plugins", cwd=tmp_path, pythonpath=site)
    rows = {line.split("│")[1].strip(): line for line in table.stdout.splitlines()
            if line.startswith("│") and line.split("│")[1].strip()}
    assert ">=1,<2 (undeclared)" in rows["oldie"]
    assert ">=2,<3" in rows["future"] and "incompatible" in rows["future"]
    listed = {r["name"]: r for r in json.loads(
        siomw("plugins", "--json", cwd=tmp_path, pythonpath=site).stdout)}
    assert (listed["oldie"]["contract"], listed["oldie"]["contract_declared"]) == (
        ">=1,<2", False)
    assert (listed["future"]["contract"], listed["future"]["contract_declared"]) == (
        ">=2,<3", True)
    assert (listed["headers"]["contract"], listed["headers"]["contract_declared"]) == (
        ">=1.2,<2", True)


def test_the_committed_catalog_has_no_bar_inside_a_code_span() -> None:
    """GitHub splits a table cell at a ``|`` even inside backticks."""
    for line in PAGE.read_text().splitlines():
        if line.startswith("|"):
            assert not [span for span in re.findall(r"`([^`]*)`", line) if "|" in span], line


def test_an_output_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "x.md"
    result = siomw("catalog", "--output", str(missing), "siomw-headers", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: --output {missing}: cannot write it: No such file or directory"]
