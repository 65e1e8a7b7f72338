"""Documentation that cannot drift: every hookspec, config key of a bundled plugin, CLI
command and option, and public name of ``siomw_core`` is documented, or a test here fails
naming what is missing and where it belongs.

Each list is read from the code itself (the hookspecs module, each bundled plugin's
``siomw_config_schema`` model walked as the catalog walks it, the ``siomw`` click group with
the bundled plugins' commands, ``siomw_core.__all__``), never written down twice.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

import siomw_core
from siomw_core import hookspecs
from siomw_core.catalog import config_keys
from siomw_core.cli import CliState, cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BUNDLED = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
SPAN = re.compile(r"`([^`\n]+)`")


def code_spans(text: str) -> list[str]:
    """The inline code spans of Markdown ``text`` (fenced blocks left out)."""
    return SPAN.findall(FENCE.sub("", text))


def fenced(text: str) -> str:
    """The content of the fenced code blocks of ``text``."""
    return "\n".join(m.group(0) for m in FENCE.finditer(text))


def names_in_code(text: str, name: str) -> bool:
    """``name`` is an identifier inside an inline code span of ``text``."""
    word = re.compile(rf"(?<![\w]){re.escape(name)}(?![\w])")
    return any(word.search(span) for span in code_spans(text))


# --- hookspecs: docs/plugins/writing.md --------------------------------------------------

def _hookspec_signatures() -> list[str]:
    specs = []
    for name, func in inspect.getmembers(hookspecs, inspect.isfunction):
        if getattr(func, f"{hookspecs.PROJECT}_spec", None) is None:
            continue
        params = ", ".join(inspect.signature(func).parameters)
        specs.append(f"{name}({params})")
    return specs


def test_hookspecs_documented() -> None:
    """Every hookspec appears, with its exact signature, in docs/plugins/writing.md."""
    specs = _hookspec_signatures()
    assert {s.split("(")[0] for s in specs} >= {
        "siomw_config_schema", "siomw_middlewares", "siomw_register_commands",
        "siomw_contract",
    }
    doc_path = DOCS / "plugins" / "writing.md"
    assert doc_path.is_file(), f"{doc_path} is missing: it must document every hook"
    doc = doc_path.read_text()
    missing = [spec for spec in specs if spec not in doc]
    assert not missing, f"hookspecs not documented in docs/plugins/writing.md: {missing}"


# --- config keys: docs/plugins/<plugin>.md -----------------------------------------------

def _bundled_plugins() -> Iterator[tuple[str, str, str]]:
    """``(project dir name, plugin name, module)`` of every bundled plugin's entry point."""
    for project in BUNDLED:
        meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
        for name, target in meta.get("entry-points", {}).get("siomw", {}).items():
            yield project.name, name, target.partition(":")[0]


PLUGINS = list(_bundled_plugins())


def _documented_key(page: str, key: str) -> bool:
    """``key``'s last part (``scopes`` of ``namespaces.<name>.scopes``) is in an inline
    code span, or assigned (``scopes = ...``) in a fenced example."""
    leaf = key.rsplit(".", 1)[-1].removesuffix("[]")
    return (names_in_code(page, leaf)
            or re.search(rf"(?<![\w]){re.escape(leaf)}\s*=", fenced(page)) is not None)


def test_every_bundled_plugin_is_checked() -> None:
    assert {name for _, name, _ in PLUGINS} >= {"headers", "jwt", "logging", "ratelimit"}


@pytest.mark.parametrize(("project", "plugin", "module"), PLUGINS,
                         ids=[name for _, name, _ in PLUGINS])
