"""The plugin catalog: a Markdown page of installed plugins, generated from their metadata.

As pytest's plugin list is generated from package metadata, every fact of the page comes
from the installed distribution (``importlib.metadata``: name, version, summary, entry
points) and from the plugin's own hooks, asked through the same
:class:`~siomw_core.registry.Registry` that serves: ``siomw_contract`` (the contract range),
``siomw_config_schema`` (every config key with its type and default, nested models
included), ``siomw_middlewares`` built with those defaults (each member's level, priority,
``before``/``after`` and namespaces) and ``siomw_register_commands`` (its commands).
``siomw catalog`` writes it; the repository's ``docs/plugins/catalog.md`` is this page for
the bundled plugins, and a test fails when it is stale.
"""

from __future__ import annotations

import difflib
import html
import importlib.metadata as md
import json
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel
from pydantic_core import PydanticUndefined, to_jsonable_python

from .config import Config, CoreSettings
from .contract import CONTRACT_VERSION
from .errors import ConfigError, OrderingError, PluginLoadError
from .registry import GROUP, PluginRecord, Registry

__all__ = ["ConfigKey", "PluginEntry", "catalog_command", "config_keys", "entries", "render"]

#: the levels in the order a request meets them
LEVELS = ("engine", "connect", "event")


@dataclass(frozen=True)
class ConfigKey:
    """One key of a plugin's config table.

    Attributes:
        key: its dotted path in the table: ``leeway``, ``namespaces.<name>.scopes`` (a
            table of tables), ``rules[].limit`` (an array of tables).
        type: its annotation as written (``str | None``, ``dict[str, NamespaceRule]``).
        default: its default as TOML-ish JSON (``"60/minute"``, ``[]``), ``required``,
            or ``unset`` (None).
    """

    key: str
    type: str
    default: str


