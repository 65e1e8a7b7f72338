"""``@siomw_jwt.requires("admin", ...)``: scopes an event handler needs (NestJS's guards).

The decorator records a :class:`siomw_core.Requirement` on the handler through
:func:`siomw_core.require`, which returns the same function: it stacks above or below
``@sio.on`` / ``@sio.event`` in either order and works on ``AsyncNamespace`` methods. The
jwt plugin's event member (:mod:`siomw_jwt.events`) enforces it on every event the handler
receives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from siomw_core import Requirement, handler_name, require

from .options import scope_problem

__all__ = ["KIND", "PLUGIN", "required_scopes", "requires"]

#: the plugin name requirements carry: the jwt event member enforces those that name it
PLUGIN = "jwt"
#: the kind of requirement ``requires`` records
KIND = "scopes"

F = TypeVar("F", bound=Callable[..., Any])


def requires(*scopes: str) -> Callable[[F], F]:
    """A decorator: the handler runs only for sockets whose token grants every one of
    ``scopes``; other events are refused with ``insufficient_scope`` (RFC 6750 §3.1, data
    ``{"code": "insufficient_scope", "detail": "missing_scope", "scope": "admin kick"}``:
    the required scopes, space-separated, as at the connect level).

    Usage::

        @sio.on("admin:kick")
        @siomw_jwt.requires("admin")
        async def kick(sid, target): ...

    Stacked decorators add up: ``@requires("a")`` over ``@requires("b")`` needs both, and
    a refusal names them in the order written (``"scope": "a b"``).

    Raises:
        ValueError: at decoration time, for no scope at all, a scope that is not a string,
            is empty or has a space, quote or backslash (RFC 6749 §3.3), or when used bare
            (``@requires`` instead of ``@requires("admin")``).
    """
    if len(scopes) == 1 and callable(scopes[0]):
        raise ValueError('siomw_jwt.requires takes scope names: write @siomw_jwt.requires('
                         f'"admin"), not @siomw_jwt.requires (on {handler_name(scopes[0])})')
    if not scopes:
        raise ValueError("siomw_jwt.requires needs at least one scope, e.g. "
                         'requires("admin")')
    for scope in scopes:
        problem = scope_problem(scope)
        if problem is not None:
            raise ValueError(f"siomw_jwt.requires: {problem}")
    requirement = Requirement(plugin=PLUGIN, kind=KIND,
                              options={"scopes": list(dict.fromkeys(scopes))})

    def decorate(handler: F) -> F:
        if not callable(handler):
            raise ValueError(f"siomw_jwt.requires(...) decorates a handler function, "
                             f"not {type(handler).__name__}")
        return require(handler, requirement)

    return decorate


def required_scopes(requirements: Iterable[Requirement]) -> list[str]:
    """The scopes the jwt requirements among ``requirements`` ask for, in the order
    written (the outermost decorator's first: ``requirements`` is in the order the
    decorators ran, the one closest to the function first, so it is read backwards;
    each decorator's scopes in its own order), without duplicates (an empty list: none
    of them is the jwt plugin's)."""
    ordered: dict[str, None] = {}
    for requirement in reversed(tuple(requirements)):
        if requirement.plugin == PLUGIN and requirement.kind == KIND:
            ordered.update(dict.fromkeys(requirement.options["scopes"]))
    return list(ordered)
