"""Observing chains: every chain run and every member in it, timed, for plugins that watch.

A plugin that wants to know how chains go (the ``metrics`` plugin, a tracer) implements the
:func:`~siomw_core.hookspecs.siomw_observer` hook and returns an :class:`Observer`; the core
then reports to it, so that no plugin has to wrap the others' members:

- :meth:`Observer.chain_done` after each run of a chain: an engine request, a connection
  attempt, an incoming event (with no event member, the handler's own call);
- :meth:`Observer.member_done` after each member of that run, with the member's own time
  (its ``call_next`` excluded: what ran inside it is reported by the inner members);
- :meth:`Observer.socket_connected` / :meth:`Observer.socket_disconnected` when a
  connection is accepted (its CONNECT is being sent) and when it ends, once each.

Times are seconds of :func:`time.perf_counter`. An outcome is one of :data:`OUTCOMES`:

- ``"accepted"``: the member (the chain) passed: it called ``call_next`` and that passed;
- ``"answered"``: it answered the subject itself (``Event.reply()``, a framework member's
  own response, :func:`answer_request`) or a member inside it did;
- ``"refused"``: a :class:`~siomw_core.Refusal` went through it (``code`` is its
  ``data.code``, None when it has none);
- ``"timeout"``: the deadline passed (``middleware_timeout``; a member that was running when
  the run was cancelled from outside reports it too: the chain's own outcome is then
  ``"cancelled"``);
- ``"error"``: it (or something inside it) raised: ``internal_error``;
- ``"cancelled"``: chain runs only: cancelled from outside (the server shutting down).

With no observer (no plugin implements the hook) nothing of this runs: each level holds
None and calls the runner as before (one attribute check per chain run, none per member).
With observers, each composed chain is wrapped once, the first time it runs (cached per chain
and namespace). An observer that raises is logged once per observer and method, with its
traceback, and never changes a chain's outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from .chain import Deadlines, run_chain
from .errors import Refusal, as_refusal
from .middleware import CallNext, Level, Middleware

if TYPE_CHECKING:
    from .registry import Registry

__all__ = ["OUTCOMES", "Observer", "Observers", "Outcome", "collect_observers",
           "install_observers", "outcome_of", "run_observed"]

log = logging.getLogger("siomw")

Outcome: TypeAlias = Literal["accepted", "refused", "answered", "timeout", "error",
                             "cancelled"]
#: every outcome an observer may be told
OUTCOMES: tuple[Outcome, ...] = ("accepted", "refused", "answered", "timeout", "error",
                                 "cancelled")

_clock = time.perf_counter
#: timed chains (and members) kept per stack before the cache starts over
LIMIT = 4096


class Observer:
    """What a plugin's :func:`~siomw_core.hookspecs.siomw_observer` returns: override the
    methods you need (the base class' do nothing). Called in the thread or task that ran the
    chain, on every server kind: keep them short and non-blocking (a counter increment).

    Arguments common to the methods:
        level: ``"engine"``, ``"connect"`` or ``"event"``.
        namespace: the Socket.IO namespace (``"/"``, ``"/admin"``); None at the engine
            level (an HTTP request has none).
        outcome: one of :data:`OUTCOMES` (see the module's docstring).
        code: the refusal's ``data.code`` (``"invalid_token"``, ``"middleware_timeout"``,
            ``"internal_error"``, ``"answered"``...); None when accepted or when the refusal
            has no code.
        seconds: elapsed time in seconds (:func:`time.perf_counter`).
    """

    def chain_done(self, level: Level, namespace: str | None, outcome: Outcome,
                   code: str | None, seconds: float) -> None:
        """One run of a chain ended; ``seconds`` from its start to its end, the
        application's handler included."""

    def member_done(self, level: Level, name: str, namespace: str | None, outcome: Outcome,
                    code: str | None, seconds: float) -> None:
        """Member ``name`` of a run ended; ``seconds`` is its own time: from its call to
        its return, less the time its ``call_next()`` took."""

    def socket_connected(self, namespace: str) -> None:
        """A connection to ``namespace`` was accepted (its CONNECT is being sent)."""

    def socket_disconnected(self, namespace: str) -> None:
        """A connection to ``namespace`` that was reported connected ended."""


def outcome_of(refusal: Refusal) -> tuple[Outcome, str | None]:
    """The outcome and code an observer is told for ``refusal``: ``middleware_timeout`` is
    ``"timeout"``, ``internal_error`` is ``"error"``, a framework member's own answer
    (code ``answered``) is ``"answered"``, any other ``"refused"``."""
    code = refusal.code
    if code == "middleware_timeout":
        return "timeout", code
    if code == "internal_error":
        return "error", code
    if code == "answered":
        return "answered", code
    return "refused", code


class Observers:
    """The observers of one stack, called as one :class:`Observer` (in plugin-name order).

    A call that raises is logged (ERROR, with its traceback) the first time for that
    observer and method, then ignored: watching never breaks what is watched.

    Args:
        observers: ``(plugin name, observer)`` pairs.
    """

    __slots__ = ("_bound", "_cache", "_failed", "_members", "observers")

    def __init__(self, observers: Sequence[tuple[str, Observer]]) -> None:
        self.observers = tuple(observers)
        #: method name -> (plugin name, the observer's bound method), looked up once (an
        #: observer that is not an :class:`Observer` may lack some: it is not told those)
        self._bound: dict[str, tuple[tuple[str, Callable[..., None]], ...]] = {
            method: tuple((name, getattr(observer, method)) for name, observer in observers
                          if callable(getattr(observer, method, None)))
            for method in ("chain_done", "member_done", "socket_connected",
                           "socket_disconnected")}
        self._failed: set[tuple[str, str]] = set()
        #: (id(chain), level, namespace) -> (the chain, its timed copy)
        self._cache: dict[tuple[int, str, str | None],
                          tuple[Sequence[Middleware], tuple[Middleware, ...]]] = {}
        #: (id(member), level, namespace) -> (the member, its timed copy): a socket's own
        #: chain (its ``socket.use`` members after the namespace's) reuses the shared ones
        self._members: dict[tuple[int, str, str | None], tuple[Middleware, Middleware]] = {}

    def _call(self, method: str, *args: Any) -> None:
        for name, call in self._bound[method]:
            try:
                call(*args)
            except Exception:
                if (name, method) not in self._failed:
                    self._failed.add((name, method))
                    log.exception("siomw: observer of plugin %r raised in %s (ignored; "
                                  "logged once)", name, method)

    def chain_done(self, level: Level, namespace: str | None, outcome: Outcome,
                   code: str | None, seconds: float) -> None:
        """As :meth:`Observer.chain_done`, to each observer."""
        self._call("chain_done", level, namespace, outcome, code, seconds)

    def member_done(self, level: Level, name: str, namespace: str | None, outcome: Outcome,
                    code: str | None, seconds: float) -> None:
        """As :meth:`Observer.member_done`, to each observer."""
        self._call("member_done", level, name, namespace, outcome, code, seconds)

    def socket_connected(self, namespace: str) -> None:
        """As :meth:`Observer.socket_connected`, to each observer."""
        self._call("socket_connected", namespace)

    def socket_disconnected(self, namespace: str) -> None:
        """As :meth:`Observer.socket_disconnected`, to each observer."""
        self._call("socket_disconnected", namespace)

    def timed(self, chain: Sequence[Middleware], level: Level,
              namespace: str | None) -> tuple[Middleware, ...]:
        """``chain`` with each member timed and reported (made once per chain, level and
        namespace; a recomposed chain is a new one)."""
        key = (id(chain), level, namespace)
        found = self._cache.get(key)
        if found is not None and found[0] is chain:
            return found[1]
        if len(self._cache) > LIMIT:  # chains recomposed (or sockets' own): forget them
            self._cache.clear()
        if len(self._members) > LIMIT:
            self._members.clear()
        timed = tuple(self._timed_member(member, level, namespace) for member in chain)
        self._cache[key] = (chain, timed)
        return timed

    def _timed_member(self, member: Middleware, level: Level,
                      namespace: str | None) -> Middleware:
        key = (id(member), level, namespace)
        found = self._members.get(key)
        if found is not None and found[0] is member:
            return found[1]
        timed = _timed(member, level, namespace, self)
        self._members[key] = (member, timed)
        return timed


def _timed(member: Middleware, level: Level, namespace: str | None,
           observers: Observers) -> Middleware:
    """A copy of ``member`` whose ``call`` reports its outcome and own time."""
    call, name = member.call, member.name

    async def timed(subject: Any, call_next: CallNext) -> None:
        inner = 0.0
        called = False
        seen: BaseException | None = None  # what its call_next raised into it

        async def timed_next() -> None:
            nonlocal inner, called, seen
            called = True
            started = _clock()
            try:
                await call_next()
            except BaseException as exc:
                seen = exc
                raise
            finally:
                inner += _clock() - started

        started = _clock()
        try:
            await call(subject, timed_next)
        except BaseException as exc:
            outcome, code = _raised(exc)
            own = _clock() - started - inner
            if outcome is not None:
                observers.member_done(level, name, namespace, outcome, code, max(own, 0.0))
            raise
        own = max(_clock() - started - inner, 0.0)
        if seen is not None:  # it caught what call_next raised: the runner lets it stand
            outcome, code = _raised(seen)
            if outcome is None:
                return
        elif getattr(subject, "answered", False) is True:  # it, or a member inside it
            outcome, code = "answered", None
        elif called:
            outcome, code = "accepted", None
        else:  # returned without call_next: the runner refuses internal_error
            outcome, code = "error", "internal_error"
        observers.member_done(level, name, namespace, outcome, code, own)

    timed_member = replace(member)
    object.__setattr__(timed_member, "call", timed)
    return timed_member


def _raised(exc: BaseException) -> tuple[Outcome | None, str | None]:
    """The outcome of a member that raised ``exc`` (None: not to be reported, the
    coroutine being closed)."""
    if isinstance(exc, Refusal):
        return outcome_of(exc)
    if isinstance(exc, asyncio.CancelledError):
        task = _task()
        if task is not None and task.cancelling():  # the deadline (or a cancel from outside)
            return "timeout", "middleware_timeout"
        return "error", "internal_error"  # raised by its own code: the runner refuses
    if not isinstance(exc, Exception):  # GeneratorExit: drive() gave up on the chain
        return None, None
    refusal = as_refusal(exc)
    if refusal is not None:
        return outcome_of(refusal)
    return "error", "internal_error"


def _task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no event loop: a sync server's drive()
        return None


async def run_observed(
    observers: Observers,
    level: Level,
    namespace: str | None,
    chain: Sequence[Middleware],
    subject: Any,
    endpoint: Callable[[], Awaitable[Any]],
    timeout: float | Deadlines | None = None,
    **options: Any,
) -> None:
    """:func:`~siomw_core.chain.run_chain` with every member timed and the run reported
    to ``observers`` (``options``: ``run_chain``'s keyword arguments).

    Raises:
        What ``run_chain`` raises, unchanged.
    """
    started = _clock()
    try:
        await run_chain(observers.timed(chain, level, namespace), subject, endpoint, timeout,
                        **options)
    except Refusal as refusal:
        outcome, code = outcome_of(refusal)
        observers.chain_done(level, namespace, outcome, code, _clock() - started)
        raise
    except asyncio.CancelledError:
        observers.chain_done(level, namespace, "cancelled", None, _clock() - started)
        raise
    answered = getattr(subject, "answered", False) is True
    observers.chain_done(level, namespace, "answered" if answered else "accepted", None,
                         _clock() - started)


def collect_observers(registry: Registry) -> Observers | None:
    """Ask every enabled plugin's :func:`~siomw_core.hookspecs.siomw_observer` for its
    observer, with its own validated config (plugin-name order).

    Returns:
        The :class:`Observers`, or None when no plugin returned one (nothing is then timed).
        A hook that raises is logged with the plugin's name; the others still observe.
    """
    found: list[tuple[str, Observer]] = []
    for record in sorted(registry.records.values(), key=lambda r: r.name):
        if not record.enabled:
            continue
        hook = registry._impl("siomw_observer", record.name)
        if hook is None:
            continue
        try:
            observer = hook(config=record.options, settings=registry.config.core,
                            runtime=registry.runtime)
        except Exception:
            log.exception("siomw: plugin %r failed to make its observer; its metrics are "
                          "not collected", record.name)
            continue
        if observer is not None:
            found.append((record.name, observer))
    return Observers(found) if found else None


def install_observers(stack: Any) -> Observers | None:
    """Collect the observers of ``stack`` (a :class:`~siomw_core.Siomw`) and hand them to
    its three levels, once, when it is attached.

    Returns:
        What :func:`collect_observers` returned.
    """
    observers = collect_observers(stack.registry)
    stack.connect_level.observer = observers
    stack.event_level.observer = observers
    if stack.engine_level is not None:  # None: an async_mode without an engine adapter
        stack.engine_level.observer = observers
    return observers
