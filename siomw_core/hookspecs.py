"""The plugin contract: the hooks a siomw plugin implements (pluggy project ``"siomw"``).

A plugin is a module (or object) registered under the entry-point group ``siomw``::

    [project.entry-points.siomw]
    audit = "siomw_audit"

Its entry-point name (``audit``) is the plugin's name and the name of its config table
(``[audit]`` in ``siomw.toml``). It implements the hooks below with ``@hookimpl``. Every
hook is documented in ``docs/plugins/writing.md``; a test fails when one is not. The hooks'
version is :data:`~siomw_core.CONTRACT_VERSION` (``siomw_core.contract``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .config import CoreSettings
    from .middleware import Middleware
    from .observe import Observer
    from .runtime import Runtime

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "siomw"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec(firstresult=True)
def siomw_contract() -> str:  # type: ignore[empty-body]
    """Return the range of plugin contract versions this plugin supports, a PEP 440
    specifier such as ``">=1,<2"`` (any 1.x; see :mod:`siomw_core.contract` for what bumps
    the major and the minor number).

    Read when the plugin is loaded, before its table is validated or its middlewares
    built: a range that excludes :data:`~siomw_core.CONTRACT_VERSION` refuses the plugin
    with a message naming it, its distribution and version, the range, and the core's
    version and contract version (skipped, or fatal in strict mode or when the plugin is
    asked for by name); ``siomw plugins`` shows it as ``incompatible``. A malformed range
    is a load failure naming the plugin. A plugin that implements no ``siomw_contract`` is
    taken as ``">=1,<2"`` (it predates the versioned contract, which began at 1.0).
    """


@hookspec
def siomw_config_schema() -> type[BaseModel] | None:
    """Return the pydantic model that validates this plugin's config table.

    The table named like the plugin (``[jwt]`` for the plugin ``jwt``) is validated against
    it at startup; a model with ``extra="forbid"`` turns a misspelt key into an error that
    names the file, table and key. Defaults of the model are the plugin's embedded defaults.
    Return None for a plugin without options.
    """


@hookspec
def siomw_middlewares(  # type: ignore[empty-body]
    config: Any, settings: CoreSettings, runtime: Runtime
) -> Sequence[Middleware]:
    """Return the middlewares this plugin contributes, at any level.

    Called once at startup, after configuration is validated. An implementation takes the
    arguments it needs, by name (pluggy passes only those): ``(config, settings)`` is
    enough for a plugin that runs the same on every server kind.

    Args:
        config: an instance of the model from :func:`siomw_config_schema` (or None).
        settings: the validated core settings (``strict``, ``connect_timeout``, ...).
        runtime: the server kind's services (:class:`~siomw_core.runtime.Runtime`):
            ``runtime.blocking`` is True on a sync ``socketio.Server``, where the members
            run in the request's thread and must call blocking APIs; ``call_later`` and
            ``spawn`` for timers and background work on every kind.

    Returns:
        The plugin's :class:`~siomw_core.Middleware` specs; each declares its name, level,
        priority, ``before``/``after`` and namespaces. An empty sequence contributes nothing.

    Raise :class:`~siomw_core.ConfigError` for a configuration that validates but cannot
    work (a missing secret, say); any exception marks the plugin as failed (skipped, or
    fatal in strict mode).
    """


@hookspec
def siomw_register_commands(cli: Any) -> None:
    """Add commands to the ``siomw`` command line (a :class:`click.Group`).

    A command finds the configured registry through the click context::

        @cli.command()
        @click.pass_obj
        def token(state):              # state: siomw_core.cli.CliState
            options = state.plugin_options("jwt")   # the validated [jwt] table

    ``state.plugin_options(name)`` loads the configuration named by ``--config`` on first
    use and raises :class:`click.ClickException` when the plugin is not enabled.
    """


@hookspec
def siomw_startup(config: Any, settings: CoreSettings, runtime: Runtime) -> Awaitable[None] | None:
    """Open what the plugin's middlewares share (connection pools, clients), before the
    first request is served.

    Called once per start of the stack, after :func:`siomw_middlewares`, on every enabled
    plugin in plugin-name order, with the arguments it declares (as
    :func:`siomw_middlewares`). Write it once for every server kind: return an awaitable
    (an ``async def`` implementation) and siomw awaits it on the event loop of an
    ``AsyncServer``, or drives it in the calling thread on a sync ``socketio.Server``
    (:func:`~siomw_core.drive`: every await inside must complete at once, so use blocking
    APIs when ``runtime.blocking``). When it runs, per server kind, is in
    ``docs/plugins/writing.md`` ("Startup and shutdown"): the ASGI lifespan, aiohttp's
    ``on_startup``, or the first engine request.

    Args:
        config, settings, runtime: as :func:`siomw_middlewares`.

    Raises:
        Exception: any exception fails the start: ``mw.startup()`` raises it, an ASGI
            lifespan answers ``lifespan.startup.failed``; a start made by the first
            request logs it with the plugin's name and serves on.
    """


@hookspec
def siomw_shutdown(config: Any, settings: CoreSettings, runtime: Runtime) -> Awaitable[None] | None:
    """Close what :func:`siomw_startup` opened, after the last request.

    Called once per stop of a started stack, on every enabled plugin in reverse
    plugin-name order, awaited or driven like :func:`siomw_startup`: the ASGI lifespan's
    shutdown, aiohttp's ``on_cleanup``, the end of the event loop, or the process' exit
    (``atexit``) on a sync server. The stack may be started again afterwards (a new event
    loop, a new lifespan): release, do not destroy.

    Args:
        config, settings, runtime: as :func:`siomw_middlewares`.

    An exception is logged with the plugin's name and the other plugins still shut down.
    """


@hookspec
def siomw_observer(config: Any, settings: CoreSettings, runtime: Runtime) -> Observer | None:
    """Return an :class:`~siomw_core.Observer` that the core tells about every chain run.

    Called once when the stack is attached (after :func:`siomw_middlewares`), on every
    enabled plugin in plugin-name order, with the arguments it declares (as
    :func:`siomw_middlewares`). The core then reports each run of the engine, connect and
    event chains (``chain_done``), each member of it with its own time (``member_done``)
    and each accepted and ended connection (``socket_connected``, ``socket_disconnected``):
    a plugin that measures (``siomw-metrics``) needs no member around the others. Return
    None to observe nothing; without any observer nothing is timed.

    Args:
        config, settings, runtime: as :func:`siomw_middlewares`.

    An exception is logged with the plugin's name, and the plugin observes nothing; an
    observer method that raises is logged once and never changes a chain's outcome
    (:mod:`siomw_core.observe`).
    """
