"""The ``[logging]`` config table."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

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
            per HTTP request of the engine (on every server kind, however it is served).
        redact_params: query parameter names whose values the ``http`` line replaces by
            ``"[redacted]"``, in addition to the built-in ones (``token``, ``key``, ...;
            see ``siomw_logging.redact``); compared case-insensitively, ``-`` as ``_``.
        events: contribute the event-level member ``logging-events``: one ``event`` line
            per incoming event (off by default; with False the event chains get nothing
            from this plugin).
        event_sample: the fraction of events logged, 0 to 1 (1: every one); decided per
            event before any other work.
        event_include: event names to log (empty: every event).
        event_exclude: event names never logged (applied after ``event_include``).
        event_args: add the event's arguments (``args``) to its line, redacted and bounded
            (see ``siomw_logging.args``); off by default: arguments are never logged.
        event_redact: more key names whose values ``args`` shows as ``"[redacted]"``,
            beside the core's secret names (compared like them: case-insensitive,
            ``-`` and camelCase read as ``_``).
        event_arg_max: strings in ``args`` are clipped to this many characters.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["json", "console"] = "json"
    file: str = Field(default="stderr", min_length=1)
    level: Literal["info", "warning"] = "info"
    logger_name: str = Field(default="siomw", min_length=1)
    access_log: StrictBool = True
    redact_params: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    events: StrictBool = False
    event_sample: Annotated[float, Field(ge=0.0, le=1.0, strict=True)] = 1.0
    event_include: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    event_exclude: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    event_args: StrictBool = False
    event_redact: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    event_arg_max: Annotated[StrictInt, Field(ge=1, le=1_000_000)] = 256

    @model_validator(mode="after")
    def _include_exclude_disjoint(self) -> LoggingOptions:
        both = sorted(set(self.event_include) & set(self.event_exclude))
        if both:
            raise ValueError(f"event_include and event_exclude both name {both}: "
                             f"an event is logged or not, not both")
        return self
