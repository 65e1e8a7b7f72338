"""The jwt plugin at the event level: scopes per event, tokens that expire during the session,
and re-authentication without reconnecting.

One event member, ``jwt`` (priority 1000, every namespace), checks per incoming event, in
this order:

1. the ``reauth_event`` (default ``"siomw:reauth"``) is answered by the member itself
   (:mod:`siomw_jwt.reauth`): never refused for expiry, never seen by the application;
2. ``enforce_expiry``: a socket whose jwt identity expired (``exp`` + ``leeway``) has its
   event refused with ``invalid_token``/``expired``; it stays connected;
3. the scopes of ``@siomw_jwt.requires`` on the handler and of ``[jwt.events."name"]``:
   all of them must be granted (``insufficient_scope``, RFC 6750 §3.1); a socket without an
   identity (an ``anonymous`` namespace) is refused ``invalid_request``/``missing_token``.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from siomw_core import CallNext, Event, Middleware, Requirement, get_identity

from .options import JwtOptions
from .reauth import Reauth
from .refusals import insufficient_scope, invalid_request, invalid_token
from .requirements import KIND, PLUGIN, required_scopes
from .revocation import Revocation
from .scopes import Rule, required
from .session import SOURCE, deadline

__all__ = ["NAME", "PRIORITY", "build_event_middleware"]

log = logging.getLogger("siomw.jwt")

#: the event member has the connect member's name and priority (each level is its own chain)
NAME = "jwt"
PRIORITY = 1000


class _EventRules:
    """The scopes each event needs: from its handler's ``requires`` (cached per handler
    function: bounded by the application's code) and from ``[jwt.events]`` (bounded by the
    configuration). Event names come from clients, so nothing is cached per name."""

    def __init__(self, options: JwtOptions) -> None:
        self._configured: dict[str, list[tuple[tuple[str, ...] | None, list[str]]]] = {}
        for name, rule in options.events.items():
            namespaces = None if rule.namespaces is None else tuple(rule.namespaces)
            self._configured.setdefault(name, []).append((namespaces, list(rule.scopes)))
        self._of_handler: dict[Any, Rule] = {}

    def rule(self, event: Event) -> Rule | None:
        """The :class:`Rule` of ``event`` (None: no scope needed)."""
        handler = event.handler
        declared: Rule | None = None
        if handler is not None:
            func = getattr(handler, "__func__", handler)
            declared = self._of_handler.get(func)
            if declared is None:
                declared = self._of_handler[func] = required(required_scopes(event.requirements))
        configured = self._configured.get(event.name)
        if configured is None:
            return declared if declared is not None and declared.scopes else None
        scopes = list(declared.scope.split(" ")) if declared is not None and declared.scopes \
            else []
        namespace = event.namespace
        for namespaces, extra in configured:
            if namespaces is None or namespace in namespaces:
                scopes.extend(extra)
        rule = required(scopes)
        return rule if rule.scopes else None


def build_event_middleware(options: JwtOptions, reauth: Reauth | None,
                           revocation: Revocation | None = None) -> Middleware:
    """The ``jwt`` event member spec: event level, priority 1000, every namespace.

    Args:
        options: the validated ``[jwt]`` table (``enforce_expiry``, ``leeway``, ``events``).
        reauth: the re-authentication handler (None: ``reauth_event = false``).
        revocation: the revocation set (``[jwt] revocation``): a socket whose token's
            ``jti`` was revoked has its events refused ``invalid_token``/``revoked`` (after
            the expiry check; it stays connected and may re-authenticate).
    """
    event_rules = _EventRules(options)
    enforce_expiry = options.enforce_expiry
    leeway = options.leeway
    reauth_event = reauth.event if reauth is not None else None
    checked: list[object] = []  # the servers whose handlers were looked at (one, usually)

    def check_server(server: Any) -> None:
        checked.append(server)
        if reauth_event is None:
            return
        for namespace, handlers in getattr(server, "handlers", {}).items():
            if reauth_event in handlers:
                log.warning(
                    "siomw: [jwt] the application has a handler for %r on %s; the jwt plugin "
                    "answers that event itself (re-authentication), so the handler never "
                    "runs: rename it, or set [jwt] reauth_event to another name or false",
                    reauth_event, namespace)
        for namespace, instance in getattr(server, "namespace_handlers", {}).items():
            if callable(getattr(instance, "on_" + reauth_event, None)):
                log.warning(
                    "siomw: [jwt] %s.on_%s of %s is never called: the jwt plugin answers %r "
                    "itself (re-authentication); set [jwt] reauth_event to another name or "
                    "false", type(instance).__name__, reauth_event, namespace, reauth_event)

    async def jwt_event(event: Event, call_next: CallNext) -> None:
        socket = event.socket
        if socket.server not in checked:
            check_server(socket.server)
        if event.name == reauth_event and reauth is not None:
            await reauth(event)
            return
        identity = get_identity(socket)
        if enforce_expiry and identity is not None and identity.source == SOURCE:
            at = deadline(identity.expires_at, leeway)  # PyJWT's rule, as at connect
            if at is not None and time.time() >= at:
                raise invalid_token("Token expired", "expired")
        if revocation is not None and identity is not None and identity.source == SOURCE:
            await revocation.check(identity.claims)
        rule = event_rules.rule(event)
        if rule is not None:
            if identity is None:
                raise invalid_request("missing_token")
            if not rule.scopes <= identity.scopes:
                raise insufficient_scope(rule.scope)
        await call_next()

    def stated(namespace: str, name: str) -> list[Requirement]:
        """The ``[jwt.events."name"]`` rules that hold on ``namespace`` (``siomw chain``)."""
        rule = options.events.get(name)
        if rule is None or (rule.namespaces is not None and namespace not in rule.namespaces):
            return []
        return [Requirement(plugin=PLUGIN, kind=KIND, options={
            "scopes": list(rule.scopes), "config": f"[jwt.events.{json.dumps(name)}]"})]

    def configured(namespace: str) -> list[str]:
        return [name for name in options.events if stated(namespace, name)]

    return Middleware(name=NAME, func=jwt_event, level="event", priority=PRIORITY,
                      requirements=stated, configured_events=configured)

