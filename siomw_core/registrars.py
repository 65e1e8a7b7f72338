"""The registrars of a stack: ``mw.of(namespace)`` (Node's ``io.of(ns).use``) and
``mw.engine`` (Node's ``io.engine.use``). They only build :class:`Middleware` specs and hand
them to the stack (``server.py``), which orders and installs them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, overload

from .levels.engine import asgi_middleware
from .middleware import ConnectMiddleware, EngineMiddleware, Middleware, as_names

if TYPE_CHECKING:
    from .server import Siomw

__all__ = ["Decorator", "Engine", "EngineDecorator", "Namespace"]

Decorator = Callable[[ConnectMiddleware], ConnectMiddleware]


class Namespace:
    """``mw.of("/admin")``: registers middlewares for one namespace (Node's ``io.of``)."""

    def __init__(self, stack: Siomw, namespace: str) -> None:
        if not isinstance(namespace, str) or not namespace.startswith("/"):
            raise ValueError(f"namespace {namespace!r} must be a string starting with '/'")
        self.stack = stack
        self.namespace = namespace

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
        if fn is not None:
            return self.stack.use(fn, name=name, priority=priority, before=before, after=after,
                                  namespace=self.namespace)
        decorator: Decorator = self.stack.use(name=name, priority=priority, before=before,
                                              after=after, namespace=self.namespace)
        return decorator


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
        ordering arguments as :meth:`Siomw.use`. Serve ``mw.asgi_app()`` for it to run.

        Raises:
            OrderingError: the new member makes the engine chain unorderable.
        """

        def add(func: EngineMiddleware) -> EngineMiddleware:
            self.stack.add(Middleware(
                name=name or str(getattr(func, "__name__", type(func).__name__)),
                func=func,
                level="engine",
                priority=priority,
                before=as_names(before),
                after=as_names(after),
                preflight=preflight,
            ))
            return func

        if fn is not None:
            return add(fn)
        return add

    def use_asgi(
        self,
        factory: Callable[..., Any],
        *,
        name: str | None = None,
        priority: int = 0,
        before: str | Iterable[str] | None = None,
        after: str | Iterable[str] | None = None,
        preflight: bool = True,
        **options: Any,
    ) -> None:
        """Add a standard ASGI middleware class as a member, the way Node's
        ``io.engine.use`` takes Express middleware::

            mw.engine.use_asgi(SessionMiddleware, secret_key="...", name="session")

        ``factory(app, **options)`` is built once. See
        :func:`siomw_core.levels.engine.asgi_middleware`.
        """
        self.stack.add(asgi_middleware(
            factory, name=name, priority=priority, before=list(as_names(before)),
            after=list(as_names(after)), preflight=preflight, **options,
        ))
