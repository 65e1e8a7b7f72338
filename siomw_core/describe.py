"""What ``siomw chain`` shows of a stack: its chains, each member's place and reason, and
what every event handler requires (``Siomw.describe()``, ``siomw chain --json``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .ordering import Placed
from .requirements import requirements_of

if TYPE_CHECKING:
    from .server import Siomw

__all__ = ["describe", "handlers"]


def describe(mw: Siomw) -> dict[str, Any]:
    """``siomw chain --json``: ``{"engine": [member, ...], "connect": {namespace:
    [member, ...]}, "event": {namespace: [member, ...]}, "handlers": {namespace:
    {event: [requirement, ...]}}}``, each member ``{"name", "plugin", "priority",
    "reason"}``, each requirement ``Requirement.describe()`` (``{"plugin", "kind",
    **options}``); every registered event handler is listed, ``[]`` without any."""
    def rows(placed: list[Placed]) -> list[dict[str, Any]]:
        return [
            {
                "name": p.middleware.name,
                "plugin": p.middleware.plugin,
                "priority": p.middleware.priority,
                "reason": p.reason,
            }
            for p in placed
        ]

    return {
        "engine": rows(mw.placed("engine")),
        "connect": {ns: rows(mw.placed("connect", ns)) for ns in mw.namespaces()},
        "event": {ns: rows(mw.placed("event", ns)) for ns in mw.namespaces()},
        "handlers": handlers(mw),
    }

def handlers(mw: Siomw) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """What each event must satisfy: ``{namespace: {event: [requirement, ...]}}``, each
    ``Requirement.describe()`` plus ``"source"``: ``"decorator"`` (the handler's) first,
    then ``"config"`` (what an event member of the namespace's chain states with its
    ``Middleware.requirements``). Every registered handler is listed
    (``connect``/``disconnect`` left out), and every event a member's configuration
    names (``Middleware.configured_events``) even without a handler."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for namespace, event, handler in mw.event_level.adapter.handlers_of():
        out.setdefault(namespace, {})[event] = [
            {**r.describe(), "source": "decorator"} for r in requirements_of(handler)]
    for namespace in sorted({*out, *mw.namespaces()} - {"*"}):
        members = [p.middleware for p in mw.placed("event", namespace, quiet=True)]
        events = out.setdefault(namespace, {})
        for m in members:
            for name in m.configured_events(namespace) if m.configured_events else ():
                events.setdefault(name, [])
        for name, rows in events.items():
            for m in members:
                if m.requirements is not None:
                    rows.extend({**r.describe(), "source": "config"}
                                for r in m.requirements(namespace, name))
        if not events:
            del out[namespace]
    return out
