"""The plugin registry: discovery through entry points, allow/block lists, config, specs.

Entry points of the group ``siomw`` are loaded one at a time (pluggy's own
``load_setuptools_entrypoints`` aborts on the first failure): a plugin that fails to import,
to register, or to build its middlewares is recorded with its name, distribution and error
and skipped, or stops startup when ``strict = true``. A plugin whose declared contract range
(hook ``siomw_contract``) excludes this core's :data:`~siomw_core.contract.CONTRACT_VERSION`
is refused the same way, when it is loaded (see ``siomw_core.contract``). Chain order is
not pluggy's business: see ``ordering.py``.
"""

from __future__ import annotations

import importlib.metadata as md
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pluggy

from . import hookspecs
from .config import Config
from .config import _validate as validate_partial
from .contract import CONTRACT_VERSION, LEGACY_RANGE, core_version, supports
from .errors import ConfigError, PluginLoadError
from .middleware import Middleware
from .runtime import AsyncRuntime, Runtime
from .secrets import PROCESS, Secrets, building

__all__ = ["PluginRecord", "Registry"]

log = logging.getLogger("siomw")
GROUP = "siomw"


@dataclass
class PluginRecord:
    """What ``siomw plugins`` shows for one plugin.

    Attributes:
        name: the entry-point name (also its config table's name).
        distribution: the distribution that declared it (``None`` for in-code plugins).
        version: that distribution's version.
        enabled: loaded and contributing middlewares.
        error: why it is not enabled: ``"blocked by ..."``, ``"not in ..."``, the
            load error as ``ExceptionType: message``, or why its contract range refuses it.
        contract: the contract range it is held to: the one it declared (hook
            ``siomw_contract``), or :data:`~siomw_core.contract.LEGACY_RANGE` when it
            declared none (then ``contract_declared`` is False); None when it was not
            loaded.
        contract_declared: whether ``contract`` is the plugin's own declaration.
        incompatible: refused because ``contract`` excludes this core's contract version.
        middlewares: what it contributed.
        options: its validated config table (an instance of its schema), or None.
    """

    name: str
    distribution: str | None = None
    version: str | None = None
    enabled: bool = False
    error: str | None = None
    middlewares: list[Middleware] = field(default_factory=list)
    options: Any = None
    contract: str | None = None
    contract_declared: bool = False
    incompatible: bool = False

    @property
    def contract_shown(self) -> str:
        """The contract range as ``siomw plugins`` and the catalog show it: ``>=1,<2``, or
        ``>=1,<2 (undeclared)`` for the range an undeclared plugin is taken as, ``-`` when
        not loaded."""
        if self.contract is None:
            return "-"
        return self.contract if self.contract_declared else f"{self.contract} (undeclared)"

    @property
    def status(self) -> str:
        """``"enabled"``, ``"incompatible"`` (its contract range excludes this core's),
        ``"disabled"`` (blocked or not in the allow-list) or ``"failed"`` (a load, build
        or configuration error)."""
        if self.enabled:
            return "enabled"
        if self.incompatible:
            return "incompatible"
        if self.error is None or self.error.startswith(("not in", "blocked")):
            return "disabled"
        return "failed"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``siomw plugins --json``)."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "enabled": self.enabled,
            "status": self.status,
            "contract": self.contract,
            "contract_declared": self.contract_declared,
            "error": self.error,
            "middlewares": [
                {"name": m.name, "level": m.level, "priority": m.priority}
                for m in self.middlewares
            ],
        }


