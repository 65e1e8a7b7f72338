"""The event level: Node's ``socket.use`` for every incoming event, on any server kind.

Written once against the server adapter (``adapters/``: every private attribute of a
python-socketio server kind lives there). Per incoming event of an accepted socket:

1. the Socket the connect chain saw is looked up by sid (the connect level keeps it until
   disconnect); an event of a sid it does not know (left, or never accepted) is dropped;
2. the handler python-socketio will call is resolved (``Event.handler``), so members read
   what its decorators require (``Event.requirements``); a requirement whose plugin has no
   member in the namespace's event chain is warned about once (refused in strict mode);
3. the chain runs (``chain.run_chain``: the namespace's members, then the socket's own
   ``socket.use`` members) around the handler; the deadline (``event_timeout``) counts the
   members' time, not the handler's; with no member and no requirement nothing of this runs;
4. the handler's return value answers the ack as python-socketio would; a refusal answers
   it with ``{"error": {"message", "data"}}``, or, without an ack, emits the
   ``event_error_event`` to that socket with ``{"event", "message", "data"}``; an event
   whose socket left meanwhile is dropped without calling the handler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from time import perf_counter
from typing import Any, Literal

from ..adapters.base import ServerAdapter
from ..chain import Deadlines, run_chain
from ..context import Socket
from ..errors import Refusal, internal_error, invalid_event
from ..event import NO_REPLY, Event
from ..middleware import Middleware
from ..observe import Observers, run_observed
from ..requirements import Requirement, handler_name, requirements_of

__all__ = ["ENDPOINT", "EventAdapter", "EventLevel"]

log = logging.getLogger("siomw")

#: what logs call the application's handler at the end of an event chain
ENDPOINT = "event handler"


#: what the event level needs of a server kind: the adapters' common base
EventAdapter = ServerAdapter


class _Gone(Refusal):
    """The socket left before its handler ran: the event is dropped, nothing answered."""

    def __init__(self) -> None:
        super().__init__("Socket left before the event was handled", {"code": "client_gone"})


#: at most this many characters of a malformed packet's data reach the log line
CLIP = 80


def _clipped(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= CLIP else f"{text[:CLIP]}... ({len(text)} characters)"


def malformed_reason(data: Any, reserved: frozenset[str]) -> str:
    """What is wrong with an EVENT packet's ``data``, for the log line (the client's
    values repr-clipped to :data:`CLIP` characters)."""
    if type(data) is not list:
        return f"its data is {_clipped(data)} ({type(data).__name__}), not a list"
    if not data:
        return "its data is an empty list (no event name)"
    name = data[0]
    if type(name) is not str:
        return f"its event name is {_clipped(name)} ({type(name).__name__}), not a string"
    return f"its event name {_clipped(name)} is reserved ({', '.join(sorted(reserved))})"


def _replied_then_call_next(event: Event, chain: tuple[Middleware, ...]) -> Refusal:
    """The refusal when the chain reached the handler after ``event.reply()``: logged with
    the event and the chain's member names (the one that replied is among them), the
    handler not run."""
    log.error("siomw: a middleware called event.reply() and then call_next() for %r (chain: "
              "%s): after reply() a member returns without call_next(); the handler was not "
              "run; refusing with internal_error", event, ", ".join(repr(m.name) for m in chain))
    return internal_error()


class EventLevel:
    """Event chains installed on one server.

    Args:
        adapter: the server kind's seam (:class:`EventAdapter`).
        chain_for: the composed event chain of a namespace (outermost first; cached by
            the stack).
        sockets: sid -> the accepted connection's Socket (the connect level's).
        timeout: the members' deadline per event in seconds (config ``event_timeout``).
        error_event: the event a refusal without an ack is emitted as
            (``event_error_event``), or False.
        strict: refuse (``internal_error``) an event whose handler requires a plugin
            that is not in its chain, instead of only warning.
    """

    def __init__(
        self,
        adapter: EventAdapter,
        chain_for: Callable[[str], tuple[Middleware, ...]],
        sockets: Mapping[str, Socket],
        timeout: float,
        error_event: str | Literal[False],
        strict: bool = False,
    ) -> None:
        self.adapter = adapter
        self.chain_for = chain_for
        self.sockets = sockets
        self.timeout = timeout
        #: one timer for the deadlines of every running chain (``chain.Deadlines``)
        self.deadlines = Deadlines(timeout)
        self.error_event = error_event
        self.strict = strict
        self._plugins: dict[str, tuple[tuple[Middleware, ...], frozenset[str]]] = {}
        #: the stack's observers (``observe.install_observers``); None: nothing is timed
        self.observer: Observers | None = None
        self._warned: set[tuple[str, str, str, str]] = set()

    def install(self, server: Any) -> None:
        """Route the server's events through the chains; ``send_refusal`` finds it."""
        server._siomw_event = self
        self.adapter.install(self.dispatch)

    # per event ---------------------------------------------------------------------------
    async def dispatch(self, sid: str, eio_sid: str, data: list[Any], namespace: str,
                       ack_id: int | None) -> None:
        """Run one incoming event ``data = [name, *args]`` of ``sid`` on ``namespace``."""
        socket = self.sockets.get(sid)
        if socket is None:  # left (or never accepted) before its event was dispatched
            log.debug("siomw: event of %s on %s dropped: the socket is gone", sid, namespace)
            return
        adapter = self.adapter
        # the protocol's EVENT payload is [name, *args], name a string; the adapter sends
        # malformed packets here before python-socketio reads them
        if (type(data) is not list or not data or type(data[0]) is not str
                or data[0] in adapter.reserved):
            await self._refuse_malformed(socket, eio_sid, data, ack_id)
            return
        name: str = data[0]
        found = adapter.route(name, namespace)
        handler = found[2] if found is not None else None
        base = self.chain_for(namespace)
        members = socket._members
        if members is None:
            chain = base
        else:
            cached = socket._event_chain
            if cached is None or cached[0] is not base:
                cached = socket._event_chain = (base, base + tuple(members))
            chain = cached[1]
        requirements = requirements_of(handler) if handler is not None else ()
        if requirements and not self._enforced(namespace, name, handler, requirements, base):
            await self._answer(socket, eio_sid, name, ack_id, internal_error())
            return
        if not chain:  # nothing to run around the handler: python-socketio's own path
            observer = self.observer
            started = perf_counter() if observer is not None else 0.0
            try:
                result = await adapter.call(name, namespace, sid, list(data[1:]))
            except Exception:
                log.exception("siomw: the event handler of %r raised for %r; refusing with "
                              "internal_error", name, socket)
                if observer is not None:
                    observer.chain_done("event", namespace, "error", "internal_error",
                                        perf_counter() - started)
                await self._answer(socket, eio_sid, name, ack_id, internal_error())
                return
            if observer is not None:
                observer.chain_done("event", namespace, "accepted", None,
                                    perf_counter() - started)
            if ack_id is not None and result is not adapter.not_handled:
                await adapter.send_ack(eio_sid, namespace, ack_id, result)
            return
        event = Event(name, list(data[1:]), ack_id is not None, socket, handler,
                      found[:2] if found is not None else None, requirements)
        outcome: list[Any] = []

        async def endpoint() -> None:
            if event.answered:  # a member replied, then called call_next() anyway
                raise _replied_then_call_next(event, chain)
            if self.sockets.get(sid) is not socket or not adapter.connected(sid, namespace):
                raise _Gone()
            event._handled = True  # a reply() from now on is a member's mistake
            outcome.append(await adapter.call(name, namespace, sid, list(event.args)))

        try:
            observer = self.observer
            if observer is None:
                await run_chain(chain, event, endpoint, self.deadlines, endpoint_name=ENDPOINT,
                                endpoint_timed=False)
            else:
                await run_observed(observer, "event", namespace, chain, event, endpoint,
                                   self.deadlines, endpoint_name=ENDPOINT,
                                   endpoint_timed=False)
        except _Gone:
            log.debug("siomw: event %r of %s dropped: the socket left", name, sid)
            return
        except Refusal as refusal:
            await self._answer(socket, eio_sid, name, ack_id, refusal)
            return
        if ack_id is None:
            return
        if outcome:
            if outcome[0] is not adapter.not_handled:
                await adapter.send_ack(eio_sid, namespace, ack_id, outcome[0])
        elif event.reply_value is not NO_REPLY:  # a member answered it (Event.reply)
            await adapter.send_ack(eio_sid, namespace, ack_id, event.reply_value)

    def _enforced(self, namespace: str, name: str, handler: Callable[..., Any] | None,
                  requirements: tuple[Requirement, ...], chain: tuple[Middleware, ...]
                  ) -> bool:
        """Whether every requirement's plugin has a member in ``chain``; warns (once per
        handler, event and plugin) about each that has none. False: strict, refuse."""
        cached = self._plugins.get(namespace)
        if cached is None or cached[0] is not chain:
            cached = self._plugins[namespace] = (
                chain, frozenset(m.plugin for m in chain if m.plugin))
        plugins = cached[1]
        ok = True
        for requirement in requirements:
            if requirement.plugin not in plugins:
                ok = False
                self.warn_unenforced(namespace, name, handler, requirement)
        return ok or not self.strict

    def warn_unenforced(self, namespace: str, name: str, handler: Any,
                        requirement: Requirement) -> None:
        """WARNING (once) that ``requirement`` of ``handler`` has no plugin to enforce it."""
        what = handler_name(handler) if handler is not None else "?"
        key = (namespace, name, what, requirement.plugin)
        if key in self._warned:
            return
        self._warned.add(key)
        action = "its events are refused (strict)" if self.strict else "it is NOT enforced"
        log.warning(
            "siomw: handler %s of event %r on %s requires plugin %r (%s %s), which is not "
            "enabled or has no event middleware on %s; %s",
            what, name, namespace, requirement.plugin, requirement.kind,
            dict(requirement.options), namespace, action,
        )

    def check_handlers(self) -> None:
        """Warn now about every registered handler's unenforced requirements (startup)."""
        for namespace, name, handler in self.adapter.handlers_of():
            chain = self.chain_for(namespace)
            plugins = {m.plugin for m in chain if m.plugin}
            for requirement in requirements_of(handler):
                if requirement.plugin not in plugins:
                    self.warn_unenforced(namespace, name, handler, requirement)

    async def _refuse_malformed(self, socket: Socket, eio_sid: str, data: Any,
                                ack_id: int | None) -> None:
        """Refuse an EVENT packet that is not ``[name, *args]`` with a string name, or whose
        name is reserved (``connect``, ``disconnect``): ``invalid_event``, before any
        chain (no member, no handler sees it), logged here as ONE warning line."""
        log.warning("siomw: event packet from %s on %s refused (invalid_event): %s",
                    socket.sid, socket.namespace, malformed_reason(data, self.adapter.reserved))
        if self.observer is not None:  # an attempt refused before any chain ran
            self.observer.chain_done("event", socket.namespace, "refused", "invalid_event", 0.0)
        name = data[0] if type(data) is list and data and type(data[0]) is str else None
        await self._answer(socket, eio_sid, name, ack_id, invalid_event())

    # answers -----------------------------------------------------------------------------
    async def _answer(self, socket: Socket, eio_sid: str, name: str | None, ack_id: int | None,
                      refusal: Refusal) -> None:
        """What the client of a refused event sees: its ack answered with the error, or
        the error event."""
        log.debug("siomw: event %r of %s on %s refused: %r", name, socket.sid,
                  socket.namespace, refusal)
        if not self.adapter.connected(socket.sid, socket.namespace):
            return
        if ack_id is not None:
            await self.adapter.send_ack(eio_sid, socket.namespace, ack_id,
                                        {"error": refusal.payload()})
        else:
            await self.send_error_event(socket, refusal, name)

    async def send_error_event(self, socket: Socket, refusal: Refusal,
                               event: str | None) -> None:
        """Emit ``event_error_event`` to ``socket``: ``{"event", "message", "data"}``."""
        if self.error_event is False:
            return
        payload: dict[str, Any] = {"event": event, **refusal.payload()}
        await self.adapter.emit(socket.sid, socket.namespace, self.error_event, payload)
