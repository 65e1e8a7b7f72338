"""What the jwt plugin keeps for a connected socket: its :class:`siomw_core.Identity`, and,
with ``disconnect_on_expiry = true`` only, one timer that disconnects it at ``exp``."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from siomw_core import AsyncRuntime, Identity, Runtime, Socket, TimerHandle, send_refusal

from .refusals import invalid_token

__all__ = ["SOURCE", "ExpiryTimers", "deadline", "make_identity"]

log = logging.getLogger("siomw.jwt")

#: ``Identity.source`` of the identities this plugin writes
SOURCE = "jwt"


def make_identity(claims: Mapping[str, Any], granted: frozenset[str], *,
                  fresh: bool = False) -> Identity:
    """The :class:`~siomw_core.Identity` of verified ``claims`` granting ``granted``.

    ``sub`` is the ``sub`` claim as a string (None without one), ``expires_at`` the ``exp``
    claim in seconds since the epoch (None without one: such a token never expires).
    ``fresh``: ``claims`` is a dict nobody else holds (the verifier's own, just decoded or
    parsed from the cache): the identity keeps it behind a read-only view instead of a
    copy (one dict less per socket); otherwise the identity copies it.
    """
    sub = claims.get("sub")
    exp = claims.get("exp")
    return Identity(
        sub=None if sub is None else str(sub),
        scopes=granted,
        claims=MappingProxyType(claims) if fresh else claims,  # Identity copies a dict
        expires_at=None if exp is None else float(exp),
        source=SOURCE,
    )


def deadline(exp: Any, leeway: float) -> float | None:
    """When a token whose ``exp`` claim is ``exp`` stops being valid, in seconds since the
    epoch: ``int(exp) + leeway``, PyJWT's rule (``jwt.api_jwt._validate_exp``: ``exp`` read
    as ``int``, expired once ``now >= exp + leeway``; RFC 7519 §4.1.4). The one expiry rule
    of the plugin: the handshake, the event member and the expiry timers use it. ``exp``:
    the claim as PyJWT accepted it (a number) or ``Identity.expires_at``; None: never.
    """
    return None if exp is None else int(exp) + leeway


class _Armed:
    """One armed expiry: the runtime's timer handle; :meth:`cancel` disarms it."""

    __slots__ = ("cancelled", "handle")

    def __init__(self) -> None:
        self.handle: TimerHandle | None = None
        self.cancelled = False

    def cancel(self) -> None:
        """Stop the timer (it never fires)."""
        self.cancelled = True
        if self.handle is not None:
            self.handle.cancel()


class ExpiryTimers:
    """``disconnect_on_expiry``: one timer per connected socket that carries a jwt identity
    with an ``exp``; at ``exp`` + ``leeway`` the socket gets the error event
    (``send_refusal(socket, invalid_token/expired, event=None)``) and is disconnected by the
    server. A timer is cancelled when its socket disconnects and replaced on re-authentication.

    Timers and the disconnect go through the stack's runtime, whatever the server kind:
    ``runtime.call_later`` (the event loop's on an ``AsyncServer``; the runtime's timer task,
    a thread or a greenlet, on a sync ``socketio.Server``), ``runtime.disconnect``.

    Args:
        leeway: seconds added to ``exp`` (``[jwt] leeway``).
        runtime: the stack's runtime (``siomw_middlewares(..., runtime)``); default an
            ``AsyncServer``'s (timers on the running loop).
    """

    def __init__(self, leeway: float, runtime: Runtime | None = None) -> None:
        self._leeway = leeway
        self._runtime: Runtime = runtime if runtime is not None else AsyncRuntime()
        # socket -> its armed timer (None: a token without exp); an entry means
        # on_disconnect is registered for that socket, once
        self._timers: dict[Socket, _Armed | None] = {}

    def __len__(self) -> int:
        """The number of sockets with a pending timer (what a leak test counts)."""
        return sum(1 for armed in list(self._timers.values()) if armed is not None)

    def start(self, socket: Socket, identity: Identity) -> None:
        """(Re)arm ``socket``'s timer for ``identity``; the previous one is cancelled."""
        if socket in self._timers:
            previous = self._timers[socket]
            if previous is not None:
                previous.cancel()
        else:
            socket.on_disconnect(lambda reason: self.cancel(socket))
        at = deadline(identity.expires_at, self._leeway)
        if at is None:
            self._timers[socket] = None
            return
        # the runtime's clock is monotonic: a deadline on the wall clock becomes a delay
        delay = max(0.0, at - time.time())
        armed = self._timers[socket] = _Armed()
        armed.handle = self._runtime.call_later(delay, self._expire, socket, armed)

    def cancel(self, socket: Socket) -> None:
        """Forget ``socket`` (it disconnected): its timer, if any, never fires."""
        armed = self._timers.pop(socket, None)
        if armed is not None:
            armed.cancel()

    async def _expire(self, socket: Socket, armed: _Armed) -> None:
        if armed.cancelled or self._timers.get(socket) is not armed:  # re-armed, forgotten
            return
        self._timers[socket] = None  # spent: the socket is on its way out
        server = socket.server
        try:
            # a socket refused by a member outside jwt after jwt accepted it never connected
            if not server.manager.is_connected(socket.sid, socket.namespace):
                return
            await send_refusal(socket, invalid_token("Token expired", "expired"), event=None)
            await self._runtime.disconnect(socket.sid, socket.namespace)
        except Exception:  # the client left meanwhile: nothing to disconnect
            log.debug("siomw: [jwt] expiry of %r: the socket was gone", socket, exc_info=True)
        finally:
            if self._timers.get(socket, armed) is None:
                self._timers.pop(socket, None)
