"""Composing a stack's chains: which members each level and namespace has, in what order,
and the checks made before serving (the ordering itself is ``ordering.py``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .adapters.engine_seam import kind_of
from .errors import ConfigError, OrderingError
from .levels.engine import ARTICLED, FrameworkRunner
from .middleware import SUBJECTS, Level, Middleware
from .ordering import Placed, order_chain

if TYPE_CHECKING:
    from .config import Config
    from .levels.event import EventLevel
    from .registry import Registry
    from .runtime import Runtime

__all__ = ["Composing"]

log = logging.getLogger("siomw")


class Composing:
    """The chain-composing part of :class:`~siomw_core.server.Siomw` (a mixin: the stack
    holds the registry, its own members and the caches). Chains are composed on first use
    and cached until a member is added."""

    sio: Any
    config: Config
    registry: Registry
    runtime: Runtime
    event_level: EventLevel
    _own: list[Middleware]
    _chains: dict[str | None, tuple[Middleware, ...]]
    _engine_chains: dict[bool, tuple[Middleware, ...]]
    _named: frozenset[str] | None
    _event_chains: dict[str | None, tuple[Middleware, ...]]
    _event_named: frozenset[str] | None
    _warned: set[str]

    def members(self, level: Level) -> list[Middleware]:
        """Every middleware of ``level``: plugins' first, then the application's."""
        return [*self.registry.middlewares(level), *(m for m in self._own if m.level == level)]

    def _kind_problem(self, spec: Middleware) -> str | None:
        """Why ``spec`` cannot run on this server's kind (None: it can): a plain ``def`` on
        an async server, or a framework middleware of another kind (a WSGI one on ASGI)."""
        where = f"plugin {spec.plugin!r}" if spec.plugin else "your code"
        runner = spec.func
        kind = kind_of(self.sio.eio.async_mode)
        if isinstance(runner, FrameworkRunner) and kind is not None and runner.kind != kind:
            return (f"engine member {spec.name!r} ({where}) is {runner.what}, but "
                    f"{type(self.sio).__name__}(async_mode={self.sio.eio.async_mode!r}) is "
                    f"served as {ARTICLED.get(kind, kind)} app: use the middleware kind of "
                    f"this server (asgi_middleware, wsgi_middleware, aiohttp_middleware)")
        if spec.blocking and not self.runtime.blocking:
            return (f"middleware {spec.name!r} ({where}) is a plain def, but "
                    f"{type(self.sio).__name__} runs an event loop it would block: write "
                    f"async def {spec.name}({SUBJECTS[spec.level]}, call_next) (plain def "
                    f"middlewares are for a sync socketio.Server)")
        return None

    def check(self) -> None:
        """Compose every chain now: a cycle, or in strict mode an absent reference, raises
        :class:`OrderingError`; absent references are warned about (once). ``asgi_app()``
        and ``siomw serve`` call it; chains are otherwise composed on first use.

        Raises:
            OrderingError: as above.
            ConfigError: a plugin's member cannot run on this server's kind (a plain
                ``def`` on an async server).
        """
        for spec in self.registry.middlewares():
            problem = self._kind_problem(spec)
            if problem:
                raise ConfigError(f"siomw: {problem}")
        for namespace in self.namespaces():
            self.placed("connect", namespace)
            self.placed("event", namespace)
        self.placed("engine")
        self.event_level.check_handlers()
        names = {m.name for level in ("engine", "connect", "event") for m in self.members(level)}
        for name in self.config.core.order:
            if name not in names:  # a misspelt pin would silently pin nothing
                message = (f"{self.config.where('order')}: order: no middleware is named "
                           f"{name!r}; known: {', '.join(sorted(names)) or 'none'}")
                if self.config.core.strict:
                    raise OrderingError(message)
                if message not in self._warned:
                    self._warned.add(message)
                    log.warning("siomw: %s", message)

    def placed(
        self, level: Level, namespace: str | None = None, *, quiet: bool = False
    ) -> list[Placed]:
        """The ordered chain of ``level`` (for ``namespace`` at the connect and event
        levels), outermost first, with the reason for each member's place; ``quiet``
        ignores absent references."""
        members = self.members(level)
        if namespace is not None:
            members = [m for m in members if m.applies_to(namespace)]
        where = f" of {namespace!r}" if namespace is not None else ""
        return order_chain(
            members,
            pinned=self.config.core.order,
            strict=self.config.core.strict,
            chain_name=f"{level} chain{where}",
            warned=self._warned,
            quiet=quiet,
        )

    def engine_chain(self, preflight: bool = False) -> tuple[Middleware, ...]:
        """The composed engine chain; for a CORS preflight request only the members
        declared with ``preflight=True`` (cached)."""
        chain = self._engine_chains.get(preflight)
        if chain is None:
            placed = (p.middleware for p in self.placed("engine"))
            chain = tuple(m for m in placed if m.preflight or not preflight)
            self._engine_chains[preflight] = chain
        return chain

    def connect_chain(self, namespace: str) -> tuple[Middleware, ...]:
        """The composed connect chain of ``namespace`` (cached; outermost first)."""
        key = namespace if namespace in self._named_namespaces() else None
        chain = self._chains.get(key)
        if chain is None:
            chain = tuple(p.middleware for p in self.placed("connect", namespace))
            self._chains[key] = chain
        return chain

    def event_chain(self, namespace: str) -> tuple[Middleware, ...]:
        """The composed event chain of ``namespace`` (cached; outermost first)."""
        named = self._event_named
        if named is None:
            named = self._event_named = frozenset(
                ns for m in self.members("event") for ns in m.namespaces or ())
        key = namespace if namespace in named else None
        chain = self._event_chains.get(key)
        if chain is None:
            try:
                chain = tuple(p.middleware for p in self.placed("event", namespace))
            except OrderingError:
                log.exception("siomw: the event chain of %r cannot be composed", namespace)
                raise
            self._event_chains[key] = chain
        return chain

    def _named_namespaces(self) -> frozenset[str]:
        """Namespaces some member names explicitly; others share the all-namespaces chain,
        so that clients cannot grow the chain cache with made-up namespaces."""
        if self._named is None:
            named: set[str] = set()
            for member in self.members("connect"):
                if member.namespaces is not None:
                    named.update(member.namespaces)
            self._named = frozenset(named)
        return self._named

    def namespaces(self) -> list[str]:
        """Namespaces known to the server or named by a middleware, ``"/"`` first."""
        known = {"/", *self._named_namespaces()}
        known.update(ns for m in self.members("event") for ns in m.namespaces or ())
        known.update(ns for ns in self.sio.handlers if ns != "*")
        known.update(ns for ns in self.sio.namespace_handlers if ns != "*")
        if isinstance(self.sio.namespaces, list | tuple | set):
            known.update(ns for ns in self.sio.namespaces if ns != "*")
        return sorted(known, key=lambda ns: (ns != "/", ns))

