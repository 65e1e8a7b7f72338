"""What the jwt plugin keeps for a connected socket: its :class:`siomw_core.Identity`, and,
with ``disconnect_on_expiry = true`` only, one timer that disconnects it at ``exp``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from siomw_core import Identity, Socket, send_refusal

from .refusals import invalid_token

__all__ = ["SOURCE", "ExpiryTimers", "deadline", "make_identity"]

log = logging.getLogger("siomw.jwt")

#: ``Identity.source`` of the identities this plugin writes
SOURCE = "jwt"


def make_identity(claims: Mapping[str, Any], granted: frozenset[str]) -> Identity:
    """The :class:`~siomw_core.Identity` of verified ``claims`` granting ``granted``.

    ``sub`` is the ``sub`` claim as a string (None without one), ``expires_at`` the ``exp``
    claim in seconds since the epoch (None without one: such a token never expires).
    """
    sub = claims.get("sub")
    exp = claims.get("exp")
    return Identity(
        sub=None if sub is None else str(sub),
        scopes=granted,
        claims=dict(claims),
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


class ExpiryTimers:
    """``disconnect_on_expiry``: one timer per connected socket that carries a jwt identity
    with an ``exp``; at ``exp`` + ``leeway`` the socket gets the error event
    (``send_refusal(socket, invalid_token/expired, event=None)``) and is disconnected by the
    server. A timer is cancelled when its socket disconnects and replaced on re-authentication.

    Args:
        leeway: seconds added to ``exp`` (``[jwt] leeway``).
    """

    def __init__(self, leeway: float) -> None:
        self._leeway = leeway
        # socket -> its timer (None: a token without exp); an entry means on_disconnect is
        # registered for that socket, once
        self._timers: dict[Socket, asyncio.TimerHandle | None] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # expiries running (kept from the GC)

    def __len__(self) -> int:
        """The number of sockets with a pending timer (what a leak test counts)."""
        return sum(1 for handle in self._timers.values() if handle is not None)

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
        loop = asyncio.get_running_loop()
        # loop.time() is monotonic: a deadline on the wall clock becomes a delay from now
        delay = max(0.0, at - time.time())
        self._timers[socket] = loop.call_later(delay, self._fire, socket)

    def cancel(self, socket: Socket) -> None:
        """Forget ``socket`` (it disconnected): its timer, if any, never fires."""
        handle = self._timers.pop(socket, None)
        if handle is not None:
            handle.cancel()

    def _fire(self, socket: Socket) -> None:
        self._timers[socket] = None  # spent: the socket is on its way out
        task = asyncio.get_running_loop().create_task(self._expire(socket))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _expire(self, socket: Socket) -> None:
        server = socket.server
        # a socket refused by a member outside jwt after jwt accepted it never connected
        if not server.manager.is_connected(socket.sid, socket.namespace):
            self._timers.pop(socket, None)
            return
        try:
            await send_refusal(socket, invalid_token("Token expired", "expired"), event=None)
            await server.disconnect(socket.sid, namespace=socket.namespace)
        except Exception:  # the client left meanwhile: nothing to disconnect
            log.debug("siomw: [jwt] expiry of %r: the socket was gone", socket, exc_info=True)
        finally:
            self._timers.pop(socket, None)

