"""The ``jwt`` connect middleware: verify the token (or reuse the handshake's), store the
identity, check scopes; and :func:`build_middlewares`, which makes all of the plugin's
members."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from siomw_core import CallNext, Identity, Middleware, Runtime, Socket, declare_secret, set_identity

from .decoder import Decoder, verifier
from .events import build_event_middleware
from .extract import TokenSource, auth_token
from .handshake import VERIFIED_KEY, Verified, build_handshake
from .options import JwtOptions
from .reauth import Reauth
from .refusals import insufficient_scope, invalid_request, invalid_token
from .revocation import Revocation
from .scopes import Rule, compile_rules, granted_scopes, required
from .scopes import granted as granted_set
from .session import ExpiryTimers, make_identity

__all__ = [
    "NAME",
    "PRIORITY",
    "USER_KEY",
    "Rule",
    "build_middleware",
    "build_middlewares",
    "granted_scopes",
]

log = logging.getLogger("siomw.jwt")

NAME = "jwt"
#: Kong's jwt plugin runs at 1450, before its rate limiting (910); siomw's bundled plugins use
#: 3000 (logging), 2000 (ratelimit), 1000 (jwt)
PRIORITY = 1000
#: where handlers find the claims: ``socket.data["user"]``, the python-socketio session
#: (written by ``siomw_core.set_identity``)
USER_KEY = "user"


def build_middlewares(
    options: JwtOptions, decoder: Decoder, runtime: Runtime | None = None,
    revocation: Revocation | None = None,
) -> list[Middleware]:
    """The plugin's members for ``options``, all verifying with ``decoder``: the ``jwt``
    connect middleware, the ``jwt`` event member (expiry, ``requires``, ``[jwt.events]``,
    re-authentication: :mod:`siomw_jwt.events`), and with ``handshake = true`` the
    ``jwt-handshake`` engine member.

    The places a token is read from are declared secret (``siomw_core.declare_secret``:
    ``Authorization``, ``query_param``, ``cookie``, and the ``reauth_event``, whose
    arguments carry a token whatever their shape), so that the stack's logging never
    writes them out. ``runtime`` (the stack's) runs the ``disconnect_on_expiry`` timers
    (default: an ``AsyncServer``'s). ``revocation`` (``[jwt] revocation``) refuses revoked
    tokens wherever they are verified, and connected sockets at their next event."""
    declare_secret(header="authorization", query=options.query_param, cookie=options.cookie,
                   event=options.reauth_event or None)
    verify = verifier(options, decoder, revocation)
    source = TokenSource(options.query_param, options.cookie)
    rules = compile_rules(options)
    # one timer per socket, and only when disconnect_on_expiry asks for it
    timers = ExpiryTimers(options.leeway, runtime) if options.disconnect_on_expiry else None
    reauth = (None if options.reauth_event is False
              else Reauth(options.reauth_event, verify, rules, timers))
    members = [
        build_middleware(options, verify, source, timers=timers),
        build_event_middleware(options, reauth, revocation),
    ]
    if not options.handshake:
        return members
    mark = object()  # this build's: Verified records of another origin are not trusted
    members[0] = build_middleware(options, verify, source, mark, timers=timers)
    return [build_handshake(verify, source, required(options.handshake_scopes),
                            options.leeway, mark), *members]


def build_middleware(
    options: JwtOptions,
    verify: Callable[[str], Awaitable[dict[str, Any]]],
    source: TokenSource,
    mark: object | None = None,
    *,
    timers: ExpiryTimers | None = None,
) -> Middleware:
    """The ``jwt`` middleware spec: connect level, priority 1000, every namespace.

    Per connection:

    1. a token in the CONNECT's ``auth`` is verified (``verify``) whatever the handshake did;
    2. without one, the claims the ``jwt-handshake`` member verified on this connection's
       handshake (a :class:`~siomw_jwt.handshake.Verified` carrying ``mark``) are reused with
       no second decode, once ``exp`` (+ ``leeway``) is checked against the clock: the
       session may outlive the token (``invalid_token``/``expired``);
    3. otherwise the handshake's ``Authorization``, query parameter or cookie is verified;
       no token at all refuses ``invalid_request``/``missing_token`` unless the namespace
       is ``anonymous``.

    A namespace whose ``scopes`` are not all granted refuses ``insufficient_scope``. The
    identity (:func:`siomw_jwt.session.make_identity`) is stored with
    ``siomw_core.set_identity`` (``socket.data["user"]`` gets the claims); with ``timers``
    (``disconnect_on_expiry``) the socket's expiry timer starts once the rest of the chain
    accepted it.

    Args:
        options: the validated ``[jwt]`` table.
        verify: ``await verify(token) -> claims`` (:func:`siomw_jwt.decoder.verifier`).
        source: where the handshake's token may be.
        mark: the handshake member's mark (None: ``handshake = false``, nothing to reuse).
        timers: the ``disconnect_on_expiry`` timers (None: that option is off).
    """
    rules = compile_rules(options)
    default = Rule()
    of_handshake = source.of_handshake
    warned = False

    def reused(socket: Socket) -> Verified | None:
        nonlocal warned
        verified = socket.handshake.state.get(VERIFIED_KEY)
        if type(verified) is Verified and verified.mark is mark:
            return verified
        if not warned:  # the engine chain did not run for this handshake
            warned = True
            log.warning(
                "siomw: [jwt] handshake = true, but a handshake reached the connect level "
                "without passing the jwt-handshake engine member (the engine chain did not "
                "run for it; see the core's error about it); the connect level verifies "
                "the token meanwhile"
            )
        return None

    async def jwt_middleware(socket: Socket, call_next: CallNext) -> None:
        rule = rules.get(socket.namespace, default)
        handshake = socket.handshake
        token = auth_token(handshake.auth)
        if token is None:
            if mark is not None:
                verified = reused(socket)
                if verified is not None:
                    deadline = verified.deadline
                    if deadline is not None and time.time() >= deadline:
                        raise invalid_token("Token expired", "expired")
                    if rule.scopes and not rule.scopes <= verified.granted:
                        raise insufficient_scope(rule.scope)
                    # per namespace, a copy, as a decode gives
                    await accept(socket, make_identity(verified.claims, verified.granted),
                                 call_next)
                    return
            token = of_handshake(handshake)
            if token is None:
                if rule.anonymous:
                    await call_next()
                    return
                raise invalid_request("missing_token")
        claims = await verify(token)
        granted = granted_set(claims)
        if rule.scopes and not rule.scopes <= granted:
            raise insufficient_scope(rule.scope)
        await accept(socket, make_identity(claims, granted, fresh=True), call_next)

    async def accept(socket: Socket, identity: Identity, call_next: CallNext) -> None:
        set_identity(socket, identity)
        await call_next()
        if timers is not None:  # the rest of the chain (and the connect handler) accepted it
            timers.start(socket, identity)

    return Middleware(name=NAME, func=jwt_middleware, level="connect", priority=PRIORITY)