class Registry:
    """Plugins found, configured and asked for their middlewares.

    Args:
        config: the loaded configuration.
        local_plugins: plugins registered in code, as ``(name, module_or_object)``; they
            obey the allow/block lists like entry points.
        entry_points: discover installed plugins (turn off in tests of in-code plugins).
        diagnose: record every plugin's failure, its configuration errors included, instead
            of raising (``siomw plugins`` lists them all).
        discover_only: only find, gate (allow/block lists) and register the plugins, without
            checking or building anything and without raising: enough to ask the enabled
            plugins' hooks that need no configuration (``siomw_register_commands``, so that
            ``siomw --help`` lists a plugin's commands while its table is wrong).

    Raises:
        ConfigError: the configuration's problems (``config.problems``), a table that
            names no installed plugin, a plugin's table that does not validate, a plugin
            that refuses its options while building: every one of them at once, one line
            each, in that order (with ``diagnose``, a plugin's own are recorded on its row
            instead, unless there are others). Every enabled plugin is built even when
            something else is wrong, a plugin with a wrong table with the keys that
            validated (the others at their defaults), so that a problem only building finds
            (the jwt plugin's unset secret) is among them; nothing is started.
        PluginLoadError: a plugin failed to load or to build its middlewares, and either
            ``strict = true`` or the plugin was asked for by name (in the allow-list, or by a
            config table of its own): a configured plugin never silently drops out. A plugin
            that was merely discovered is recorded and skipped.
    """

    def __init__(
        self,
        config: Config,
        *,
        local_plugins: Sequence[tuple[str, object]] = (),
        entry_points: bool = True,
        diagnose: bool = False,
        discover_only: bool = False,
        runtime: Runtime | None = None,
    ) -> None:
        self.config = config
        #: the server kind's services handed to ``siomw_middlewares`` (an async one when
        #: no server is known: ``siomw chain`` and ``siomw plugins``)
        self.runtime: Runtime = runtime if runtime is not None else AsyncRuntime()
        self.diagnose = diagnose or discover_only
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        #: this stack's secret names (see ``siomw_core.secrets``): plugins declare into it
        #: while they are built
        self.secrets = Secrets(parent=PROCESS)
        found = list(md.entry_points(group=GROUP)) if entry_points else []
        known = {ep.name for ep in found} | {name for name, _ in local_plugins}
        # every problem of every table is reported at once: the core's, the names', then
        # each enabled plugin's table
        problems = [*config.problems, *self._check_names(known)]
        for ep in sorted(found, key=lambda e: e.name):
            self._load_entry_point(ep)
        for name, plugin in local_plugins:
            self._admit(PluginRecord(name=name), lambda p=plugin: p, in_code=True)
        if discover_only:
            return
        tables: dict[str, list[str]] = {}
        for record in self.records.values():
            if record.enabled:
                tables[record.name] = self._validate(record)
        table_problems = [line for lines in tables.values() for line in lines]
        # siomw plugins with nothing wrong but a plugin's own table: each on its row
        per_row = self.diagnose and not problems
        if not per_row:
            problems += table_problems
        # every enabled plugin is built, a wrong table's with the keys that validated (the
        # others at their defaults), so that what only building finds (an unset secret) is
        # reported with the rest; nothing is served when anything is wrong
        report_builds = not self.diagnose or bool(problems)
        for record in self.records.values():
            if not record.enabled:
                continue
            try:
                self._build(record)
            except ConfigError as exc:
                if report_builds:
                    problems.append(str(exc))
                record.enabled, record.error = False, str(exc)
            except PluginLoadError as exc:  # strict: raised at once, unless more is wrong
                if not problems:
                    raise
                problems.append(str(exc))
        if per_row:
            for name, lines in tables.items():
                if lines:
                    record = self.records[name]
                    errors = [*lines, *([record.error] if record.error else [])]
                    record.enabled, record.error = False, "\n".join(errors)
        if problems:
            raise ConfigError("\n".join(problems))

    # discovery -----------------------------------------------------------------------
    def _gate(self, record: PluginRecord) -> bool:
        core = self.config.core
        if record.name in self.records:
            log.warning("siomw: plugin name %r is declared twice; keeping the first", record.name)
            return False
        self.records[record.name] = record
        if core.plugins is not None and record.name not in core.plugins:
            record.error = "not in the allow-list (SIOMW_PLUGINS / plugins)"
            return False
        if record.name in core.disable_plugins:
            record.error = "blocked (SIOMW_DISABLE_PLUGINS / disable_plugins)"
            self.pm.set_blocked(record.name)
            return False
        return True

    def _load_entry_point(self, ep: md.EntryPoint) -> None:
        dist = ep.dist
        record = PluginRecord(
            name=ep.name,
            distribution=dist.metadata["Name"] if dist is not None else None,
            version=dist.version if dist is not None else None,
        )
        self._admit(record, ep.load)

    def _admit(self, record: PluginRecord, load: Any, *, in_code: bool = False) -> None:
        if not self._gate(record):
            return
        try:
            plugin = load()
            self.pm.register(plugin, name=record.name)
            # before check_pending: a plugin for a newer contract may implement hooks this
            # core does not know, and "incompatible" says more than "unknown hook"
            compatible = self._check_contract(record, in_code=in_code)
            if compatible:
                self.pm.check_pending()
        except PluginLoadError:  # refused, and fatal: already says everything
            raise
        except Exception as exc:
            self._failed(record, exc, "failed to load")
            compatible = False
        if not compatible:
            if self.pm.has_plugin(record.name):
                self.pm.unregister(name=record.name)
            return
        record.enabled = True

    def _check_contract(self, record: PluginRecord, *, in_code: bool) -> bool:
        """Read ``record``'s contract range; False (recorded, logged or raised as
        :meth:`_failed` does) when it excludes :data:`CONTRACT_VERSION`.

        Raises:
            ContractError: the range is malformed (a load failure of the caller's).
        """
        hook = self._impl("siomw_contract", record.name)
        if hook is None:
            if not in_code and record.name not in _WARNED:
                _WARNED.add(record.name)
                log.warning("siomw: plugin %r%s declares no contract range (hook "
                            "siomw_contract); taken as %r", record.name, _origin(record),
                            LEGACY_RANGE)
            record.contract, record.contract_declared = LEGACY_RANGE, False
            return True
        declared = hook()
        if supports(declared):  # raises ContractError when malformed
            record.contract, record.contract_declared = str(declared), True
            return True
        record.contract, record.contract_declared = str(declared), True
        record.enabled, record.incompatible = False, True
        record.error = (
            f"plugin {record.name!r}{_origin(record)} supports plugin contract "
            f"{declared!r}, but siomw-core {core_version()} implements contract "
            f"{CONTRACT_VERSION}: refused (install a release of it made for contract "
            f"{CONTRACT_VERSION})"
        )
        if self._fatal(record.name):
            raise PluginLoadError(record.error)
        log.error("siomw: %s; skipped", record.error)
        return False

    def _fatal(self, name: str) -> bool:
        return (self.config.core.strict or self._asked_for(name)) and not self.diagnose

    def _failed(self, record: PluginRecord, exc: BaseException, what: str) -> None:
        record.enabled = False
        record.error = f"{type(exc).__name__}: {exc}"
        origin = f" (distribution {record.distribution})" if record.distribution else ""
        if self._fatal(record.name):
            raise PluginLoadError(
                f"plugin {record.name!r}{origin} {what}: {record.error}"
            ) from exc
        log.error("siomw: plugin %r%s %s and is skipped: %s", record.name, origin, what,
                  record.error)
        log.debug("siomw: traceback of plugin %r", record.name, exc_info=exc)

    def _asked_for(self, name: str) -> bool:
        """Named in the allow-list or configured by a table: its failure must not fail open
        (a skipped authentication plugin would let everyone in)."""
        core = self.config.core
        return (core.plugins is not None and name in core.plugins) or name in self.config.tables

    # configuration -------------------------------------------------------------------
    def _check_names(self, known: set[str]) -> list[str]:
        """Every plugin name the configuration uses must be installed: a misspelt name in
        an allow-list would silently drop a plugin (an authentication plugin, say).
        Returns one line per problem."""
        config, names = self.config, ", ".join(sorted(known)) or "none"
        problems = []
        for table in config.tables:
            if table not in known:
                problems.append(
                    f"{config.table_place(table)}: [{table}]: no installed plugin is named "
                    f"{table!r}; expected one of: {names}"
                )
        for key in ("plugins", "disable_plugins"):
            for name in getattr(config.core, key) or ():
                if name not in known:
                    problems.append(
                        f"{config.where(key)}: {key}: no installed plugin is named "
                        f"{name!r}; expected one of: {names}"
                    )
        return problems

    def _impl(self, hook: str, name: str) -> Any:
        plugin = self.pm.get_plugin(name)
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            if impl.plugin is plugin:
                return _by_name(impl)
        return None

    def _validate(self, record: PluginRecord) -> list[str]:
        """Validate ``record``'s table against its schema into ``record.options``; returns
        one line per problem (naming each key's own origin)."""
        schema_hook = self._impl("siomw_config_schema", record.name)
        schema = schema_hook() if schema_hook else None
        raw = self.config.table(record.name)
        if schema is None:
            record.options = None
            if raw:
                return [f"{self.config.table_place(record.name)}: [{record.name}]: plugin "
                        f"{record.name!r} takes no options; found keys {sorted(raw)}"]
            return []
        # what validated, the wrong keys at their defaults (None: not even that): built all
        # the same, so that building reports its own problems with these
        record.options, lines = validate_partial(
            schema, raw, source=self.config.source, table=record.name,
            origins=self.config.origins,
        )
        if record.options is None:
            record.enabled, record.error = False, "\n".join(lines)
        return lines

    def _build(self, record: PluginRecord) -> None:
        """Ask ``record``'s plugin for its middlewares, its declarations going into this
        stack's :attr:`secrets`."""
        build = self._impl("siomw_middlewares", record.name)
        if build is None:
            return
        try:
            with building(self.secrets):
                specs = list(build(config=record.options, settings=self.config.core,
                                   runtime=self.runtime))
            for spec in specs:
                if not isinstance(spec, Middleware):
                    raise TypeError(f"siomw_middlewares returned {spec!r}, not a Middleware")
        except ConfigError as exc:
            # "secret_env: ..." is about one key: name where that key was set
            key = str(exc).partition(":")[0]
            where = (self.config.origins.get((record.name, key))
                     or self.config.table_place(record.name))
            raise ConfigError(f"{where}: [{record.name}]: {exc}") from None
        except Exception as exc:
            self._failed(record, exc, "failed to build its middlewares")
            return
        record.middlewares = [
            spec if spec.plugin else _with_plugin(spec, record.name) for spec in specs
        ]

    # results -------------------------------------------------------------------------
    def middlewares(self, level: str | None = None) -> list[Middleware]:
        """Every enabled plugin's middlewares, optionally of one ``level``."""
        out: list[Middleware] = []
        for record in self.records.values():
            if record.enabled:
                out.extend(m for m in record.middlewares if level is None or m.level == level)
        return out

    def plugins(self) -> Iterable[PluginRecord]:
        """Every plugin seen, enabled or not, by name."""
        return sorted(self.records.values(), key=lambda r: r.name)


#: plugins already warned about in this process for declaring no contract range
_WARNED: set[str] = set()


def _origin(record: PluginRecord) -> str:
    """`` (distribution siomw-x 1.2.0)``, or nothing for an in-code plugin."""
    if record.distribution is None:
        return ""
    version = f" {record.version}" if record.version else ""
    return f" (distribution {record.distribution}{version})"


def _by_name(impl: pluggy.HookImpl) -> Callable[..., Any]:
    """``impl`` called as pluggy calls it: with only the hook arguments it declares, so that
    an implementation written before an argument was added keeps working."""
    function, names = impl.function, impl.argnames

    def call(**kwargs: Any) -> Any:
        return function(**{name: kwargs[name] for name in names if name in kwargs})

    return call


def _with_plugin(spec: Middleware, plugin: str) -> Middleware:
    return replace(spec, plugin=plugin)
