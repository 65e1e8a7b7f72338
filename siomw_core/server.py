"""The middleware stack of one python-socketio server: ``attach(sio)`` and ``use``.

Node's API, in Python terms::

    mw = siomw_core.attach(sio)            # plugins and siomw.toml, as siomw serve does

    @mw.use                                 # io.use(fn): the main namespace "/"
    async def audit(socket, call_next): ...

    @mw.of("/admin").use(priority=50, after=["jwt"])   # io.of("/admin").use(fn)
    async def admins_only(socket, call_next): ...

    @mw.event.use                           # socket.use(fn), for every socket of "/"
    async def audit_events(event, call_next): ...

Chains are composed once per namespace and recomposed only when a middleware is added.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any, overload

import socketio

from .adapters.asgi_http import EngineApp
from .adapters.async_server import AsyncServerAdapter
from .adapters.base import ServerAdapter
from .adapters.engine_seam import install_engine
from .adapters.lifecycle_seams import LifespanApp, install_lifecycle, stop_at_exit
from .adapters.sync_server import SyncServerAdapter
from .composing import Composing
from .config import Config, load_config
from .contract import keeps_connection
from .describe import describe, handlers
from .errors import ConfigError, OrderingError, PluginLoadError, exiting
from .levels.connect import ConnectLevel
from .levels.event import EventLevel
from .lifecycle import Lifecycle
from .middleware import ConnectMiddleware, Middleware
from .observe import install_observers
from .proxies import TrustedProxies
from .registrars import Decorator, Engine, Namespace, register
from .registrars import Event as EventRegistrar
from .registry import Registry
from .runtime import Runtime

__all__ = ["Siomw", "attach"]

log = logging.getLogger("siomw")


def server_adapter(server: Any) -> ServerAdapter:
    """The adapter of ``server``'s kind: ``socketio.AsyncServer`` (ASGI, aiohttp),
    ``socketio.Server`` (WSGI threads, gevent, eventlet), or a ``flask_socketio.SocketIO``
    (its ``server``, a ``socketio.Server``, made by ``SocketIO(app)`` or ``init_app``).

    Raises:
        TypeError: none of these, or a ``SocketIO`` whose ``init_app`` has not run yet.
    """
    if isinstance(server, socketio.AsyncServer):
        return AsyncServerAdapter(server)
    if isinstance(server, socketio.Server):
        return SyncServerAdapter(server)
    if type(server).__module__.startswith("flask_socketio") and hasattr(server, "server"):
        if server.server is None:
            raise TypeError("siomw: this flask_socketio.SocketIO has no server yet: attach "
                            "after SocketIO(app) or socketio.init_app(app)")
        return server_adapter(server.server)
    raise TypeError(f"siomw attaches to a socketio.AsyncServer, a socketio.Server or a "
                    f"flask_socketio.SocketIO, not {type(server).__name__}")


class Siomw(Composing):
    """Middleware chains for one python-socketio server, from plugins and from code.

    Args:
        sio: the server to attach to: ``socketio.AsyncServer`` (ASGI, aiohttp),
            ``socketio.Server`` (WSGI under threads or gevent) or a
            ``flask_socketio.SocketIO`` (its ``server``).
        config: a :class:`Config`, or a path to ``siomw.toml`` / ``pyproject.toml``;
            ``None`` looks for ``$SIOMW_CONFIG``, ``./siomw.toml``, then embedded defaults.
        local_plugins: plugins registered in code, as ``(name, module_or_object)`` pairs,
            beside the installed ones (the allow/block lists apply to them too).
        entry_points: discover installed plugins (default True).
        **core: top-level config keys set in code (``connect_timeout=5``, ``strict=True``,
            ``plugins=["jwt"]``, ...); they win over the file and the environment.

    Raises:
        ConfigError: invalid configuration (the message names file, table, key).
        OrderingError: a chain cannot be ordered (a cycle, or strict absent references).
        PluginLoadError: in strict mode, a plugin failed.
    """

    def __init__(
        self,
        sio: socketio.AsyncServer | socketio.Server | Any,
        *,
        config: Config | str | os.PathLike[str] | None = None,
        local_plugins: Sequence[tuple[str, object]] = (),
        entry_points: bool = True,
        **core: Any,
    ) -> None:
        adapter = server_adapter(sio)
        self.sio = sio = adapter.sio
        #: the server kind's services (timers, background work, ``blocking``)
        self.runtime: Runtime = adapter.runtime
        # keyword overrides are validated like any source and never change a Config passed
        # in; every problem (core keys, keywords, plugin tables) is raised by the registry
        if not isinstance(config, Config):
            config = load_config(config, overrides=core, check=False)
        else:
            config = config.with_overrides(core)
        self.config = config
        self.registry = Registry(config, local_plugins=local_plugins, entry_points=entry_points,
                                 runtime=self.runtime)
        self._own: list[Middleware] = []
        self._chains: dict[str | None, tuple[Middleware, ...]] = {}
        self._engine_chains: dict[bool, tuple[Middleware, ...]] = {}
        self._named: frozenset[str] | None = None
        self._event_chains: dict[str | None, tuple[Middleware, ...]] = {}
        self._event_named: frozenset[str] | None = None
        self._warned: set[str] = set()
        self.proxies = TrustedProxies(config.core.trusted_proxies, config.core.forwarded_headers)
        self.connect_level = ConnectLevel(adapter, self.connect_chain,
                                          config.core.connect_timeout, self.proxies,
                                          guarded=self._named_namespaces)
        self.connect_level.install()
        settings = config.core
        self.event_level = EventLevel(adapter, self.event_chain,
                                      self.connect_level.sockets, settings.event_timeout,
                                      settings.event_error_event, settings.strict)
        self.event_level.install(sio)
        sio._siomw_stack = self
        self.engine = Engine(self)
        #: Node's ``socket.use`` for every socket of the main namespace: ``mw.event.use(fn)``
        self.event = EventRegistrar(self, "/")
        #: the engine level, in eio.handle_request: any serving (None: an async_mode without
        #: an engine adapter)
        self.engine_level = install_engine(sio, self.engine_chain, self.proxies)
        if self.engine_level is not None:  # plugins made for contract 1.0/1.1 (see 1.2)
            self.engine_level.keepers = _keepers(self.registry)
        #: the plugins' startup and shutdown hooks (:mod:`siomw_core.lifecycle`)
        self.lifecycle = Lifecycle(self.registry)
        install_lifecycle(sio, self.lifecycle, blocking=self.runtime.blocking)
        if not self.runtime.blocking:  # coroutine functions, as python-engineio's
            # ASGIApp(on_startup=mw.startup, on_shutdown=mw.shutdown) needs to await them
            self.startup = self.lifecycle.ensure_started  # type: ignore[method-assign]
            self.shutdown = self.lifecycle.run_shutdown  # type: ignore[method-assign]
        #: what plugins observe of every chain run (``siomw_observer`` hooks; None: nobody)
        self.observer = install_observers(self)
        self.check()  # a cycle is a startup error, not a connect error

    # starting and stopping ------------------------------------------------------------
    def startup(self) -> Any:
        """Run the plugins' ``siomw_startup`` hooks now (once; nothing when started):
        ``await mw.startup()`` on an ``AsyncServer`` (on the loop that will serve),
        ``mw.startup()`` on a sync ``socketio.Server`` (in the calling thread; the
        shutdown then also runs at the process' exit). Usually not needed: each server
        kind starts the stack by itself (``docs/plugins/writing.md``, "Startup and
        shutdown"), at the latest at its first engine request.

        On an ``AsyncServer`` it is a coroutine function (the stack's
        ``lifecycle.ensure_started``), so that a hand-built ``socketio.ASGIApp(sio,
        on_startup=mw.startup, on_shutdown=mw.shutdown)`` awaits it.

        Returns:
            A coroutine on an ``AsyncServer``, None on a sync server.

        Raises:
            PluginLoadError: a plugin's startup hook raised (its name in the message).
        """
        if self.runtime.blocking:
            if self.lifecycle.start_blocking():
                stop_at_exit(self.lifecycle)
            return None
        return self.lifecycle.ensure_started()

    def shutdown(self) -> Any:
        """Run the plugins' ``siomw_shutdown`` hooks now (once per start; nothing when not
        started): ``await mw.shutdown()`` on an ``AsyncServer``, ``mw.shutdown()`` on a
        sync server. A hook that raises is logged with its plugin's name.

        Returns:
            A coroutine on an ``AsyncServer``, None on a sync server.
        """
        if self.runtime.blocking:
            self.lifecycle.stop_blocking()
            return None
        return self.lifecycle.run_shutdown()

    # registering -----------------------------------------------------------------------
    @overload
    def use(
        self,
        fn: ConnectMiddleware,
        /,
        *,
        name: str | None = None,
        priority: int = 0,
        before: str | Iterable[str] | None = None,
        after: str | Iterable[str] | None = None,
        namespace: str | Iterable[str] | None = "/",
    ) -> ConnectMiddleware: ...
    @overload
    def use(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        priority: int = 0,
        before: str | Iterable[str] | None = None,
        after: str | Iterable[str] | None = None,
        namespace: str | Iterable[str] | None = "/",
    ) -> Decorator: ...

    def use(
        self,
        fn: ConnectMiddleware | None = None,
        /,
        *,
        name: str | None = None,
        priority: int = 0,
        before: str | Iterable[str] | None = None,
        after: str | Iterable[str] | None = None,
        namespace: str | Iterable[str] | None = "/",
    ) -> ConnectMiddleware | Decorator:
        """Add a connect-level middleware: Node's ``io.use(fn)``.

        Usable as ``mw.use(fn)``, ``@mw.use`` or ``@mw.use(priority=..., before=...)``.
        Like Node's, it applies to the main namespace ``"/"`` only; pass ``namespace=None``
        for every namespace, or use :meth:`of`.

        Args:
            fn: ``async def fn(socket, call_next) -> None``.
            name: the name in chains and ordering (default: the function's ``__name__``).
            priority: higher runs first among unconstrained members (default 0; the bundled
                plugins use 1000-3000, so application middlewares run inside them).
            before: names this middleware runs before.
            after: names this middleware runs after.
            namespace: the namespace(s) it guards; ``None`` for all. A namespace named
                here is accepted by the server even without a connect handler.

        Returns:
            ``fn`` itself (so it stays callable), or a decorator.

        Raises:
            OrderingError: the new member makes a chain unorderable (nothing is added).
        """

        return register(self, fn, "connect", name=name, priority=priority, before=before,
                        after=after, namespaces=namespace)

    def of(self, namespace: str) -> Namespace:
        """Node's ``io.of(namespace)``: an object whose ``use`` guards that namespace.

        As with Node's ``io.of(ns).use(fn)``, a namespace that a middleware guards is one the
        server accepts, with or without a connect handler (without one, the chain decides
        alone); ``mw.of(ns)`` by itself registers nothing.
        """
        return Namespace(self, namespace)

    def add(self, spec: Middleware) -> None:
        """Add a middleware spec (any level) declared in code; chains are recomposed.

        Raises:
            OrderingError: it would make a chain unorderable; nothing is added.
            TypeError: ``spec`` is not a :class:`Middleware` (a function goes to a level's
                ``use``); a plain ``def`` member on an async server (it would block the
                event loop; plain ``def`` middlewares are for sync servers).
        """
        if not isinstance(spec, Middleware):
            raise TypeError(f"mw.add() takes a Middleware spec (siomw_core.Middleware, "
                            f"asgi_middleware(...), ...), got {spec!r}; a middleware "
                            f"function goes to mw.use, mw.engine.use or mw.event.use")
        problem = self._kind_problem(spec)
        if problem:
            raise TypeError(problem)
        self._own.append(spec)
        self._forget()
        try:  # cycles now; absent references when the chains are checked or first composed
            if spec.level in ("connect", "event"):
                for namespace in self.namespaces():
                    self.placed(spec.level, namespace, quiet=True)
            else:
                self.placed(spec.level, quiet=True)
        except Exception:
            self._own.remove(spec)
            self._forget()
            raise

    def _forget(self) -> None:
        """Drop composed chains: the members changed."""
        self._chains.clear()
        self._engine_chains.clear()
        self._named = None
        self._event_chains.clear()
        self._event_named = None

    def asgi_app(
        self,
        other_asgi_app: Any = None,
        *,
        static_files: dict[str, Any] | None = None,
        socketio_path: str = "socket.io",
        on_startup: Any = None,
        on_shutdown: Any = None,
    ) -> EngineApp:
        """The ASGI application: ``socketio.ASGIApp(sio, ...)`` behind the engine chain.

        Takes ``socketio.ASGIApp``'s arguments; requests outside ``socketio_path`` go to
        ``other_asgi_app`` (FastAPI, Starlette, ...) untouched by the engine chain.
        """
        inner = socketio.ASGIApp(
            self.sio, other_asgi_app=other_asgi_app, static_files=static_files,
            socketio_path=socketio_path, on_startup=on_startup, on_shutdown=on_shutdown,
        )
        return self.wrap(inner)

    def with_lifespan(self, app: Any) -> LifespanApp:
        """``app`` (any ASGI application: FastAPI, Starlette) whose lifespan also runs this
        stack's startup and shutdown hooks, around its own: for a ``mw.asgi_app()``
        mounted inside it, which the framework does not pass the lifespan to. Serve the
        result (``uvicorn myapp:app``); requests go to ``app`` untouched."""
        return LifespanApp(app, [self.lifecycle])

    def wrap(self, app: socketio.ASGIApp) -> EngineApp:
        """Put the engine chain in front of an existing ``socketio.ASGIApp`` of this server
        (its other routes stay untouched). Raises OrderingError like :meth:`check`."""
        self.check()
        return EngineApp(app, self.sio, self.engine_chain, self.proxies,
                         engine_path=app.engineio_path)

    def describe(self) -> dict[str, Any]:
        """``siomw chain --json``: every chain and handler requirement of this stack
        (:func:`siomw_core.describe.describe`)."""
        return describe(self)

    def handlers(self) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """What each event must satisfy (:func:`siomw_core.describe.handlers`)."""
        return handlers(self)


def _keepers(registry: Registry) -> frozenset[str]:
    """The enabled plugins whose contract range admits 1.0 or 1.1 and that have engine
    members: a WebSocket's engine chain holding one lasts its connection (contract 1.2).
    Each is named once per process, with what it costs and what lifts it."""
    found = frozenset(
        record.name for record in registry.plugins()
        if record.enabled and record.contract and keeps_connection(record.contract)
        and any(member.level == "engine" for member in record.middlewares))
    for name in sorted(found - _KEEPERS_TOLD):
        _KEEPERS_TOLD.add(name)
        log.warning("siomw: plugin %r is made for plugin contract 1.0 or 1.1 (its range %r): "
                    "a WebSocket's engine chain lasts its connection while one of its engine "
                    "members is in it, as those contracts promised (a few KB per open "
                    "socket); a release of it declaring '>=1.2' is done at the 101",
                    name, registry.records[name].contract)
    return found


#: plugins :func:`_keepers` named already in this process
_KEEPERS_TOLD: set[str] = set()


def attach(sio: Any, **kwargs: Any) -> Siomw:
    """Attach siomw to ``sio``: installed plugins and ``siomw.toml``, as ``siomw serve`` does.

    ``sio`` is any python-socketio server, served however its kind is (the three chains run
    in python-socketio's own seams)::

        sio = socketio.AsyncServer(async_mode="asgi")     # uvicorn, FastAPI, Starlette
        mw = siomw_core.attach(sio)
        app = mw.asgi_app()        # socketio.ASGIApp(sio, ...); mountable under a prefix

        sio = socketio.AsyncServer(async_mode="aiohttp")  # aiohttp: attach siomw first,
        mw = siomw_core.attach(sio)                       # then sio.attach(app)

        sio = socketio.Server(async_mode="threading")     # WSGI: gunicorn threads, gevent
        mw = siomw_core.attach(sio)
        app = socketio.WSGIApp(sio)

        socketio = SocketIO(app)                          # Flask-SocketIO
        mw = siomw_core.attach(socketio)

    Takes the keyword arguments of :class:`Siomw`.

    Raises:
        ConfigError, OrderingError, PluginLoadError: as :class:`Siomw`. The exception is
            also a ``SystemExit`` whose ``code`` is the one-line message: uncaught while
            uvicorn imports the application (``uvicorn myapp:app``), the process ends with
            that line and status 1 instead of a 40-line traceback; ``except ConfigError``
            still catches it.
    """
    try:
        return Siomw(sio, **kwargs)
    except (ConfigError, OrderingError, PluginLoadError) as exc:
        raise exiting(exc) from None
