"""The ``siomw`` command line: ``serve``, ``plugins``, ``chain``, and plugins' commands.

``--config PATH`` is one click option shared by the group and every command, plugin
commands included, so it is accepted before and after the command name. Plugin commands
come from the same :class:`~siomw_core.registry.Registry` that serves (allow/block lists
of the environment and of that configuration honoured): a blocked plugin has no commands.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from .catalog import catalog_command
from .config import Config, load_config
from .contract import CONTRACT_VERSION
from .errors import ConfigError, OrderingError, PluginLoadError
from .registry import Registry
from .scaffold import new_plugin
from .serve_command import build_or_fail, run_serve
from .serve_tuning import ENV as TUNING_ENV
from .serve_tuning import GC_THRESHOLD_MAX

__all__ = ["CliState", "main"]

log = logging.getLogger("siomw")
F = TypeVar("F", bound=Callable[..., Any])
_STARTUP_ERRORS = (ConfigError, PluginLoadError, OrderingError)


class CliState:
    """What every command shares: the ``--config`` path and, once loaded, the registry.

    Args:
        config_path: the ``--config`` value (None: ``$SIOMW_CONFIG``, ``./siomw.toml``,
            embedded defaults).
    """

    def __init__(self, config_path: str | None = None) -> None:
        self.config_path = config_path
        self._config: Config | None = None
        self._registry: Registry | None = None
        self._registry_error: click.ClickException | None = None
        self._commands: dict[str, click.Command] | None = None
        #: why the configuration cannot serve, found while listing plugin commands
        self.commands_problem: str | None = None

    def set_config_path(self, path: str) -> None:
        """Use ``path`` (a later ``--config`` wins); what was loaded from another is dropped."""
        if path != self.config_path:
            self.config_path = path
            self._config = self._registry = self._commands = None
            self._registry_error = None
            self.commands_problem = None

    def config(self) -> Config:
        """The loaded configuration. Raises click.ClickException on a config error."""
        if self._config is None:
            try:
                # check=False: the registry raises these with every plugin table's own
                self._config = load_config(self.config_path, check=False)
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
        return self._config

    def registry(self) -> Registry:
        """The plugin registry for this configuration (loaded once; a failure is raised
        again as it was, without loading the plugins again)."""
        if self._registry_error is not None:
            raise self._registry_error
        if self._registry is None:
            try:
                self._registry = Registry(self.config())
            except _STARTUP_ERRORS as exc:
                self._registry_error = click.ClickException(str(exc))
                raise self._registry_error from None
        return self._registry

    def plugin_options(self, name: str) -> Any:
        """The validated config table of plugin ``name``.

        Raises:
            click.ClickException: the plugin is not installed or not enabled.
        """
        record = self.registry().records.get(name)
        if record is None or not record.enabled:
            why = "not installed" if record is None else record.error
            raise click.ClickException(f"plugin {name!r} is not enabled: {why}")
        return record.options

    def plugin_commands(self) -> dict[str, click.Command]:
        """Commands of the enabled plugins (hook ``siomw_register_commands``), by name,
        each taking ``--config`` too.

        A plugin's commands are there even when the configuration has problems (a wrong
        table, an unset secret): the plugins are then only discovered and gated by the
        allow/block lists (:attr:`commands_problem` says why), and a command that needs its
        options reports the problem when run (:meth:`plugin_options`).

        Raises:
            click.ClickException: the configuration file cannot be read at all (its
                allow/block lists are unknown).
        """
        if self._commands is None:
            group = click.Group("siomw")
            try:
                registry = self.registry()
            except click.ClickException as exc:
                self.commands_problem = exc.message
                registry = Registry(self.config(), discover_only=True)
            registry.pm.hook.siomw_register_commands(cli=group)
            for command in group.commands.values():
                _take_config(command)
            self._commands = dict(group.commands)
        return self._commands


def _store_config(ctx: click.Context, _param: Any, value: str | None) -> None:
    state = ctx.ensure_object(CliState)
    if value is not None:
        state.set_config_path(value)
        # an APP that calls siomw_core.attach(sio) itself, and uvicorn's workers, read it
        os.environ["SIOMW_CONFIG"] = os.path.abspath(value)


def _config_param() -> click.Option:
    return click.Option(
        ["--config"], type=click.Path(dir_okay=False), default=None, expose_value=False,
        is_eager=True, callback=_store_config,
        help="siomw.toml or pyproject.toml to read (default: $SIOMW_CONFIG, ./siomw.toml, "
        "then embedded defaults); before or after the command name.",
    )


def config_option(func: F) -> F:
    """Decorator: the shared ``--config`` option (a command's own, not a group's only)."""
    params = getattr(func, "__click_params__", None)
    if params is None:
        params = func.__click_params__ = []  # type: ignore[attr-defined]
    params.append(_config_param())
    return func


def _take_config(command: click.Command) -> None:
    if not any("--config" in getattr(p, "opts", ()) for p in command.params):
        command.params.append(_config_param())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _take_config(sub)


def _config_after(args: Sequence[str]) -> str | None:
    """The last ``--config`` value among a command's arguments (before ``--``)."""
    found = None
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--config" and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith("--config="):
            found = arg.partition("=")[2]
    return found


