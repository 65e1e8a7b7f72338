"""The registrars of a stack: ``mw.of(namespace)`` (Node's ``io.of(ns).use``),
``mw.engine`` (Node's ``io.engine.use``) and ``mw.event`` / ``mw.of(ns).event`` (Node's
``socket.use``, for every socket of a namespace). They only build :class:`Middleware` specs
and hand them to the stack (``server.py``), which orders and installs them."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .adapters.aiohttp_http import aiohttp_middleware
from .adapters.asgi_http import asgi_middleware
from .adapters.wsgi_http import wsgi_middleware
from .middleware import (
    ConnectMiddleware,
    EngineMiddleware,
    EventMiddleware,
    Level,
    Middleware,
    as_names,
)

if TYPE_CHECKING:
    from .server import Siomw

__all__ = [
    "Decorator", "Engine", "EngineDecorator", "Event", "EventDecorator", "Namespace", "register",
]

Decorator = Callable[[ConnectMiddleware], ConnectMiddleware]
F = TypeVar("F", bound=Callable[..., Any])


def register(
    stack: Siomw,
    fn: F | None,
    level: Level,
    *,
    name: str | None,
    priority: int,
    before: str | Iterable[str] | None,
    after: str | Iterable[str] | None,
    namespaces: str | Iterable[str] | None = None,
    preflight: bool = False,
) -> F | Callable[[F], F]:
    """Add ``fn`` to ``stack`` as a ``level`` member, or return the decorator that does: the
    one body behind every ``use`` (``mw.use``, ``mw.of(ns).use``, ``mw.engine.use``,
    ``mw.event.use``). ``namespaces`` None: every namespace. Returns ``fn`` itself.

    Raises:
        OrderingError: the new member makes a chain unorderable (nothing is added).
        TypeError: ``fn`` is a :class:`Middleware` spec (``mw.add`` takes those), or not a
            middleware function (:class:`Middleware`'s checks).
    """

    def add(func: F) -> F:
        if isinstance(func, Middleware):  # asgi_middleware(...)'s spec, say
            raise TypeError(f"use() takes a middleware function; {func.name!r} is a "
                            f"Middleware spec already: add it with mw.add(spec)")
        if inspect.isclass(func):  # Starlette's SessionMiddleware, say
            raise TypeError(
                f"use() takes a middleware function; {func.__name__!r} is a class: a "
                f"framework middleware class joins the engine chain with "
                f"mw.add(asgi_middleware({func.__name__}, ...)) (wsgi_middleware, "
                f"aiohttp_middleware on those servers); an object whose async __call__ "
                f"is the middleware is passed as an instance")
        if getattr(func, "__middleware_version__", None) is not None:  # @web.middleware
            raise TypeError(
                f"use() takes a siomw middleware function; {func.__name__!r} is an aiohttp "
                f"middleware (@web.middleware, called with a handler): add it with "
                f"mw.add(aiohttp_middleware({func.__name__}))")
        stack.add(Middleware(
            name=name or str(getattr(func, "__name__", type(func).__name__)),
            func=func,
            level=level,
            priority=priority,
            before=as_names(before),
            after=as_names(after),
            namespaces=None if namespaces is None else as_names(namespaces),
            preflight=preflight,
        ))
        return func

    return add if fn is None else add(fn)


class Namespace:
    """``mw.of("/admin")``: registers middlewares for one namespace (Node's ``io.of``)."""

    def __init__(self, stack: Siomw, namespace: str) -> None:
        if not isinstance(namespace, str) or not namespace.startswith("/"):
            raise ValueError(f"namespace {namespace!r} must be a string starting with '/'")
        self.stack = stack
        self.namespace = namespace

    @property
    def event(self) -> Event:
        """``mw.of(ns).event``: event middlewares for every socket of this namespace."""
        return Event(self.stack, self.namespace)

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
    ) -> ConnectMiddleware | Decorator:
        """Node's ``io.of(ns).use(fn)``; same arguments as :meth:`Siomw.use`. From then on
        the server accepts CONNECTs to this namespace (the chain decides), handler or not."""
        return register(self.stack, fn, "connect", name=name, priority=priority,
                        before=before, after=after, namespaces=self.namespace)


EngineDecorator = Callable[[EngineMiddleware], EngineMiddleware]


class Engine:
    """``mw.engine``: registers engine-level members (Node's ``io.engine.use``)."""

    def __init__(self, stack: Siomw) -> None:
        self.stack = stack

    @overload
    def use(
        self,
        fn: EngineMiddleware,
        /,
        *,
        name: str | None = None,
        priority: int = 0,
        before: str | Iterable[str] | None = None,
        after: str | Iterable[str] | None = None,
        preflight: bool = False,
    ) -> EngineMiddleware: ...
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
        preflight: bool = False,
    ) -> EngineDecorator: ...

    def use(
        self,
        fn: EngineMiddleware | None = None,
        /,
        *,
        name: str | None = None,
        priority: int = 0,
        before: str | Iterable[str] | None = None,
        after: str | Iterable[str] | None = None,
        preflight: bool = False,
    ) -> EngineMiddleware | EngineDecorator:
        """Add an engine-level middleware: ``async def fn(request, call_next)``.

        It runs for every HTTP request of the engine (handshake, polling GET/POST, WebSocket
        upgrade); ``preflight=True`` also for CORS preflight requests. Same forms and
        ordering arguments as :meth:`Siomw.use`; it runs however the app is served (the
        chain sits in python-engineio's ``handle_request``). On a sync server ``fn`` may be a
        plain ``def fn(request, call_next)``.

        Raises:
            OrderingError: the new member makes the engine chain unorderable.
        """

        return register(self.stack, fn, "engine", name=name, priority=priority,
                        before=before, after=after, preflight=preflight)

    def use_asgi(self, factory: Callable[..., Any], **arguments: Any) -> None:
        """Add a standard ASGI middleware class as a member, the way Node's
        ``io.engine.use`` takes Express middleware::

            mw.engine.use_asgi(SessionMiddleware, secret_key="...", name="session")

        ``arguments``: ``name``, ``priority``, ``before``, ``after``, ``preflight`` (default
        True) and the factory's own options; ``factory(app, **options)`` is built once. See
        :func:`siomw_core.asgi_middleware`.

        Raises:
            TypeError: the server is not served as ASGI (use :meth:`use_wsgi` or
                :meth:`use_aiohttp`).
        """
        self.stack.add(asgi_middleware(factory, **arguments))

    def use_wsgi(self, factory: Callable[..., Any], **arguments: Any) -> None:
        """Add a WSGI middleware (Werkzeug's ``ProxyFix``, say) as a member, on a sync
        ``socketio.Server``::

            mw.engine.use_wsgi(ProxyFix, x_for=1, name="proxyfix")

        ``arguments`` as for :meth:`use_asgi`. See :func:`siomw_core.wsgi_middleware`.

        Raises:
            TypeError: the server is not served as WSGI.
        """
        self.stack.add(wsgi_middleware(factory, **arguments))

    def use_aiohttp(self, func: Callable[..., Any], **arguments: Any) -> None:
        """Add an aiohttp middleware (``@web.middleware async def mw(request, handler)``) as
        a member, on an ``AsyncServer(async_mode="aiohttp")``; ``arguments``: ``name``,
        ``priority``, ``before``, ``after``, ``preflight``. See
        :func:`siomw_core.aiohttp_middleware`.

        Raises:
            TypeError: the server is not served by aiohttp.
        """
        self.stack.add(aiohttp_middleware(func, **arguments))


