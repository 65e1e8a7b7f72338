"""The event-level member ``logging-events``: one ``event`` line per incoming event.

Installed only with ``events = true``. It is the outermost member of every namespace's
event chain (priority 3000), so it times the rest of the chain and the handler and sees
every refusal: the core turns an inner member's exception into the refusal
``internal_error`` and a chain past ``event_timeout`` into ``middleware_timeout`` before
they reach it.

Cost comes in this order, so that an event that is not logged costs almost nothing: the
name filters (``event_include`` / ``event_exclude``, one set lookup), then the sampling
draw (``event_sample``; none at 1), then the level check (:meth:`Output.enabled`: with
``level = "warning"`` an accepted event's line is never built, and no processor runs),
and only then the line. Everything a line holds is local to the one event's call: two
events running at once (two clients: on one event loop, or in two request threads of a sync
``socketio.Server``) never see each other's sid or user. Nothing here awaits anything but
the chain, so the member runs unchanged on both server kinds.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any

from siomw_core import CLIENT_GONE, CallNext, Event, EventMiddleware, Refusal, get_identity

from .args import REDACTED, ArgsView
from .output import Output

__all__ = ["event_logger"]

# failures of the output itself go to the stdlib (the line could not be written)
_log = logging.getLogger("siomw")


def event_logger(
    output: Output,
    *,
    sample: float = 1.0,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    args: ArgsView | None = None,
    draw: Callable[[], float] = random.random,
) -> EventMiddleware:
    """Build the middleware that writes the ``event`` lines.

    Args:
        output: the plugin's output (its logger and level check).
        sample: the fraction of events logged, 0 to 1: an event is logged when
            ``draw() < sample`` (no draw at 1; at 0 none is logged).
        include: event names to log; empty: every name.
        exclude: event names never logged.
        args: the view of the arguments to add as ``args``; None: arguments never appear.
        draw: the random source, a function returning floats in [0, 1) (tests inject a
            seeded one; default :func:`random.random`).

    Returns:
        ``async def log_event(event, call_next)``; it re-raises whatever ``call_next``
        raised, after logging it, and never raises because a line could not be written.

    Line (keys in this order, then ``level`` and ``timestamp``, ISO 8601 UTC)::

        event: name, outcome ("accepted" | "refused" | "abandoned"), code (the refusal's
            data.code or null), message (the refusal's message or null), ack (the client
            asked for an acknowledgement), sid, namespace, user (the identity's sub or
            null, siomw_core.get_identity), duration_ms (milliseconds, 3 decimals),
            sample (the sampling rate), args (only with ``args``; ``"[redacted]"`` for an
            event declared secret, ``Secrets.is_secret_event``); level "info", or
            "warning" when refused
    """
    logger = output.logger
    enabled = output.enabled
    wanted = frozenset(include)
    unwanted = frozenset(exclude)
    every_name = not wanted
    sampled = sample < 1.0

    def line(event: Event, level: int, outcome: str, refusal: Refusal | None,
             started: float, shown: list[Any] | str | None) -> None:
        duration_ms = round((perf_counter() - started) * 1000.0, 3)
        if not enabled(level):  # checked first: no field is built, no processor runs
            return
        identity = get_identity(event.socket)
        fields: dict[str, Any] = {
            "name": event.name,
            "outcome": outcome,
            "code": None if refusal is None else refusal.code,
            "message": None if refusal is None else refusal.message,
            "ack": event.ack,
            "sid": event.sid,
            "namespace": event.namespace,
            "user": None if identity is None else identity.sub,
            "duration_ms": duration_ms,
            "sample": sample,
        }
        if shown is not None:
            fields["args"] = shown
        try:
            logger.log(level, "event", **fields)
        except Exception:  # a full disk must not refuse events
            _log.exception("siomw: [logging] could not write an event line")

    async def log_event(event: Event, call_next: CallNext) -> None:
        name = event.name
        if ((not every_name and name not in wanted) or name in unwanted
                or (sampled and draw() >= sample)):
            await call_next()
            return
        started = perf_counter()
        # the arguments as the client sent them, before an inner member or the handler
        # changes them; only when some line may be written
        shown: list[Any] | str | None = None
        if args is not None and enabled(logging.WARNING):
            # an event that carries credentials (declare_secret(event=...)): never its args
            shown = REDACTED if args.is_secret_event(name) else args(event.args)
        try:
            await call_next()
        except Refusal as refusal:
            if refusal.code == CLIENT_GONE:
                line(event, logging.INFO, "abandoned", refusal, started, shown)
            else:
                line(event, logging.WARNING, "refused", refusal, started, shown)
            raise
        except BaseException:  # CancelledError: the event's run was cancelled from outside
            line(event, logging.INFO, "abandoned", None, started, shown)
            raise
        line(event, logging.INFO, "accepted", None, started, shown)

    return log_event