class _Group(click.Group):
    """Built-in commands, then the enabled plugins' commands of the configuration in use."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        path = _config_after(args[1:])  # `siomw token --config f.toml`: f.toml's plugins
        if path is not None:
            _store_config(ctx, None, path)
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            command = ctx.ensure_object(CliState).plugin_commands().get(cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        state = ctx.ensure_object(CliState)
        try:
            names.update(state.plugin_commands())
        except click.ClickException as exc:
            click.echo(f"siomw: plugin commands unavailable: {exc.message}", err=True)
        else:
            if state.commands_problem is not None:
                click.echo(f"siomw: the configuration has problems (a command that needs "
                           f"it reports them): {state.commands_problem}", err=True)
        return sorted(names)


@click.group(cls=_Group)
@config_option
def cli() -> None:
    """siomw: Socket.IO middleware chains for python-socketio."""


cli.add_command(new_plugin)
cli.add_command(catalog_command)
_take_config(catalog_command)  # accepted like every command's; the catalog reads no config


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``siomw`` script."""
    cli.main(args=argv, prog_name="siomw")


@cli.command()
@click.argument("app", required=False)
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port (0: any free port; the one taken is printed).")
@click.option("--uds", type=click.Path(dir_okay=False), default=None,
              help="Bind to this UNIX domain socket instead of host and port.")
@click.option("--reload", is_flag=True, help="Restart when files in the working directory "
              "change (development).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes (state is per process: see the warning it prints).")
@click.option("--threads", type=click.IntRange(min=1), default=None, show_default="100",
              help="gunicorn's gthread worker (a sync socketio.Server, threading mode): "
              "threads per worker, each WebSocket client holding one.")
@click.option("--log-level", type=click.Choice(
    ["critical", "error", "warning", "info", "debug", "trace"]), default=None,
    help="The server's and siomw's log level (default: the server warning, siomw info); "
    "secrets in the server's lines (query parameters, headers, cookies, frames) are redacted.")
@click.option("--access-log/--no-access-log", default=False, show_default=True,
              help="The server's own access log (redacted); off by default: the logging "
              "plugin's access log is siomw's.")
@click.option("--root-path", default="", help="The mount prefix behind a proxy that strips "
              "it (ASGI root_path, uvicorn only); the engine path is matched below it.")
@click.option("--proxy-headers/--no-proxy-headers", default=False, show_default=True,
              help="Trust X-Forwarded-For / Forwarded from --forwarded-allow-ips: sets "
              "trusted_proxies (uvicorn itself never rewrites the client address).")
@click.option("--forwarded-allow-ips", default=None, help="Comma-separated proxy addresses "
              "and networks, '*' for any (implies --proxy-headers; default with "
              "--proxy-headers: $FORWARDED_ALLOW_IPS or 127.0.0.1).")
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False), default=None,
              help="TLS private key file.")
@click.option("--ssl-certfile", type=click.Path(exists=True, dir_okay=False), default=None,
              help="TLS certificate file (serves https:// and wss://).")
@click.option("--ssl-keyfile-password", default=None, help="Password of the key file.")
@click.option("--gc-freeze/--no-gc-freeze", default=None,
              help="gc.freeze() once the server started [default: on; $SIOMW_GC_FREEZE].")
@click.option("--gc-threshold", type=click.IntRange(0, GC_THRESHOLD_MAX), default=None,
              help="The cyclic GC's first-generation threshold, 0: the interpreter's "
              "[default: 10000; $SIOMW_GC_THRESHOLD].")
@click.option("--ws-per-message-deflate", type=bool, default=None,
              help="uvicorn's WebSocket per-message deflate, as uvicorn's own option "
              "[default: false; $SIOMW_WS_PER_MESSAGE_DEFLATE].")
