"""The ``siomw`` command line: ``serve``, ``plugins``, ``chain``, and plugins' commands."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

import click

from .config import Config, load_config
from .errors import ConfigError, OrderingError, PluginLoadError
from .levels.engine import EngineApp
from .registry import Registry

__all__ = ["CliState", "main"]


class CliState:
    """What every command shares: the ``--config`` path and, once loaded, the registry.

    Args:
        config_path: the ``--config`` value (None: ``$SIOMW_CONFIG``, ``./siomw.toml``,
            embedded defaults).
    """

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config: Config | None = None
        self._registry: Registry | None = None

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
        """The plugin registry for this configuration (loaded once)."""
        if self._registry is None:
            try:
                self._registry = Registry(self.config())
            except (ConfigError, PluginLoadError, OrderingError) as exc:
                raise click.ClickException(str(exc)) from None
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


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="siomw.toml or pyproject.toml to read (default: $SIOMW_CONFIG, ./siomw.toml, "
    "then embedded defaults).",
)


class _Group(click.Group):
    """Adds plugins' commands (hook ``siomw_register_commands``) when the group is built."""


@click.group(cls=_Group)
@config_option
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """siomw: Socket.IO middleware chains for python-socketio."""
    if config_path is not None:
        # an APP that calls siomw_core.attach(sio) itself reads the same file
        os.environ["SIOMW_CONFIG"] = os.path.abspath(config_path)
    ctx.obj = CliState(config_path)


def _load_plugin_commands() -> None:
    """Ask installed plugins for commands; a failing plugin is reported, not fatal."""
    import importlib.metadata as md

    import pluggy

    from . import hookspecs

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for ep in md.entry_points(group="siomw"):
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:  # reported by `siomw plugins`; commands must still work
            logging.getLogger("siomw").debug("plugin %s failed to load: %s", ep.name, exc)
    pm.hook.siomw_register_commands(cli=cli)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``siomw`` script."""
    _load_plugin_commands()
    cli.main(args=argv, prog_name="siomw")


def _load_target(app: str | None) -> Any:
    """Import ``module:attribute`` naming a ``socketio.AsyncServer`` or a
    ``socketio.ASGIApp`` (None: the demo server).

    Raises:
        click.BadParameter: APP is malformed, cannot be imported or names something else.
        click.ClickException: importing it raised a siomw configuration error.
    """
    import importlib

    import socketio

    if app is None:
        from . import demo

        return demo.create_server()
    module_name, sep, attr = app.partition(":")
    if not sep or not module_name or not attr:
        raise click.BadParameter(f"expected module:attribute, got {app!r}", param_hint="APP")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except (ConfigError, PluginLoadError, OrderingError) as exc:  # its attach() failed
        raise click.ClickException(str(exc)) from None
    except ImportError as exc:
        raise click.BadParameter(
            f"cannot import {module_name!r}: {exc}", param_hint="APP"
        ) from None
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise click.BadParameter(
                f"module {module_name!r} has no attribute {attr!r}", param_hint="APP"
            ) from None
    if not isinstance(target, socketio.AsyncServer | socketio.ASGIApp | EngineApp):
        raise click.BadParameter(
            f"{app} is a {type(target).__name__}, not a socketio.AsyncServer or "
            f"socketio.ASGIApp", param_hint="APP"
        )
    return target


def _stack(state: CliState, app: str | None) -> tuple[Any, Any]:
    """``(stack, asgi_app)`` for APP: siomw attached to its server (reusing an attach()
    the app did itself) and the ASGI application to serve (its other routes kept)."""
    import socketio

    from . import demo
    from .server import Siomw

    target = _load_target(app)
    if isinstance(target, EngineApp):
        sio, served = target.sio, target
    elif isinstance(target, socketio.ASGIApp):
        sio, served = target.engineio_server, target
    else:
        sio, served = target, None
    stack = getattr(sio, "_siomw_stack", None)
    try:
        if stack is None:
            config = state.config()
            stack = Siomw(sio, config=demo.demo_config(config) if app is None else config)
        if served is None:
            demo_app = getattr(demo, "demo_asgi_app", None)
            served = demo_app(stack) if app is None and demo_app else stack.asgi_app()
        elif not isinstance(served, EngineApp):
            served = stack.wrap(served)
        stack.check()
    except (ConfigError, PluginLoadError, OrderingError) as exc:
        raise click.ClickException(str(exc)) from None
    return stack, served


@cli.command()
@click.argument("app", required=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port (0: any free port).")
@click.pass_obj
def serve(state: CliState, app: str | None, host: str, port: int) -> None:
    """Serve APP (module:attribute naming a socketio.AsyncServer or socketio.ASGIApp).

    Without APP, serves the bundled demo: namespace / echoes an `echo` event through its ack,
    /admin requires the scope `admin`.
    """
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    stack, served = _stack(state, app)
    connect = [p.middleware.name for p in stack.placed("connect", "/")]
    engine = [p.middleware.name for p in stack.placed("engine")]
    click.echo(f"siomw: config {stack.config.source}; engine chain: "
               f"{' -> '.join(engine) or '(empty)'}; connect chain of '/': "
               f"{' -> '.join(connect) or '(empty)'}", err=True)
    # proxy_headers=False: forwarded headers are not trusted unless proxies are configured
    uvicorn.run(served, host=host, port=port, log_level="warning", proxy_headers=False)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.pass_obj
def plugins(state: CliState, as_json: bool) -> None:
    """List installed plugins: name, distribution, version, middlewares, enabled, error.

    Exits with status 1 when a plugin failed to load or to configure (it is listed with
    its error).
    """
    try:  # diagnose: list every failure instead of stopping at the first
        registry = Registry(state.config(), diagnose=True)
    except (ConfigError, PluginLoadError, OrderingError) as exc:
        raise click.ClickException(str(exc)) from None
    records = list(registry.plugins())
    failed = [r for r in records if r.error and not r.error.startswith(("not in", "blocked"))]
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in records], indent=2))
        if failed:
            sys.exit(1)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"siomw plugins ({state.config().source})")
    for column in ("name", "distribution", "version", "middlewares", "priority", "enabled",
                   "load error"):
        table.add_column(column)
    from rich.markup import escape

    for r in records:
        table.add_row(
            r.name,
            r.distribution or "-",
            r.version or "-",
            ", ".join(f"{m.level}:{m.name}" for m in r.middlewares) or "-",
            ", ".join(str(m.priority) for m in r.middlewares) or "-",
            "yes" if r.enabled else "no",
            escape(r.error or ""),  # "[jwt]" in an error is text, not rich markup
        )
    Console(width=160).print(table)
    if failed:
        sys.exit(1)


@cli.command()
@click.argument("app", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.pass_obj
def chain(state: CliState, app: str | None, as_json: bool) -> None:
    """Show every chain of APP (default: the demo app) in order, and why each member is there."""
    stack, _ = _stack(state, app)
    described = stack.describe()
    if as_json:
        click.echo(json.dumps(described, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
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


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
