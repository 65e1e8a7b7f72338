"""siomw plugin ``logging``: structlog lines for Socket.IO connection attempts, disconnects,
the engine's HTTP requests and, when enabled, every incoming event.

Registered under the entry-point group ``siomw`` as ``logging``; its options are the
``[logging]`` table (:class:`LoggingOptions`). It contributes, with priority 3000 (the
outermost of the bundled plugins):

- the connect-level middleware ``logging``, in every namespace (``connect`` and
  ``disconnect`` lines, ``connect.py``);
- unless ``access_log = false``, the engine-level member ``logging-http``, also run for CORS
  preflights (one ``http`` line per HTTP request, ``access.py``);
- with ``events = true``, the event-level member ``logging-events``, in every namespace
  (one ``event`` line per incoming event, ``events.py``; arguments by ``args.py``).
  Without it the event chains get nothing from this plugin.

It never calls ``structlog.configure()``: its logger is private (see ``output.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from siomw_core import CoreSettings, Middleware, hookimpl

from .access import access_logger
from .args import ArgsView
from .connect import connect_logger, user_of
from .events import event_logger
from .options import LoggingOptions
from .output import build_output
from .redact import QueryView

__all__ = [
    "EVENTS_NAME",
    "HTTP_NAME",
    "NAME",
    "PRIORITY",
    "ArgsView",
    "LoggingOptions",
    "QueryView",
    "access_logger",
    "connect_logger",
    "event_logger",
    "siomw_config_schema",
    "siomw_contract",
    "siomw_middlewares",
    "user_of",
]

#: the middleware's name in chains (``before``/``after``/``order`` refer to it)
NAME = "logging"
#: the engine-level member's name
HTTP_NAME = "logging-http"
#: the event-level member's name (``events = true``)
EVENTS_NAME = "logging-events"
#: higher runs first: outside jwt and ratelimit, so it times and sees all of them
PRIORITY = 3000


@hookimpl
def siomw_middlewares(config: Any, settings: CoreSettings) -> Sequence[Middleware]:
    """The ``logging`` connect middleware, the ``logging-http`` engine member (unless
    ``access_log = false``) and the ``logging-events`` event member (only with
    ``events = true``), built once from ``config``; all write through one logger.

    Args:
        config: the validated :class:`LoggingOptions` (None: the defaults).
        settings: the core settings (unused).

    Raises:
        ConfigError: ``file`` cannot be opened for appending.
    """
    options = config if isinstance(config, LoggingOptions) else LoggingOptions()
    output = build_output(options)
    every = options.level == "info"
    # a stdlib target filters by its own level too: ask it before building a line
    enabled = output.enabled if output.stdlib is not None else None
    connect = connect_logger(output.logger, accepted=every, enabled=enabled)
    members = [Middleware(name=NAME, func=connect, level="connect", priority=PRIORITY)]
    owners: list[object] = [connect]
    if options.access_log:
        http = access_logger(output.logger, QueryView(options.redact_params), every=every,
                             enabled=enabled)
        members.append(Middleware(name=HTTP_NAME, func=http, level="engine", priority=PRIORITY,
                                  preflight=True))
        owners.append(http)
    if options.events:
        args = (ArgsView(max_length=options.event_arg_max, extra=options.event_redact)
                if options.event_args else None)
        events = event_logger(output, sample=options.event_sample,
                              include=options.event_include, exclude=options.event_exclude,
                              args=args)
        members.append(Middleware(name=EVENTS_NAME, func=events, level="event",
                                  priority=PRIORITY))
        owners.append(events)
    output.close_with(*owners)
    return members


@hookimpl
def siomw_config_schema() -> type[BaseModel]:
    """The ``[logging]`` table's schema: :class:`LoggingOptions`."""
    return LoggingOptions


@hookimpl
def siomw_contract() -> str:
    """The plugin contract versions this plugin supports: 1.2 (its engine members are done at
    a WebSocket's 101) and every later 1.x."""
    return ">=1.2,<2"