EventDecorator = Callable[[EventMiddleware], EventMiddleware]

_ANY: Any = object()  # "the registrar's own namespace"


class Event:
    """``mw.event`` (the main namespace) and ``mw.of(ns).event``: event-level members.

    Node's ``socket.use(fn)``, registered once for every socket of a namespace:
    ``async def fn(event, call_next)`` runs for every incoming event (never for connect
    or disconnect), before the handler.
    """

    def __init__(self, stack: Siomw, namespace: str | None) -> None:
        self.stack = stack
        self.namespace = namespace

    @overload
    def use(
        self,
        fn: EventMiddleware,
        /,
        *,
        name: str | None = None,
        priority: int = 0,
        before: str | Iterable[str] | None = None,
        after: str | Iterable[str] | None = None,
        namespace: str | Iterable[str] | None = _ANY,
    ) -> EventMiddleware: ...
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
        namespace: str | Iterable[str] | None = _ANY,
    ) -> EventDecorator: ...

    def use(
        self,
        fn: EventMiddleware | None = None,
        /,
        *,
        name: str | None = None,
        priority: int = 0,
        before: str | Iterable[str] | None = None,
        after: str | Iterable[str] | None = None,
        namespace: str | Iterable[str] | None = _ANY,
    ) -> EventMiddleware | EventDecorator:
        """Add an event-level middleware: ``async def fn(event, call_next) -> None``.

        Usable as ``mw.event.use(fn)``, ``@mw.event.use`` or ``@mw.event.use(priority=...)``;
        the ordering arguments are :meth:`Siomw.use`'s. ``namespace`` defaults to the
        registrar's (``"/"`` for ``mw.event``, ``ns`` for ``mw.of(ns).event``); ``None``:
        every namespace. Refuse an event by raising :class:`~siomw_core.Refusal`.

        Returns:
            ``fn`` itself, or a decorator.

        Raises:
            OrderingError: the new member makes an event chain unorderable.
        """
        where = self.namespace if namespace is _ANY else namespace
        return register(self.stack, fn, "event", name=name, priority=priority,
                        before=before, after=after, namespaces=where)