def test_config_keys_documented(project: str, plugin: str, module: str,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key of the plugin's schema (nested models included) is on its page
    docs/plugins/<plugin>.md."""
    monkeypatch.syspath_prepend(str(ROOT / "plugins" / project))
    schema_hook = getattr(importlib.import_module(module), "siomw_config_schema", None)
    schema = schema_hook() if schema_hook is not None else None
    if schema is None:
        pytest.skip(f"plugin {plugin!r} takes no options")
    page_path = DOCS / "plugins" / f"{plugin}.md"
    assert page_path.is_file(), f"plugin {plugin!r} has no page {page_path}"
    page = page_path.read_text()
    keys = [k.key for k in config_keys(schema)]
    assert keys
    missing = [key for key in keys if not _documented_key(page, key)]
    assert not missing, (
        f"[{plugin}] keys not documented in docs/plugins/{plugin}.md: {missing}")


# --- CLI commands and options: docs/cli.md -----------------------------------------------

def _commands(
    group: click.Group, ctx: click.Context, prefix: str = "siomw"
) -> Iterator[tuple[str, click.Command]]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield f"{prefix} {name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, click.Context(command, parent=ctx), f"{prefix} {name}")


def _section(page: str, command: str) -> str | None:
    """The text under the heading that starts with ``command`` (`` ## `siomw serve ...` ``),
    up to the next heading of the same or a higher level."""
    lines = page.splitlines()
    for i, line in enumerate(lines):
        heading = re.match(r"^(#+) `" + re.escape(command) + r"(?: |`)", line)
        if heading:
            depth = len(heading.group(1))
            end = next((j for j in range(i + 1, len(lines))
                        if re.match(rf"^#{{1,{depth}}} ", lines[j])), len(lines))
            return "\n".join(lines[i:end])
    return None


def test_cli_commands_and_options_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command of `siomw` (the built-in ones and the bundled plugins') has a section
    `` ## `siomw NAME ...` `` in docs/cli.md naming each of its options; ``--config`` (every
    command's) is documented once, at the top."""
    monkeypatch.chdir(tmp_path)  # no ./siomw.toml
    for var in ("SIOMW_CONFIG", "SIOMW_PLUGINS", "SIOMW_DISABLE_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SIOMW_JWT_SECRET", "docs-drift-secret-of-at-least-32-bytes")
    ctx = click.Context(cli, obj=CliState())
    commands = dict(_commands(cli, ctx))
    assert {"siomw serve", "siomw plugins", "siomw chain", "siomw catalog",
            "siomw token"} <= set(commands)
    page = (DOCS / "cli.md").read_text()
    intro = page.split("\n## ", 1)[0]
    assert "`--config PATH`" in intro
    missing: list[str] = []
    for path, command in commands.items():
        section = _section(page, path)
        if section is None:
            missing.append(f"{path} (no heading `## `{path} ...``)")
            continue
        for param in command.params:
            if not isinstance(param, click.Option) or param.hidden:
                continue
            for opt in [*param.opts, *param.secondary_opts]:
                if opt == "--config" or not opt.startswith("--"):
                    continue
                if opt not in section:
                    missing.append(f"{path} {opt}")
    assert not missing, f"not documented in docs/cli.md: {missing}"


# --- public names of siomw_core: docs/ ---------------------------------------------------

def _directives() -> list[tuple[str, list[str] | None]]:
    """Every mkdocstrings directive in docs/: ``(identifier, members option or None)``."""
    return [d for path in DOCS.rglob("*.md") for d in _directives_in(path.read_text())]


def _directives_in(text: str) -> list[tuple[str, list[str] | None]]:
    """The directives of one page, each with its ``members`` option: ``[a, b]``, a YAML
    list, ``false`` (none), or None when absent (every public member)."""
    found = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^::: ([\w.]+)\s*$", line)
        if not match:
            continue
        members: list[str] | None = None  # None: every public member
        options = []
        for option in lines[i + 1:]:
            if option.strip() and not option.startswith(" "):
                break
            options.append(option)
        for j, option in enumerate(options):
            value = re.match(r"^\s+members:\s*(.*?)\s*$", option)
            if value is None:
                continue
            given = value.group(1)
            if given.startswith("["):  # members: [a, b]
                members = [m.strip().strip("'\"") for m in given.strip("[]").split(",")]
            elif given in ("false", "False", "no"):  # members: false
                members = []
            elif not given:  # members:\n  - a\n  - b
                members = [m.strip()[1:].strip().strip("'\"")
                           for m in itertools.takewhile(
                               lambda line: line.strip().startswith("-"), options[j + 1:])]
        found.append((match.group(1), members))
    return found


def test_public_names_documented() -> None:
    """Every name of ``siomw_core.__all__`` is in an inline code span of a page under docs/,
    or covered by an API reference directive (``::: siomw_core.Name``, or ``::: siomw_core``
    itself without a ``members`` list that leaves it out)."""
    text = "\n".join(p.read_text() for p in DOCS.rglob("*.md"))
    directives = _directives()

    def covered(name: str) -> bool:
        for identifier, members in directives:
            if identifier == f"siomw_core.{name}":
                return True
            if identifier == "siomw_core" and (members is None or name in members):
                return True
        return names_in_code(text, name)

    missing = [name for name in siomw_core.__all__ if not covered(name)]
    assert not missing, f"public names of siomw_core documented nowhere in docs/: {missing}"


def test_the_rules_catch_an_undocumented_name() -> None:
    """The matching is by identifier inside code: prose or a longer name does not count."""
    page = "Attach the server.\n\n`Middlewares` and `attach_all`\n\n```toml\nleeway = 5\n```\n"
    assert not names_in_code(page, "attach")
    assert not names_in_code(page, "Middleware")
    assert names_in_code("see `siomw_core.attach(sio)`", "attach")
    assert _documented_key(page, "leeway") and not _documented_key(page, "issuer")
    assert _directives_in(
        "::: siomw_core\n    options:\n      members: [attach, drive]\n\n"
        "::: siomw_core.contract\n    options:\n      members: false\n"
        "::: siomw_core.Siomw\n    options:\n      members:\n        - describe\n"
        "        - 'placed'\ntext\n") == [
        ("siomw_core", ["attach", "drive"]), ("siomw_core.contract", []),
        ("siomw_core.Siomw", ["describe", "placed"])]
    assert _section("## `siomw chain [APP]`\nx --json\n## `siomw serve`\n", "siomw chain") \
        == "## `siomw chain [APP]`\nx --json"
