"""The middleware spec: what a middleware declares so that a chain can be composed."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

if TYPE_CHECKING:
    from .context import Request, Socket
    from .event import Event
    from .requirements import Requirement

__all__ = ["CallNext", "ConnectMiddleware", "EngineMiddleware", "EventMiddleware", "Level",
           "Middleware", "SyncCallNext", "as_names"]

Level: TypeAlias = Literal["engine", "connect", "event"]
#: a coroutine function, so that ``asyncio.create_task(call_next())`` type-checks too
CallNext: TypeAlias = Callable[[], Coroutine[Any, Any, None]]
#: what a plain ``def`` member gets on a sync server: runs the rest of the chain, in the
#: same thread, and returns None or raises its refusal
SyncCallNext: TypeAlias = Callable[[], None]
ConnectMiddleware: TypeAlias = (Callable[["Socket", CallNext], Awaitable[None]]
                                | Callable[["Socket", SyncCallNext], None])
EngineMiddleware: TypeAlias = (Callable[["Request", CallNext], Awaitable[None]]
                               | Callable[["Request", SyncCallNext], None])
EventMiddleware: TypeAlias = (Callable[["Event", CallNext], Awaitable[None]]
                              | Callable[["Event", SyncCallNext], None])

LEVELS: tuple[Level, ...] = ("engine", "connect", "event")


#: the first argument of a member of each level, for messages
SUBJECTS: dict[str, str] = {"engine": "request", "connect": "socket", "event": "event"}


def _two_positional(func: Callable[..., Any]) -> str | None:
    """Why ``func`` cannot be called as ``func(subject, call_next)``; None when it can, or
    when its signature cannot be read (a builtin, some C callables: it is not guessed)."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(None, None)
    except TypeError:
        return f"it is {getattr(func, '__qualname__', type(func).__name__)}{signature}"
    return None


