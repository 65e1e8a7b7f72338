"""Requirements declared on event handlers by decorators, enforced by plugins.

A plugin's decorator (``siomw_ratelimit.limit("5/second")``, ``siomw_jwt.requires("admin")``)
is a thin function over :func:`require`: it records a :class:`Requirement` on the handler
function and returns the same object, so it stacks above or below ``@sio.on`` /
``@sio.event`` in either order and works on ``AsyncNamespace`` methods. At dispatch the
event level resolves the handler python-socketio will call and exposes its requirements as
``event.requirements``; the plugin's own event-level middleware enforces those whose
``plugin`` is its name. A requirement whose plugin has no member in the namespace's event
chain is not enforced by anyone: the core logs a WARNING naming handler, event and plugin
(and refuses the event with ``internal_error`` in strict mode).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

__all__ = ["ATTRIBUTE", "Requirement", "handler_name", "require", "requirements_of"]

F = TypeVar("F", bound=Callable[..., Any])

#: the attribute of a handler function that holds its requirements (a tuple)
ATTRIBUTE = "__siomw_requirements__"


@dataclass(frozen=True, slots=True)
class Requirement:
    """What one decorator asks of an event handler.

    Attributes:
        plugin: the plugin that enforces it, e.g. ``"ratelimit"``, ``"jwt"``.
        kind: what it is, e.g. ``"limit"``, ``"scopes"``.
        options: its parameters, e.g. ``{"rate": "5/second", "key": "sid", "cost": 1,
            "scope": None}`` (read-only; JSON-ready values, ``siomw chain`` prints them).
    """

    plugin: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.plugin or not isinstance(self.plugin, str):
            raise ValueError("a Requirement needs the name of the plugin that enforces it")
        if not self.kind or not isinstance(self.kind, str):
            raise ValueError("a Requirement needs a non-empty kind")
        if not isinstance(self.options, MappingProxyType):
            object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def describe(self) -> dict[str, Any]:
        """``{"plugin", "kind", **options}`` (``siomw chain``)."""
        return {"plugin": self.plugin, "kind": self.kind, **self.options}


def require(handler: F, requirement: Requirement) -> F:
    """Record ``requirement`` on ``handler`` and return the same object.

    The requirements are a tuple in the function's ``__siomw_requirements__`` attribute,
    in the order the decorators ran (the one closest to the function first). A bound
    method records on its function, so that every instance's method carries it.

    Raises:
        TypeError: ``handler`` is not callable, or ``requirement`` not a Requirement.
    """
    if not callable(handler):
        raise TypeError(f"a requirement decorates a handler function, got {handler!r}")
    if not isinstance(requirement, Requirement):
        raise TypeError(f"expected a siomw_core.Requirement, got {requirement!r}")
    target = getattr(handler, "__func__", handler)
    setattr(target, ATTRIBUTE, (*getattr(target, ATTRIBUTE, ()), requirement))
    return handler


def requirements_of(handler: Callable[..., Any] | None) -> tuple[Requirement, ...]:
    """The requirements recorded on ``handler`` (a function or a bound method); ``()``.

    A wrapper made with ``functools.wraps`` counts as the function it wraps: its
    ``__wrapped__`` chain is followed (Flask-SocketIO's ``@socketio.on`` registers such a
    wrapper and returns the original, so a decorator written above ``@socketio.on`` marks
    the original after the wrapper was made). Requirements found on several layers are
    listed once, the innermost layer's first.
    """
    if handler is None:
        return ()
    layers: list[Any] = []
    layer: Any = handler
    while layer is not None and len(layers) < 100:  # a __wrapped__ cycle is not followed
        layers.append(layer)
        layer = getattr(layer, "__wrapped__", None)
    if len(layers) == 1:
        found: tuple[Requirement, ...] = getattr(handler, ATTRIBUTE, ())
        return found
    merged: list[Requirement] = []
    for layer in reversed(layers):
        for requirement in getattr(layer, ATTRIBUTE, ()):
            if not any(requirement is seen for seen in merged):
                merged.append(requirement)
    return tuple(merged)


def handler_name(handler: Callable[..., Any]) -> str:
    """``"module.qualname"`` of a handler function or bound method (its function's), for
    logs and error messages, e.g. ``"app.Chat.on_send"``; ``"?"`` stands for a missing
    module and the ``repr`` for a callable without a ``__qualname__``."""
    func = getattr(handler, "__func__", handler)
    module = getattr(func, "__module__", None) or "?"
    return f"{module}.{getattr(func, '__qualname__', None) or repr(func)}"
