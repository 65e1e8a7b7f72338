"""The ``[logging]`` config table."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

__all__ = ["STDLIB", "STREAMS", "LoggingOptions"]

#: ``file`` values that name a standard stream rather than a path
STREAMS = ("stderr", "stdout")
#: the ``file`` value that hands every line to the stdlib logger ``logger_name``
STDLIB = "logging"


class LoggingOptions(BaseModel):
    """Options of the ``logging`` plugin (table ``[logging]`` of ``siomw.toml``).

    Attributes:
        format: ``"json"`` (one JSON object per line, structlog's ``JSONRenderer``) or
            ``"console"`` (structlog's ``ConsoleRenderer`` without colours).
        file: where lines go: ``"stderr"`` (default), ``"stdout"``, ``"logging"`` (the
            stdlib logger named ``logger_name``, so the application's ``logging`` setup
            decides), or a file path, opened once for appending, line-buffered.
        level: ``"info"`` (every line) or ``"warning"`` (refusals only; at the engine level
            also every response with a 4xx or 5xx status).
        logger_name: the stdlib logger used when ``file = "logging"``.
        access_log: contribute the engine-level member ``logging-http``: one ``http`` line
            per HTTP request of the engine (served through ``mw.asgi_app()`` only).
        redact_params: query parameter names whose values the ``http`` line replaces by
            ``"[redacted]"``, in addition to the built-in ones (``token``, ``key``, ...;
            see ``siomw_logging.redact``); compared case-insensitively, ``-`` as ``_``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["json", "console"] = "json"
    file: str = Field(default="stderr", min_length=1)
    level: Literal["info", "warning"] = "info"
    logger_name: str = Field(default="siomw", min_length=1)
    access_log: StrictBool = True
    redact_params: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
