"""Re-authentication without reconnecting: the client emits ``reauth_event`` (default
``"siomw:reauth"``) with ``{"token": "..."}`` and an ack.

The token goes through every check a CONNECT's token goes through (the same ``verify``:
size, ASCII, signature, algorithm allow-list, ``exp``/``nbf``/``iat`` with ``leeway``,
audience, issuer, required claims) and the namespace's ``scopes``. It must name the subject
the socket already has (``sub``): a token of another subject is refused with
``invalid_token``/``subject_mismatch``. Success replaces the identity
(:func:`siomw_core.set_identity`: ``socket.data["user"]``, which is the session) and the
expiry timer, and answers ``{"ok": true, "exp": <exp or null>}``. A refusal changes nothing:
the identity, the claims handlers read and the timer are left exactly as they were.

Without an ack, success answers nothing and a refusal is the core's error event
(``{"event": "siomw:reauth", "message", "data"}``), as for any refused event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from siomw_core import Event, get_identity, set_identity

from .extract import auth_token
from .refusals import insufficient_scope, invalid_request, invalid_token
from .scopes import Rule
from .scopes import granted as granted_set
from .session import ExpiryTimers, make_identity

__all__ = ["Reauth"]


class Reauth:
    """The re-authentication of ``event``'s socket (``await reauth(event)``).

    Args:
        event: the configured ``reauth_event`` name.
        verify: the connect level's ``verify(token) -> claims``.
        rules: the per-namespace rules of the connect level.
        timers: the ``disconnect_on_expiry`` timers (None: that option is off).
    """

    def __init__(
        self,
        event: str,
        verify: Callable[[str], Awaitable[dict[str, Any]]],
        rules: dict[str, Rule],
        timers: ExpiryTimers | None,
    ) -> None:
        self.event = event
        self._verify = verify
        self._rules = rules
        self._timers = timers
        self._default = Rule()

    async def __call__(self, event: Event) -> None:
        """Check the token of ``event.args[0]["token"]`` and, when all is well, replace the
        socket's identity and answer ``{"ok": True, "exp": ...}``.

        Raises:
            Refusal: ``invalid_request`` (``missing_token``: no ``{"token": ...}`` payload,
                or ``token_not_string``), ``invalid_token`` (every connect-level detail,
                plus ``subject_mismatch``), ``insufficient_scope`` (the namespace's scopes).
        """
        args = event.args
        payload = args[0] if len(args) == 1 and isinstance(args[0], dict) else {}
        token = auth_token(payload)
        if token is None:
            raise invalid_request("missing_token")
        claims = await self._verify(token)
        socket = event.socket
        rule = self._rules.get(socket.namespace, self._default)
        granted = granted_set(claims)
        if rule.scopes and not rule.scopes <= granted:
            raise insufficient_scope(rule.scope)
        current = get_identity(socket)
        new = make_identity(claims, granted)
        # an anonymous socket (no identity) may authenticate; an authenticated one keeps
        # its subject: a token without sub cannot show it is the same one
        if current is not None and (new.sub is None or new.sub != current.sub):
            raise invalid_token("Token is for another subject", "subject_mismatch")
        # every check passed: nothing above changed any state
        set_identity(socket, new)
        if self._timers is not None:
            self._timers.start(socket, new)
        event.reply({"ok": True, "exp": claims.get("exp")})
