"""The connect-level middleware: one line per connection attempt, one per disconnect.

It is the outermost member (priority 3000), so it times the whole rest of the chain and the
application's connect handler. The core turns any exception of an inner member into the
``internal_error`` refusal and a passed deadline into ``middleware_timeout`` before they
reach it (``siomw_core.chain``), so catching :class:`Refusal` sees every refusal; a client
that leaves shows up as the refusal code ``client_gone`` (also when the connect handler
failed because its client had left, e.g. ``save_session``'s ``KeyError``) or as a
cancellation (``asyncio.CancelledError`` on an ``AsyncServer``). A chain past its deadline
is ``middleware_timeout`` whatever a member did with the deadline's cancel (swallowed it,
then returned or called ``call_next``).

Lines carry no token, auth payload, header or cookie: only the fields below are put in the
event dict. The member uses no asyncio: it runs unchanged on every server kind (on a sync
``socketio.Server`` in the request's thread).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from time import monotonic, perf_counter
from typing import Any

from structlog.typing import FilteringBoundLogger

from siomw_core import CLIENT_GONE, CallNext, Refusal, Socket, get_identity

__all__ = ["TRANSPORTS", "connect_logger", "user_of"]
#: the Engine.IO transports; any other ``transport`` query value is logged as null
TRANSPORTS = frozenset({"polling", "websocket"})

# failures of the output itself go to the stdlib (the line could not be written)
_log = logging.getLogger("siomw")

ConnectMiddleware = Callable[[Socket, CallNext], Awaitable[None]]


def user_of(socket: Socket) -> str | None:
    """The user a line shows: the subject of the socket's identity
    (:func:`siomw_core.get_identity`, stored by the jwt plugin or any other authenticating
    plugin with ``set_identity``), or None when it has none."""
    identity = get_identity(socket)
    return None if identity is None else identity.sub


class _Disconnect:
    """A socket's ``disconnect`` line, written by ``socket.on_disconnect``: one small object
    per connected socket (slots, no closure cells; the socket keeps it until it
    disconnects)."""

    __slots__ = ("_accepted_at", "_address", "_enabled", "_info", "_socket", "_user")

    def __init__(self, info: Any, enabled: Callable[[int], bool] | None, socket: Socket,
                 address: str, user: str | None) -> None:
        self._info = info
        self._enabled = enabled
        self._socket = socket
        self._address = address
        self._user = user
        self._accepted_at = monotonic()

    def __call__(self, reason: str) -> None:
        enabled = self._enabled
        if enabled is not None and not enabled(logging.INFO):
            return
        socket = self._socket
        try:
            self._info(
                "disconnect",
                sid=socket.sid,
                namespace=socket.namespace,
                address=self._address,
                user=self._user,
                reason=reason,
                connected_s=round(monotonic() - self._accepted_at, 3),
            )
        except Exception:
            _log.exception("siomw: [logging] could not write a disconnect line")


def connect_logger(
    logger: FilteringBoundLogger, *, accepted: bool = True,
    enabled: Callable[[int], bool] | None = None,
) -> ConnectMiddleware:
    """Build the middleware that writes the ``connect`` and ``disconnect`` lines.

    Args:
        logger: the plugin's bound logger (see :func:`siomw_logging.output.build_output`).
        accepted: also log accepted connections, abandoned attempts and disconnects
            (``level = "info"``); False logs refusals only (``level = "warning"``).
        enabled: the level check run before a line is built, ``enabled(logging.INFO)`` ->
            bool (:meth:`~siomw_logging.output.Output.enabled`, which asks a stdlib
            target's own level); None: ``logger`` gets every line.

    Returns:
        ``async def log_connect(socket, call_next)``. Whatever ``call_next`` raised is
        logged, then re-raised; a line that cannot be written never raises.

    Lines (keys in this order, then ``level`` and ``timestamp``, ISO 8601 UTC)::

        connect: outcome ("accepted" | "refused" | "abandoned"), code (refusal data.code
            or null), message (refusal message or null), sid, namespace, address,
            transport, user (:func:`user_of`), duration_ms (milliseconds, 3 decimals);
            level "info", or "warning" when refused
        disconnect: sid, namespace, address, user, reason (python-socketio's),
            connected_s (seconds since acceptance, 3 decimals); level "info"
    """
    info = logger.info
    warning = logger.warning

    def line(
        method: Any,
        socket: Socket,
        outcome: str,
        refusal: Refusal | None,
        started: float,
        user: str | None,
    ) -> None:
        duration_ms = round((perf_counter() - started) * 1000.0, 3)
        if enabled is not None and not enabled(
                logging.WARNING if method is warning else logging.INFO):
            return  # filtered out: no field built, no processor run
        handshake = socket.handshake
        transport = handshake.query.get("transport")
        try:
            method(
                "connect",
                outcome=outcome,
                code=None if refusal is None else refusal.code,
                message=None if refusal is None else refusal.message,
                sid=socket.sid,
                namespace=socket.namespace,
                address=handshake.address,
                transport=transport if transport in TRANSPORTS else None,
                user=user,
                duration_ms=duration_ms,
            )
        except Exception:  # a full disk must not refuse connections
            _log.exception("siomw: [logging] could not write a connect line")

    async def log_refusals(socket: Socket, call_next: CallNext) -> None:
        started = perf_counter()
        try:
            await call_next()
        except Refusal as refusal:
            if refusal.code != CLIENT_GONE:
                line(warning, socket, "refused", refusal, started, user_of(socket))
            raise

    if not accepted:
        return log_refusals

    async def log_connect(socket: Socket, call_next: CallNext) -> None:
        started = perf_counter()
        try:
            await call_next()
        except Refusal as refusal:
            if refusal.code == CLIENT_GONE:
                line(info, socket, "abandoned", refusal, started, user_of(socket))
            else:
                line(warning, socket, "refused", refusal, started, user_of(socket))
            raise
        except BaseException:  # CancelledError: the attempt was cancelled from outside
            line(info, socket, "abandoned", None, started, user_of(socket))
            raise
        user = user_of(socket)
        line(info, socket, "accepted", None, started, user)
        socket.on_disconnect(_Disconnect(info, enabled, socket, socket.handshake.address, user))

    return log_connect