def as_names(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Normalise a name or a list of names to a tuple (``None`` gives ``()``)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@dataclass(frozen=True, slots=True)
class Middleware:
    """One member of a chain, with the declarations that place it.

    The callable follows the onion contract of every level::

        async def mw(socket, call_next):
            ...               # before: read socket.handshake, write socket.data
            await call_next()  # the rest of the chain, then the application
            ...               # after: sees the outcome (a Refusal propagates through here)

    Attributes:
        name: unique within a chain; ``before``/``after`` and the config's ``order`` use it.
        func: the async callable ``(subject, call_next) -> None``: ``(request, call_next)``
            at the engine level, ``(socket, call_next)`` at connect, ``(event, call_next)``
            at the event level; on a sync ``socketio.Server`` also a plain ``def`` whose
            ``call_next()`` is a plain call (:data:`SyncCallNext`).
        level: ``"engine"``, ``"connect"`` or ``"event"``.
        priority: higher runs first (Kong's convention); ties are broken by name.
        before: names this member must run before (it is placed outside them).
        after: names this member must run after.
        namespaces: the namespaces it applies to (``None``: every namespace).
        plugin: the plugin that contributed it (``None`` for the application's own).
        if_present: ``before``/``after`` name neighbours that may be absent (another
            plugin that is not installed, say): an absent one is ignored silently, even in
            strict mode. Otherwise an absent reference is a warning, an error when strict.
        preflight: engine level only: also run for CORS preflight (``OPTIONS``) requests,
            which otherwise pass through untouched so that browsers can connect.
        requirements: event level only, optional: ``requirements(namespace, event) ->
            [Requirement, ...]``, what this member enforces on that event from its own
            configuration (jwt's ``[jwt.events."name"] scopes``, ratelimit's ``events``),
            for ``siomw chain``, which lists them with the handler's decorators' (each
            marked ``"source": "config"`` or ``"decorator"``). Describing only: the
            member enforces its configuration itself.
        configured_events: event level only, optional: ``configured_events(namespace) ->
            [event name, ...]``, the events its configuration names on ``namespace``, so
            that ``siomw chain`` lists a configured event that has no handler too.
    """

    name: str
    func: ConnectMiddleware | EngineMiddleware | EventMiddleware
    level: Level = "connect"
    priority: int = 0
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    namespaces: tuple[str, ...] | None = None
    plugin: str | None = None
    if_present: bool = False
    preflight: bool = False
    requirements: Callable[[str, str], Sequence[Requirement]] | None = None
    configured_events: Callable[[str], Iterable[str]] | None = None
    #: what the runner awaits: ``func`` itself, or, for a plain ``def`` (sync servers), a
    #: coroutine function calling it with a blocking ``call_next`` (:func:`_blocking`)
    call: Callable[[Any, CallNext], Awaitable[None]] = field(init=False, repr=False,
                                                             compare=False)

    @property
    def blocking(self) -> bool:
        """True for a plain ``def`` member: it runs on sync servers only (``socketio.Server``
        calls it in the request's thread; on an event loop it would block every client)."""
        return self.call is not self.func

    def __post_init__(self) -> None:
        """Check the declarations.

        Raises:
            ValueError: an empty name, an unknown level, a namespace without ``/``.
            TypeError: ``func`` is not an async callable that accepts two positional
                arguments (checked with :func:`inspect.signature` when it can be read),
                a priority that is not an int, a flag that is not a bool; the message
                names the middleware and shows the level's signature.
        """
        if not self.name or not isinstance(self.name, str):
            raise ValueError("a middleware needs a non-empty string name")
        if self.level not in LEVELS:
            raise ValueError(f"middleware {self.name!r}: level must be one of {LEVELS}")
        if not callable(self.func):
            raise TypeError(f"middleware {self.name!r}: func is not callable")
        shape = f"async def {self.name}({SUBJECTS.get(self.level, 'socket')}, call_next)"
        call = type(self.func).__call__ if not inspect.isfunction(self.func) else None
        if inspect.iscoroutinefunction(self.func) or inspect.iscoroutinefunction(call):
            object.__setattr__(self, "call", self.func)
        elif inspect.isfunction(self.func) or inspect.ismethod(self.func) or call is not None:
            object.__setattr__(self, "call", _blocking(self.func))  # type: ignore[arg-type]
        else:
            raise TypeError(
                f"middleware {self.name!r}: func must be a function ({shape}, or a plain "
                f"def on a sync server), got {self.func!r}"
            )
        problem = _two_positional(self.func)
        if problem is not None:
            raise TypeError(f"middleware {self.name!r}: func must take two positional "
                            f"arguments ({shape}); {problem}")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise TypeError(f"middleware {self.name!r}: priority must be an int, "
                            f"got {self.priority!r}")
        for flag in ("if_present", "preflight"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(f"middleware {self.name!r}: {flag} must be True or False, "
                                f"got {getattr(self, flag)!r}")
        for hook in ("requirements", "configured_events"):
            value = getattr(self, hook)
            if value is not None and not callable(value):
                raise TypeError(f"middleware {self.name!r}: {hook} must be a callable or "
                                f"None, got {value!r}")
        for namespace in self.namespaces or ():
            if not isinstance(namespace, str) or not namespace.startswith("/"):
                raise ValueError(f"middleware {self.name!r}: namespace {namespace!r} must "
                                 f"start with '/' (Socket.IO namespaces do)")

    def applies_to(self, namespace: str) -> bool:
        """Whether this member belongs in ``namespace``'s chain."""
        return self.namespaces is None or namespace in self.namespaces


def _blocking(func: Callable[[Any, Callable[[], None]], Any]
              ) -> Callable[[Any, CallNext], Awaitable[None]]:
    """A plain ``def fn(subject, call_next)`` as the runner awaits it: ``call_next()`` runs
    the rest of the chain to its end in the same thread (:func:`~siomw_core.drive.drive`),
    returning None or raising the refusal, as the async ``call_next`` does."""
    from .drive import drive

    async def call(subject: Any, call_next: CallNext) -> None:
        def blocking_next() -> None:
            drive(call_next())

        result = func(subject, blocking_next)
        if inspect.isawaitable(result):  # a callable object returning an awaitable
            await result

    return call
