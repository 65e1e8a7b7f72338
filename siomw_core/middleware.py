"""The middleware spec: what a middleware declares so that a chain can be composed."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

if TYPE_CHECKING:
    from .context import Request, Socket
    from .event import Event

__all__ = ["CallNext", "ConnectMiddleware", "EngineMiddleware", "EventMiddleware", "Level",
           "Middleware", "as_names"]

Level: TypeAlias = Literal["engine", "connect", "event"]
#: a coroutine function, so that ``asyncio.create_task(call_next())`` type-checks too
CallNext: TypeAlias = Callable[[], Coroutine[Any, Any, None]]
ConnectMiddleware: TypeAlias = Callable[["Socket", CallNext], Awaitable[None]]
EngineMiddleware: TypeAlias = Callable[["Request", CallNext], Awaitable[None]]
EventMiddleware: TypeAlias = Callable[["Event", CallNext], Awaitable[None]]

LEVELS: tuple[Level, ...] = ("engine", "connect", "event")


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
        func: the async callable ``(socket, call_next) -> None``.
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

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError("a middleware needs a non-empty string name")
        if self.level not in LEVELS:
            raise ValueError(f"middleware {self.name!r}: level must be one of {LEVELS}")
        if not callable(self.func):
            raise TypeError(f"middleware {self.name!r}: func is not callable")
        call = type(self.func).__call__ if not inspect.isfunction(self.func) else None
        if not (inspect.iscoroutinefunction(self.func) or inspect.iscoroutinefunction(call)):
            raise TypeError(
                f"middleware {self.name!r}: func must be a coroutine function "
                f"(async def {self.name}(socket, call_next)), got {self.func!r}"
            )
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise TypeError(f"middleware {self.name!r}: priority must be an int, "
                            f"got {self.priority!r}")
        for flag in ("if_present", "preflight"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(f"middleware {self.name!r}: {flag} must be True or False, "
                                f"got {getattr(self, flag)!r}")
        for namespace in self.namespaces or ():
            if not isinstance(namespace, str) or not namespace.startswith("/"):
                raise ValueError(f"middleware {self.name!r}: namespace {namespace!r} must "
                                 f"start with '/' (Socket.IO namespaces do)")

    def applies_to(self, namespace: str) -> bool:
        """Whether this member belongs in ``namespace``'s chain."""
        return self.namespaces is None or namespace in self.namespaces
