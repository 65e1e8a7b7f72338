"""The ``jwt-handshake`` engine member: passport-jwt on ``io.engine.use``, in Python.

Socket.IO's "Middlewares" guide authenticates the Engine.IO handshake with passport-jwt::

    io.engine.use((req, res, next) => {
      const isHandshake = req._query.sid === undefined;
      if (isHandshake) passport.authenticate("jwt", { session: false })(req, res, next);
      else next();
    });

This member does the same: on a handshake request (no ``sid``) it reads the token from
``Authorization: Bearer``, the configured query parameter or cookie, verifies it like the
connect level (the same decoder and details), checks ``handshake_scopes``, and leaves the
claims in ``request.state["jwt.claims"]`` (``socket.handshake.state`` at the connect level).
Every other request of the session (polls, POSTs, the WebSocket upgrade) passes untouched.

For the connect level it also leaves a :class:`Verified` record under a key of its own,
tagged with a mark only this build holds: no client input can forge it, and nothing but this
member writes it, so the connect level may trust it without a second decode.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from siomw_core import CallNext, Middleware, Request

from .extract import TokenSource
from .refusals import insufficient_scope, invalid_request
from .scopes import Rule
from .scopes import granted as granted_set
from .session import deadline

__all__ = ["CLAIMS_KEY", "NAME", "PRIORITY", "VERIFIED_KEY", "Verified", "build_handshake"]

NAME = "jwt-handshake"
#: the connect-level jwt's priority: at the engine it also runs after an IP rate limit (2000)
PRIORITY = 1000
#: where the verified claims are published: ``request.state`` / ``socket.handshake.state``
CLAIMS_KEY = "jwt.claims"
#: where the connect level finds :class:`Verified`
VERIFIED_KEY = "jwt.verified"


class Verified:
    """What the handshake check established, for the connect level.

    Attributes:
        mark: the build's mark (identity-compared: proves this member wrote it).
        deadline: when the token expires, as a UNIX time in seconds (``exp`` + ``leeway``,
            PyJWT's rule: expired once ``now >= exp + leeway``); None without ``exp``.
        granted: the scopes the token grants (computed once, immune to later edits of the
            claims by handlers).
        claims: the verified claims.
    """

    __slots__ = ("claims", "deadline", "granted", "mark")

    def __init__(
        self, mark: object, deadline: float | None, granted: frozenset[str],
        claims: dict[str, Any],
    ) -> None:
        self.mark = mark
        self.deadline = deadline
        self.granted = granted
        self.claims = claims

    def __repr__(self) -> str:  # claims may be personal data: keep them out of logs
        return f"<Verified deadline={self.deadline}>"


def build_handshake(
    verify: Callable[[str], Awaitable[dict[str, Any]]],
    source: TokenSource,
    rule: Rule,
    leeway: float,
    mark: object,
) -> Middleware:
    """The ``jwt-handshake`` member spec: engine level, priority 1000, not on preflight.

    Args:
        verify: :func:`siomw_jwt.decoder.verifier`'s function (shared with the connect level).
        source: where tokens come from (``Authorization``, ``query_param``, ``cookie``).
        rule: ``handshake_scopes`` compiled.
        leeway: seconds of clock skew (``leeway``), added to ``exp`` for the deadline.
        mark: the object the connect level recognises :class:`Verified` records by.

    Refusals (``Refusal.status`` and ``WWW-Authenticate`` per RFC 6750 §3): no token 401,
    a bad ``Authorization`` header 400, a refused token 401, a missing scope 403.
    """
    scopes, scope = rule.scopes, rule.scope
    of_request = source.of_request

    async def jwt_handshake(request: Request, call_next: CallNext) -> None:
        if not request.is_handshake:  # the session's later requests: authenticated already
            await call_next()
            return
        token = of_request(request)
        if token is None:
            raise invalid_request("missing_token")
        claims = await verify(token)
        granted = granted_set(claims)
        if scopes and not scopes <= granted:
            raise insufficient_scope(scope)
        state = request.state
        state[CLAIMS_KEY] = claims
        state[VERIFIED_KEY] = Verified(mark, deadline(claims.get("exp"), leeway), granted,
                                       claims)
        await call_next()

    return Middleware(name=NAME, func=jwt_handshake, level="engine", priority=PRIORITY)
