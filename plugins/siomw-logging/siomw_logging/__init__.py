"""siomw plugin ``logging``: structlog lines for Socket.IO connection attempts and disconnects.

Registered under the entry-point group ``siomw`` as ``logging``; its options are the
``[logging]`` table (:class:`LoggingOptions`). It contributes one connect-level middleware,
named ``logging``, priority 3000 (the outermost of the bundled plugins), in every namespace.

It never calls ``structlog.configure()``: its logger is private (see ``output.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from siomw_core import CoreSettings, Middleware, hookimpl

from .connect import connect_logger, user_of
from .options import LoggingOptions
from .output import build_output

__all__ = [
    "NAME",
    "PRIORITY",
    "LoggingOptions",
    "connect_logger",
    "siomw_config_schema",
    "siomw_middlewares",
    "user_of",
]

#: the middleware's name in chains (``before``/``after``/``order`` refer to it)
NAME = "logging"
#: higher runs first: outside jwt and ratelimit, so it times and sees all of them
PRIORITY = 3000


@hookimpl
def siomw_config_schema() -> type[BaseModel]:
    """The ``[logging]`` table's schema: :class:`LoggingOptions`."""
    return LoggingOptions


@hookimpl
def siomw_middlewares(config: Any, settings: CoreSettings) -> Sequence[Middleware]:
    """The ``logging`` connect middleware, built once from ``config``.

    Args:
        config: the validated :class:`LoggingOptions` (None: the defaults).
        settings: the core settings (unused).

    Raises:
        ConfigError: ``file`` cannot be opened for appending.
    """
    options = config if isinstance(config, LoggingOptions) else LoggingOptions()
    output = build_output(options)
    func = connect_logger(output.logger, accepted=options.level == "info")
    output.close_with(func)
    return [Middleware(name=NAME, func=func, level="connect", priority=PRIORITY)]