@click.pass_obj
def serve(state: CliState, /, app: str | None, **options: Any) -> None:
    """Serve APP with the installed plugins and the configuration, under the server of its
    kind: uvicorn (ASGI), aiohttp's runner (aiohttp), gunicorn with threads or gevent (a sync
    socketio.Server, Flask-SocketIO).

    APP is module:attribute naming a socketio.AsyncServer, a socketio.ASGIApp, the app
    mw.asgi_app() returned, or an ASGI application (FastAPI, Starlette) holding one of them
    (mounted or as other_asgi_app); an aiohttp web.Application with a Socket.IO server
    attached; a socketio.Server or a WSGI app wrapping it (socketio.WSGIApp); a Flask app
    with Flask-SocketIO, or its SocketIO object. Without APP, serves the bundled demo:
    namespace / echoes an `echo` event through its ack, /admin requires the scope `admin`.
    """
    # the speed settings travel as environment variables, so that --workers/--reload
    # processes and gunicorn's re-executed interpreter read the same (serve_tuning.py)
    for name, variable in TUNING_ENV.items():
        value = options.pop(name)
        if value is not None:
            os.environ[variable] = str(int(value))
    run_serve(state, app, **options)


@cli.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.pass_obj
def plugins(state: CliState, as_json: bool) -> None:
    """List installed plugins: name, distribution, version, contract range, middlewares,
    status (enabled, disabled, failed, incompatible), error.

    Exits with status 1 when a plugin failed to load or to configure, or its contract range
    excludes this core's (it is listed with its error).
    """
    try:  # diagnose: list every failure instead of stopping at the first
        registry = Registry(state.config(), diagnose=True)
    except _STARTUP_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    records = list(registry.plugins())
    failed = [r for r in records if r.status in ("failed", "incompatible")]
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in records], indent=2))
        if failed:
            sys.exit(1)
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"siomw plugins ({state.config().source}; plugin contract "
                  f"{CONTRACT_VERSION})")
    for column in ("name", "distribution", "version", "contract", "middlewares", "priority",
                   "status", "load error"):
        table.add_column(column)
    for r in records:
        table.add_row(
            r.name,
            r.distribution or "-",
            r.version or "-",
            r.contract_shown,
            ", ".join(f"{m.level}:{m.name}" for m in r.middlewares) or "-",
            ", ".join(str(m.priority) for m in r.middlewares) or "-",
            r.status,
            escape(r.error or ""),  # "[jwt]" in an error is text, not rich markup
        )
    Console(width=160).print(table)
    if failed:
        sys.exit(1)


@cli.command()
@click.argument("app", required=False)
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.pass_obj
def chain(state: CliState, app: str | None, as_json: bool) -> None:
    """Show every chain of APP (default: the demo app) in order, and why each member is there.

    APP is what `siomw serve` takes; when it holds several Socket.IO servers, the chains of
    the first are shown (the others are named on stderr).
    """
    served = build_or_fail(state.config(), app)
    if len(served.stacks) > 1:
        click.echo(f"siomw: APP holds {len(served.stacks)} Socket.IO servers "
                   f"({'; '.join(served.found)}); showing the first", err=True)
    if not served.stacks:
        raise click.ClickException(f"no siomw stack to show: {served.found[0]}")
    described = served.stacks[0].describe()
    if as_json:
        click.echo(json.dumps(described, indent=2))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=160)
    handlers = described.pop("handlers", {})
    for level, chains in described.items():
        by_title = (
            {f"{level} chain": chains} if isinstance(chains, list)
            else {f"{level} chain of {ns!r}": members for ns, members in chains.items()}
        )
        for title, members in by_title.items():
            table = Table(title=title)
            for column in ("#", "name", "plugin", "priority", "placed by"):
                table.add_column(column)
            for i, m in enumerate(members, 1):
                table.add_row(str(i), m["name"], m["plugin"] or "(app)", str(m["priority"]),
                              m["reason"])
            console.print(table)
    for ns, events in handlers.items():
        table = Table(title=f"event handlers of {ns!r}")
        for column in ("event", "plugin", "requires", "from"):
            table.add_column(column)
        for event, requirements in events.items():
            if not requirements:
                table.add_row(escape(event), "", "(nothing)", "")
            for r in requirements:
                options = ", ".join(f"{k}={v!r}" for k, v in r.items()
                                    if k not in ("plugin", "kind", "source", "config"))
                where = r.get("config") or r.get("source", "")
                # "[jwt.events...]" is text, not rich markup
                table.add_row(escape(event), escape(r["plugin"]),
                              escape(f"{r['kind']}: {options}" if options else r["kind"]),
                              escape(str(where)))
        console.print(table)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