@dataclass
class PluginEntry:
    """What the catalog shows of one plugin (one entry point of group ``siomw``).

    Attributes:
        name: the entry-point name (the plugin's config table).
        distribution, version, summary: from the distribution's metadata.
        contract: the contract range it is held to: its declared one, or the range an
            undeclared plugin is taken as (then ``contract_declared`` is False).
        contract_declared: whether ``contract`` is the plugin's own declaration.
        hooks: the hooks it implements, by name.
        keys: its config keys (:func:`config_keys`).
        middlewares: what it contributes with its defaults.
        commands: the ``siomw`` commands it adds.
        problem: why it could not be built with its defaults (then no middlewares), or
            why it is refused (``incompatible``).
        incompatible: its contract range excludes this core's contract version.
    """

    name: str
    distribution: str
    version: str
    summary: str
    contract: str | None
    hooks: list[str]
    contract_declared: bool = True
    keys: list[ConfigKey] = field(default_factory=list)
    middlewares: list[dict[str, Any]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    problem: str | None = None
    incompatible: bool = False

    @property
    def levels(self) -> list[str]:
        """The levels its middlewares run at, in request order."""
        return [lv for lv in LEVELS if any(m["level"] == lv for m in self.middlewares)]


def config_keys(model: type[BaseModel], prefix: str = "") -> list[ConfigKey]:
    """Every key of ``model`` in declaration order, each nested model's keys after its own
    (``namespaces.<name>.scopes`` under a ``dict[str, Model]``, ``rules[].x`` under a
    ``list[Model]``)."""
    out: list[ConfigKey] = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{info.alias or name}"
        out.append(ConfigKey(key, _type_name(info.annotation), _default(info)))
        for suffix, nested in _nested_models(info.annotation):
            out.extend(config_keys(nested, f"{key}{suffix}."))
    return out


def _nested_models(annotation: Any) -> Iterator[tuple[str, type[BaseModel]]]:
    """The models inside ``annotation``, each with the path part between the key and the
    nested model's keys (``""``, ``".<name>"`` or ``"[]"``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield "", annotation
        return
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        yield from _nested_models(args[0])
    elif origin in (typing.Union, types.UnionType):
        seen: set[type[BaseModel]] = set()
        for arg in args:
            for suffix, nested in _nested_models(arg):
                if nested not in seen:
                    seen.add(nested)
                    yield suffix, nested
    elif origin is dict and len(args) == 2:
        for suffix, nested in _nested_models(args[1]):
            yield f".<name>{suffix}", nested
    elif origin in (list, tuple, set, frozenset) and args:
        for suffix, nested in _nested_models(args[0]):
            yield f"[]{suffix}", nested


def _type_name(annotation: Any) -> str:
    if annotation is None or annotation is type(None):
        return "None"
    if annotation is Ellipsis:
        return "..."
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(_type_name(a) for a in args)}]" if args else name
    if args == () and hasattr(annotation, "__value__"):  # a `type X = ...` alias
        return _type_name(annotation.__value__)
    return str(annotation).replace("typing.", "")


def _default(info: Any) -> str:
    if info.is_required():
        return "required"
    value = info.default_factory() if info.default is PydanticUndefined else info.default
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return json.dumps(to_jsonable_python(value), sort_keys=True)


def entries(distributions: Sequence[str] | None = None) -> list[PluginEntry]:
    """The catalog's entries: every installed plugin, or those of ``distributions`` (names
    as pip spells them, case and ``-``/``_`` insensitive), by plugin name.

    Each is loaded and built alone with its defaults and the default core settings, the
    configuration files and ``SIOMW_*`` variables ignored (a catalog describes the plugins,
    not this site).

    Raises:
        click.UsageError: a named distribution is not installed or declares no plugin.
    """
    found = list(md.entry_points(group=GROUP))
    if distributions is not None:
        wanted = {_normal(d): d for d in distributions}
        have = {_normal(ep.dist.metadata["Name"]) for ep in found if ep.dist is not None}
        missing = [name for key, name in wanted.items() if key not in have]
        if missing:
            raise click.UsageError(
                f"no installed distribution declares a siomw plugin: {', '.join(missing)} "
                f"(installed: {', '.join(sorted(have)) or 'none'})")
        found = [ep for ep in found if ep.dist is not None
                 and _normal(ep.dist.metadata["Name"]) in wanted]
    return [_entry(ep) for ep in sorted(found, key=lambda e: e.name)]


def _normal(name: str) -> str:
    return name.lower().replace("_", "-")


def _entry(ep: md.EntryPoint) -> PluginEntry:
    dist = ep.dist
    config = Config(source="<catalog: defaults>", core=CoreSettings(plugins=[ep.name]))
    problem = None
    try:
        registry = Registry(config, diagnose=True)
    except (ConfigError, PluginLoadError, OrderingError) as exc:  # pragma: no cover
        raise click.ClickException(f"plugin {ep.name!r}: {exc}") from None
    record: PluginRecord = registry.records[ep.name]
    plugin = registry.pm.get_plugin(ep.name)
    hooks = sorted(
        name for name in dir(registry.pm.hook) if name.startswith("siomw_")
        and any(i.plugin is plugin for i in getattr(registry.pm.hook, name).get_hookimpls())
    ) if plugin is not None else []
    schema_hook = registry._impl("siomw_config_schema", ep.name) if plugin else None
    schema = schema_hook() if schema_hook else None
    if not record.enabled:
        problem = record.error
    commands: list[str] = []
    if plugin is not None and "siomw_register_commands" in hooks:
        group = click.Group("siomw")
        registry._impl("siomw_register_commands", ep.name)(cli=group)
        commands = sorted(group.commands)
    return PluginEntry(
        name=ep.name,
        distribution=dist.metadata["Name"] if dist is not None else "-",
        version=dist.version if dist is not None else "-",
        summary=(dist.metadata["Summary"] or "") if dist is not None else "",
        contract=record.contract,
        contract_declared=record.contract_declared,
        hooks=hooks,
        keys=config_keys(schema) if schema is not None else [],
        middlewares=[
            {"name": m.name, "level": m.level, "priority": m.priority,
             "before": list(m.before), "after": list(m.after),
             "namespaces": list(m.namespaces) if m.namespaces is not None else None}
            for m in record.middlewares
        ],
        commands=commands,
        problem=problem,
        incompatible=record.incompatible,
    )


def _code(text: str) -> str:
    """``text`` as a code span that no Markdown table splits.

    A ``|`` inside backticks splits a GitHub (GFM) table cell, and a ``\\|`` there is
    shown as is by Python-Markdown (mkdocs): text with a ``|`` is an HTML ``<code>`` with
    the ``|`` as ``&#124;``, which both read as one cell showing ``|``.
    """
    if "|" not in text:
        return f"`{text}`"
    return f"<code>{html.escape(text, quote=False).replace('|', '&#124;')}</code>"


def _contract(p: PluginEntry) -> str:
    """The contract cell: ``>=1.0,<2``, ``>=1,<2 (undeclared)`` (the range an undeclared
    plugin is taken as, as ``siomw plugins`` shows it), ``-`` when it did not load."""
    if p.contract is None:
        return "-"
    return _code(p.contract) + ("" if p.contract_declared else " (undeclared)")


def render(plugins: Sequence[PluginEntry], *, command: str = "siomw catalog") -> str:
    """The catalog page (Markdown), one section per plugin; ``command`` is named as the
    way to regenerate it."""
    lines = [
        "# Plugin catalog",
        "",
        f"<!-- generated by `{command}` from the installed plugins' metadata: do not edit -->",
        "",
        f"Generated by `{command}` from each plugin's package metadata and hooks (see",
        "[Command line](../cli.md#siomw-catalog-options-distribution)). Middlewares are",
        "shown as the plugin builds them with its defaults; the priority decides the order",
        "(higher runs first) where `before`/`after` do not. This core implements plugin",
        f"contract {CONTRACT_VERSION}.",
        "",
        "| plugin | distribution | version | contract | levels | summary |",
        "|---|---|---|---|---|---|",
    ]
    for p in plugins:
        lines.append(
            f"| [{p.name}](#{p.name}) | `{p.distribution}` | {p.version} | "
            f"{_contract(p)} | "
            f"{', '.join(p.levels) or '-'} | {p.summary.replace('|', '/')} |")
    for p in plugins:
        lines += ["", f"## {p.name}", "",
                  f"`pip install {p.distribution}`: {p.summary}", ""]
        lines.append(f"- version: {p.version}; plugin contract: "
                     f"{_contract(p)}")
        lines.append(f"- hooks: {', '.join(f'`{h}`' for h in p.hooks) or '-'}")
        if p.commands:
            lines.append(f"- commands: {', '.join(f'`siomw {c}`' for c in p.commands)}")
        if p.problem and p.incompatible:
            lines.append(f"- incompatible with this core (contract {CONTRACT_VERSION}): "
                         f"{_code(p.problem)}")
        elif p.problem:
            lines.append(f"- with its defaults it does not build: {_code(p.problem)}")
        if p.middlewares:
            lines += ["", "| middleware | level | priority | before | after | namespaces |",
                      "|---|---|---|---|---|---|"]
            for m in p.middlewares:
                lines.append(
                    f"| `{m['name']}` | {m['level']} | {m['priority']} | "
                    f"{', '.join(f'`{x}`' for x in m['before']) or '-'} | "
                    f"{', '.join(f'`{x}`' for x in m['after']) or '-'} | "
                    f"{', '.join(f'`{x}`' for x in m['namespaces'] or []) or 'all'} |")
        if p.keys:
            lines += ["", f"| `[{p.name}]` key | type | default |", "|---|---|---|"]
            for k in p.keys:
                lines.append(f"| `{k.key}` | {_code(k.type)} | {_code(k.default)} |")
    return "\n".join(lines) + "\n"


@click.command("catalog")
@click.argument("distributions", nargs=-1, metavar="[DISTRIBUTION]...")
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Write the page to this file instead of stdout.")
@click.option("--check", is_flag=True, help="Write nothing: exit with status 1 and a diff "
              "when the --output file is not the page generated now (a stale catalog).")
def catalog_command(distributions: tuple[str, ...], output: str | None, check: bool) -> None:
    """Print the plugin catalog (Markdown) of the installed plugins, or of the given
    DISTRIBUTIONs: name, version, summary, contract range, levels, middlewares with
    priority and before/after, config keys with types and defaults, from each plugin's
    metadata and hooks (built with its defaults; the configuration is ignored)."""
    page = render(entries(distributions or None))
    if check:
        if output is None:
            raise click.UsageError("--check needs --output (the page to compare)")
        path = Path(output)
        try:
            old = path.read_text() if path.is_file() else ""
        except OSError as exc:
            raise click.ClickException(f"--output {output}: cannot read it: "
                                       f"{exc.strerror or exc}") from None
        if old != page:
            diff = difflib.unified_diff(old.splitlines(keepends=True),
                                        page.splitlines(keepends=True),
                                        fromfile=f"{output} (committed)",
                                        tofile=f"{output} (generated now)")
            click.echo("".join(diff), nl=False)
            click.echo(f"siomw: {output} is stale; regenerate it with: siomw catalog "
                       f"--output {output} {' '.join(distributions)}".rstrip(), err=True)
            raise SystemExit(1)
        return
    if output is None:
        click.echo(page, nl=False)
    else:
        try:
            Path(output).write_text(page)
        except OSError as exc:
            raise click.ClickException(f"--output {output}: cannot write it: "
                                       f"{exc.strerror or exc}") from None
