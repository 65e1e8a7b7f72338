"""The engine-level member ``logging-http``: one ``http`` line per HTTP request of the engine.

Node's access logs (morgan) in front of ``io.engine``: every request python-engineio serves
on the engine path gets one line: the handshake, each long-poll ``GET`` and ``POST``, CORS
preflights (the member is declared ``preflight=True``) and WebSocket requests.

When the line is written:

- plain HTTP requests: when the response has been sent (after ``await call_next()``), from
  ``request.status`` and ``request.bytes_sent``; a long-poll ``GET`` is held by the engine
  until it has something to send (at most ``ping_interval``), and its duration says so;
- WebSocket requests: when the upgrade is answered (``101``, the request's ``on_start``
  hook, on every server kind), not when the connection ends (the request lasts the whole
  connection): ``duration_ms`` is the time to the answer, and
  ``bytes`` is null (frames are not counted). The connection's length is in the connect
  level's ``disconnect`` line (``connected_s``). A WebSocket request the engine turns down
  before accepting it is logged when its call ends, with that status;
- refused requests (a :class:`Refusal` from a member inside, e.g. jwt or ratelimit at the
  engine level): as the refusal passes, with the refusal's status and ``data.code``; the
  core sends the refusal's body after, so ``bytes`` is null.

The line never holds a header (``Authorization``, ``Cookie``, ``Set-Cookie``,
``Proxy-Authorization`` or any other) nor the raw query string: only the fields below, the
query through :class:`~siomw_logging.redact.QueryView`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from time import perf_counter

from structlog.typing import FilteringBoundLogger

from siomw_core import CallNext, Refusal, Request

from .redact import QueryView

__all__ = ["access_logger"]

_log = logging.getLogger("siomw")

EngineMiddleware = Callable[[Request, CallNext], Awaitable[None]]

#: a response status from this one on is logged at level "warning" (RFC 9110 §15.5, §15.6)
WARNING_STATUS = 400
#: the longest path written (the engine path plus whatever the client appended)
MAX_PATH = 256


def access_logger(
    logger: FilteringBoundLogger, query_view: QueryView, *, every: bool = True,
    enabled: Callable[[int], bool] | None = None,
) -> EngineMiddleware:
    """Build the engine middleware that writes the ``http`` lines.

    Args:
        logger: the plugin's bound logger (see :func:`siomw_logging.output.build_output`).
        query_view: builds the redacted ``query`` field.
        every: log every request (``level = "info"``); False logs only refused requests and
            responses with a status of 400 or more (``level = "warning"``).
        enabled: asked with the line's level (``logging.INFO``/``WARNING``) before a line
            is built (:meth:`~siomw_logging.output.Output.enabled`: a stdlib target's own
            level); None: every line passes to ``logger``.

    Returns:
        ``async def log_http(request, call_next)``; it re-raises whatever ``call_next``
        raised, after logging it, and never raises because a line could not be written.

    Line (keys in this order, then ``level`` and ``timestamp``, ISO 8601 UTC)::

        http: method, path, query (dict or null), transport ("polling" | "websocket" |
            null), sid (engine sid, null for a handshake), handshake (bool), upgrade (bool:
            a WebSocket request), status (int, null when no response was sent), code
            (refusal data.code, else null), duration_ms (milliseconds, 3 decimals), bytes
            (response body bytes, null when not known), address; level "info", or
            "warning" for a refusal or a status >= 400
    """
    info = logger.info
    warning = logger.warning

    def line(
        request: Request, status: int | None, code: str | None, size: int | None,
        started: float, refused: bool = False,
    ) -> None:
        duration_ms = round((perf_counter() - started) * 1000.0, 3)
        problem = refused or (status is not None and status >= WARNING_STATUS)
        if enabled is not None and not enabled(logging.WARNING if problem else logging.INFO):
            return  # filtered out: no field built, no processor run
        emit = warning if problem else info
        query = request.query
        sid = query.get("sid") or None
        try:
            emit(
                "http",
                method=request.method,
                path=request.path[:MAX_PATH],
                query=query_view(query),
                transport=request.transport,
                sid=sid,
                handshake=sid is None,
                upgrade=request.is_upgrade,
                status=status,
                code=code,
                duration_ms=duration_ms,
                bytes=size,
                address=request.address,
            )
        except Exception:  # a full disk must not fail requests
            _log.exception("siomw: [logging] could not write an http line")

    def refused(request: Request, refusal: Refusal, started: float) -> None:
        if request.started and request.status == 101:
            return  # a WebSocket failing after its accept: the core logs the failure
        if request.started:  # answered already (a framework member's own 400, say)
            line(request, request.status, refusal.code, _size(request), started, refused=True)
        else:  # the core answers with the refusal's status once it is re-raised
            line(request, refusal.status, refusal.code, None, started, refused=True)

    async def log_problems(request: Request, call_next: CallNext) -> None:
        started = perf_counter()
        try:
            await call_next()
        except Refusal as refusal:
            refused(request, refusal, started)
            raise
        status = request.status
        if status is not None and status >= WARNING_STATUS:
            line(request, status, None, _size(request), started)

    if not every:
        return log_problems

    def at_start(started: float, request: Request) -> None:
        if request.status == 101:
            line(request, 101, None, None, started)

    async def log_http(request: Request, call_next: CallNext) -> None:
        started = perf_counter()
        upgrade = request.is_upgrade
        if upgrade:
            # the request lasts as long as the connection: its line is written at its 101.
            # No closure kept in this frame, which lives as long as the WebSocket does: the
            # request drops the hook once called, and the 101 itself says it was written
            request.on_start(partial(at_start, started))
        try:
            await call_next()
        except Refusal as refusal:
            if not (upgrade and request.status == 101):
                refused(request, refusal, started)
            raise
        except BaseException:  # cancelled (server shutdown): what was sent, if anything
            if not (upgrade and request.status == 101):
                line(request, request.status, None, _size(request), started)
            raise
        if not (upgrade and request.status == 101):
            line(request, request.status, None, _size(request), started)

    return log_http


def _size(request: Request) -> int | None:
    """Response body bytes: known for HTTP responses and for refused WebSocket requests
    answered with a body; None before a response started, for a 101 (frames are not
    counted) or a bare close."""
    if not request.started:
        return None
    if not request.is_upgrade or request.bytes_sent:
        return request.bytes_sent
    return None
