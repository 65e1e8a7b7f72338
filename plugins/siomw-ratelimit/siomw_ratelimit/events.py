"""Rate limits on events: the :func:`limit` decorator and the ``ratelimit-events`` event
middleware that enforces it and the ``event`` / ``events`` keys of ``[ratelimit]``.

NestJS's ``@Throttle()`` for Socket.IO handlers: ``@limit("5/second")`` stacks above or
below ``@sio.on`` / ``@sio.event`` and works on ``AsyncNamespace`` methods (it records a
``siomw_core.Requirement`` on the function, which the event level exposes as
``event.requirements``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar

from limits import RateLimitItem

from siomw_core import (
    CallNext,
    Event,
    Middleware,
    Requirement,
    Socket,
    get_identity,
    handler_name,
    require,
)

from .connect import NAME as PLUGIN
from .options import RateLimitOptions, limits_problem, parse_limits
from .refusals import rate_limited, unavailable
from .storage import Check, GuardedLimiter, StorageUnavailable, guarded_limiter

__all__ = ["EVENT_NAME", "EVENT_PRIORITY", "KEYS", "MESSAGE", "build_events", "limit"]

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("siomw.ratelimit")

EVENT_NAME = "ratelimit-events"
#: between logging (3000, which then logs the refusal) and jwt (1000): a flood is refused
#: before any token check runs
EVENT_PRIORITY = 2000
MESSAGE = "Rate limit exceeded"
KEYS = ("sid", "user", "ip")
KIND = "limit"


class _Plan(NamedTuple):
    """A ``ratelimit`` requirement, parsed once."""

    items: tuple[RateLimitItem, ...]
    key: str
    cost: int
    scope: str | None
    #: the decorated handler as :func:`siomw_core.handler_name` names it (part of its
    #: budget's counter, with the namespace and event it is registered for)
    where: str


#: id(requirement) -> (requirement, its plan); the requirement is kept so that its id is
#: never reused (one entry per decorator in the code: bounded)
_plans: dict[int, tuple[Requirement, _Plan]] = {}
#: scope -> (rate, key, handler) of its first decorator, to warn about a scope declared
#: with another rate or key (whose counters would not be shared)
_scopes: dict[str, tuple[str, str, str]] = {}


def _plan(rate: object, key: object, cost: object, scope: object, where: str) -> _Plan:
    """Validate a limit's parameters; ``where`` names the handler in the error.

    Raises:
        ValueError: one line naming ``where`` and the bad parameter.
    """
    problem = limits_problem(rate)  # the [ratelimit] table's wording, one function
    if problem is not None:
        raise ValueError(f"siomw_ratelimit.limit on {where}: expected {problem}; "
                         f"found {rate!r} ({type(rate).__name__})")
    items = parse_limits(rate)
    if key not in KEYS:
        raise ValueError(
            f"siomw_ratelimit.limit({rate!r}) on {where}: expected key 'sid', 'user' or "
            f"'ip'; found {key!r}"
        )
    if type(cost) is not int or cost < 1:
        raise ValueError(
            f"siomw_ratelimit.limit({rate!r}) on {where}: expected a whole cost of at "
            f"least 1; found {cost!r}"
        )
    smallest = min(items, key=lambda item: item.amount)
    if cost > smallest.amount:  # legal, and every such event is refused: say so once, now
        log.warning(
            "siomw: [ratelimit] limit(%r) on %s: cost %d is more than the %s allow, so "
            "every event of this handler is refused (rate_limited)", rate, where, cost,
            smallest,
        )
    if scope is not None and (not isinstance(scope, str) or not scope):
        raise ValueError(
            f"siomw_ratelimit.limit({rate!r}) on {where}: expected scope None or a "
            f"non-empty string; found {scope!r}"
        )
    return _Plan(items, str(key), cost, scope, where)


def limit(rate: str, *, key: str = "sid", cost: int = 1,
          scope: str | None = None) -> Callable[[F], F]:
    """Limit how often a handler's event may arrive: a decorator for event handlers.

    Args:
        rate: ``limits``' notation: ``"5/second"``, ``"10 per minute"``, several separated
            by ``;`` (``"10/second;100/hour"``, every one must hold).
        key: whose budget: ``"sid"`` (the socket, the default), ``"user"`` (the identity's
            ``sub``; an anonymous socket is counted by its sid) or ``"ip"`` (the client
            address, trusted proxies applied by the core).
        cost: units one event spends (a weighted event); an event that does not fit is
            refused and spends nothing.
        scope: a budget name shared by every handler that names it (with the same rate
            and key); None: the handler has its own budget per namespace and event it is
            registered for (a catch-all ``@sio.on("*")`` has one budget for every event
            name it receives: the client cannot pick a fresh one by naming a new event).

    Returns the decorator, which records a ``Requirement(plugin="ratelimit",
    kind="limit", options={"rate", "key", "cost", "scope"})`` on the handler and returns
    the handler itself, so that it stacks with ``@sio.on`` / ``@sio.event`` in either order
    and decorates ``AsyncNamespace`` methods. An event over the limit is refused with
    ``{"code": "rate_limited", "retry_after": seconds, "limit": "5 per 1 second"}``.

    Raises:
        ValueError: used bare (``@limit`` instead of ``@limit("5/second")``), at once;
            (when the handler is decorated) the rate is not a rate limit string, the key
            is unknown, the cost is not a whole number of at least 1, or the scope is
            empty; the message names the handler.
    """
    if callable(rate):  # @limit without arguments: the handler arrived as the rate
        raise ValueError('siomw_ratelimit.limit takes a rate: write '
                         '@siomw_ratelimit.limit("5/second"), not @siomw_ratelimit.limit '
                         f'(on {handler_name(rate)})')

    def decorate(handler: F) -> F:
        where = handler_name(handler)
        plan = _plan(rate, key, cost, scope, where)
        if scope is not None:
            first = _scopes.setdefault(scope, (rate, key, where))
            if first[:2] != (rate, key):
                log.warning(
                    "siomw: [ratelimit] scope %r is declared with rate %r and key %r on %s "
                    "but with rate %r and key %r on %s: handlers share a scope's budget only "
                    "with the same rate and key", scope, first[0], first[1], first[2], rate,
                    key, where)
        requirement = Requirement(plugin=PLUGIN, kind=KIND, options={
            "rate": rate, "key": key, "cost": cost, "scope": scope})
        _plans[id(requirement)] = (requirement, plan)
        return require(handler, requirement)

    return decorate


def _plan_of(requirement: Requirement, event: Event) -> _Plan:
    known = _plans.get(id(requirement))
    if known is not None and known[0] is requirement:
        return known[1]
    if requirement.kind != KIND:
        raise ValueError(f"ratelimit: unknown requirement kind {requirement.kind!r} on the "
                         f"handler of {event.name!r}")
    options: Mapping[str, Any] = requirement.options
    handler = event.handler
    plan = _plan(options.get("rate"), options.get("key", "sid"), options.get("cost", 1),
                 options.get("scope"), handler_name(handler) if handler is not None else "?")
    _plans[id(requirement)] = (requirement, plan)
    return plan


def _key_value(key: str, socket: Socket) -> str:
    """The budget's owner: ``"sid:<sid>"``, ``"user:<sub>"`` or ``"ip:<address>"``
    (the kind is part of it so that a sid and a subject never share a counter)."""
    if key == "user":
        identity = get_identity(socket)
        if identity is not None and identity.sub:
            return "user:" + identity.sub
        return "sid:" + socket.sid  # anonymous: the socket's own budget
    if key == "ip":
        return "ip:" + socket.handshake.address
    return "sid:" + socket.sid


def build_events(options: RateLimitOptions, guard: GuardedLimiter | None = None) -> Middleware:
    """The ``ratelimit-events`` event middleware (every namespace, priority 2000), built once.

    Per event it spends, in one step (:meth:`~siomw_ratelimit.storage.GuardedLimiter.acquire`:
    every budget or none):

    - ``event`` (one unit of the budget of every event of the ``event_key``);
    - ``events[<name>]`` (one unit of that event name's budget);
    - each ``@limit`` of the handler (``cost`` units of the handler's budget, counted per
      decorator and the namespace and event the handler is registered for,
      ``Event.route``: ``"*"`` for a catch-all, whatever name the client sends; or of the
      ``scope``'s).

    Counters: ``"<key_prefix>/event/<strategy>/<budget>/<owner>"`` (budget ``all``,
    ``name/[<namespace>/]<event>`` (namespace with ``per_namespace``),
    ``handler/<namespace>/<event>/<module.qualname>/<n>`` (as registered; ``n``: the
    decorator's position) or ``scope/<scope>``; owner as :func:`_key_value`).
    An event without any of them runs the next member at once.

    Refusals (the ack's ``{"error": {...}}`` or the ``siomw:error`` event):

    - ``Rate limit exceeded``, ``{"code": "rate_limited", "retry_after": int seconds >= 1,
      "limit": "5 per 1 second"}`` (``limit``: the limit that ran out; ``retry_after``:
      :meth:`~siomw_ratelimit.storage.GuardedLimiter.retry_after_checks`, never shorter
      than the real wait);
    - ``{"code": "rate_limit_unavailable"}`` when the storage fails under
      ``on_storage_error = "closed"``.

    Raises:
        ConfigError: the storage cannot be used (as :func:`~.connect.build_connect`).
    """
    if guard is None:
        guard = guarded_limiter(options)
    base = f"{options.key_prefix}/event/{options.strategy}/"
    every = options.event_items()
    by_name = options.events_items()
    config_key = options.event_key
    per_namespace = options.per_namespace
    configured = bool(every or by_name)
    acquire = guard.acquire

    def checks_of(event: Event, requirements: tuple[Requirement, ...]) -> list[Check]:
        socket = event.socket
        checks: list[Check] = []
        if configured:
            owner = _key_value(config_key, socket)
            for item in every:
                checks.append(Check(item, f"{base}all/{owner}"))
            named = by_name.get(event.name)
            if named:
                where = f"{event.namespace}/{event.name}" if per_namespace else event.name
                for item in named:
                    checks.append(Check(item, f"{base}name/{where}/{owner}"))
        for index, requirement in enumerate(requirements):
            if requirement.plugin != PLUGIN:
                continue
            plan = _plan_of(requirement, event)
            owner = _key_value(plan.key, socket)
            if plan.scope is not None:
                budget = f"scope/{plan.scope}"
            else:
                # the registration, not the name sent: a catch-all's route is (ns, "*")
                namespace, name = event.route or (event.namespace, event.name)
                budget = f"handler/{namespace}/{name}/{plan.where}/{index}"
            for item in plan.items:
                checks.append(Check(item, f"{base}{budget}/{owner}", plan.cost))
        return checks

    async def ratelimit_events(event: Event, call_next: CallNext) -> None:
        requirements = event.requirements
        if not requirements and not configured:
            await call_next()
            return
        checks = checks_of(event, requirements)
        if checks:
            try:
                refused = await acquire(checks)
            except StorageUnavailable:
                raise unavailable() from None
            if refused is not None:
                retry_after = await guard.retry_after_checks(checks, refused)
                raise rate_limited(MESSAGE, retry_after, refused.item)
        await call_next()

    def stated(namespace: str, name: str) -> list[Requirement]:
        """What the table makes this member enforce on ``name`` (``siomw chain``)."""
        found = []
        if options.event is not None:
            found.append(Requirement(plugin=PLUGIN, kind=KIND, options={
                "rate": options.event, "key": config_key, "cost": 1,
                "config": "[ratelimit] event"}))
        if name in options.events:
            found.append(Requirement(plugin=PLUGIN, kind=KIND, options={
                "rate": options.events[name], "key": config_key, "cost": 1,
                "config": f"[ratelimit.events] {json.dumps(name)}"}))
        return found

    return Middleware(name=EVENT_NAME, func=ratelimit_events, level="event",
                      priority=EVENT_PRIORITY, namespaces=None, requirements=stated,
                      configured_events=lambda namespace: tuple(options.events))
