"""siomw plugin ``logging``: structlog lines for Socket.IO connection attempts, disconnects
and the engine's HTTP requests.

Registered under the entry-point group ``siomw`` as ``logging``; its options are the
``[logging]`` table (:class:`LoggingOptions`). It contributes, with priority 3000 (the
outermost of the bundled plugins):

- the connect-level middleware ``logging``, in every namespace (``connect`` and
  ``disconnect`` lines, ``connect.py``);
- unless ``access_log = false``, the engine-level member ``logging-http``, also run for CORS
  preflights (one ``http`` line per HTTP request, ``access.py``).

It never calls ``structlog.configure()``: its logger is private (see ``output.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from siomw_core import CoreSettings, Middleware, hookimpl

from .access import access_logger
from .connect import connect_logger, user_of
from .options import LoggingOptions
from .output import build_output
from .redact import QueryView

__all__ = [
    "HTTP_NAME",
    "NAME",
    "PRIORITY",
    "LoggingOptions",
    "QueryView",
    "access_logger",
    "connect_logger",
    "siomw_config_schema",
    "siomw_middlewares",
    "user_of",
]

#: the middleware's name in chains (``before``/``after``/``order`` refer to it)
NAME = "logging"
#: the engine-level member's name
HTTP_NAME = "logging-http"
#: higher runs first: outside jwt and ratelimit, so it times and sees all of them
PRIORITY = 3000


@hookimpl
def siomw_config_schema() -> type[BaseModel]:
    """The ``[logging]`` table's schema: :class:`LoggingOptions`."""
    return LoggingOptions


@hookimpl
def siomw_middlewares(config: Any, settings: CoreSettings) -> Sequence[Middleware]:
    """The ``logging`` connect middleware and the ``logging-http`` engine member (unless
    ``access_log = false``), built once from ``config``; both write through one logger.

    Args:
        config: the validated :class:`LoggingOptions` (None: the defaults).
        settings: the core settings (unused).

    Raises:
        ConfigError: ``file`` cannot be opened for appending.
    """
    options = config if isinstance(config, LoggingOptions) else LoggingOptions()
    output = build_output(options)
    every = options.level == "info"
    connect = connect_logger(output.logger, accepted=every)
    members = [Middleware(name=NAME, func=connect, level="connect", priority=PRIORITY)]
    if options.access_log:
        http = access_logger(output.logger, QueryView(options.redact_params), every=every)
        members.append(Middleware(name=HTTP_NAME, func=http, level="engine", priority=PRIORITY,
                                  preflight=True))
        output.close_with(connect, http)
    else:
        output.close_with(connect)
    return members
