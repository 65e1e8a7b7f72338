"""The connect level: Node's ``io.use`` / ``io.of(ns).use``, on every server kind.

Written once against a server adapter (``adapters/async_server.py``, ``adapters/
sync_server.py``: every private attribute of python-socketio it touches lives there).
python-socketio 5.18 runs the connect handler inline in the engine's read loop, leaks the sid
when the client leaves mid-handler, hangs on an exception and delivers broadcasts to sockets
it has not accepted (``reference/python-socketio-internals.md`` §1-2). This module replaces
the server's ``_handle_connect`` (a private method, the same seam as ``sio.instrument()``
uses for ``_trigger_event``) so that, per CONNECT packet:

1. the namespace is checked (python-socketio's handlers and ``namespaces``, plus every
   namespace a middleware guards, as Node's ``io.of`` creates it); an unknown one is
   refused with ``{"message": "Invalid namespace"}``, the payload Node sends
   (python-socketio sends a bare string the JS client cannot read);
2. the sid is pre-registered and the chain runs in its own task (async servers: the
   engine keeps reading and notices a client that leaves; sync servers: in the thread that
   read the CONNECT, refused from a timer at the deadline if it still runs); no packet
   sent from elsewhere reaches the pending socket, and what its own chain or connect
   handler emits to it (``to=sid``, a room it joined, a broadcast) is held and sent right
   after its CONNECT, in order, or dropped when it is refused;
3. the chain's endpoint is the application's own connect handler (decorator or
   ``AsyncNamespace``), called as python-socketio would, after checking that the client is
   still there and after saving ``socket.data`` as the session;
4. acceptance sends CONNECT ``{"sid"}``; a refusal sends CONNECT_ERROR ``{"message",
   "data"}``; a client that left gets nothing and leaves nothing behind; a connect handler
   that accepted an attempt refused afterwards is always paired with the disconnect handler.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from socketio import packet
from socketio.exceptions import ConnectionRefusedError as SioConnectionRefusedError

from ..adapters.base import ServerAdapter
from ..chain import run_chain
from ..context import DisconnectCallback, Handshake, Socket
from ..errors import CLIENT_GONE, Refusal, as_refusal, internal_error, middleware_timeout
from ..middleware import Middleware
from ..observe import Observers, run_observed
from ..proxies import TrustedProxies

__all__ = ["CLIENT_GONE", "ConnectLevel"]

log = logging.getLogger("siomw")

#: one decision per attempt (accepted, or refused by its chain or by the overdue timer,
#: which on a sync server runs in another thread)
_decide = threading.Lock()

#: seconds past ``connect_timeout`` after which a chain that ignored its cancellation is
#: refused from outside, on servers that cancel (``ServerAdapter.overdue_grace``)
OVERDUE_GRACE = ServerAdapter.overdue_grace


class _ClientGone(Refusal):
    def __init__(self) -> None:
        super().__init__("Client left before the connection was accepted", {"code": CLIENT_GONE})


class _Attempt:
    """One pending connection: its socket, what its own chain emitted to it, its state."""

    __slots__ = ("accepted", "answered", "handler_accepted", "held", "paired", "socket")

    def __init__(self, socket: Socket) -> None:
        self.socket = socket
        # (is a Socket.IO packet, packet): sent after CONNECT, dropped on refusal
        self.held: deque[tuple[bool, Any]] = deque()
        self.answered = False  # CONNECT_ERROR sent (or the client left): nothing more
        self.accepted = False  # the chain accepted: CONNECT is being sent
        self.handler_accepted = False  # the application's connect handler saw it accepted
        self.paired = False  # and its disconnect handler was called for it


#: the attempt whose connect chain (and the tasks it starts) is running in this context
_connecting: ContextVar[_Attempt | None] = ContextVar("siomw_connecting", default=None)


class _PendingEio(str):
    """The eio sid ``get_participants`` yields for a pending socket.

    python-socketio's managers hand it to the server's ``_send_eio_packet`` /
    ``_send_packet``, where siomw holds the packet for the socket's own chain
    (``attempt``) and drops it otherwise (``attempt`` None).
    """

    attempt: _Attempt | None

    def __new__(cls, eio_sid: str, attempt: _Attempt | None) -> _PendingEio:
        self = super().__new__(cls, eio_sid)
        self.attempt = attempt
        return self


class ConnectLevel:
    """Connect chains installed on one python-socketio server, of any kind.

    Args:
        adapter: the server's seams; its ``_handle_connect``, ``_trigger_event``,
            ``_send_packet``, ``_send_eio_packet`` and its manager's ``get_participants``
            are replaced on the instance.
        chain_for: returns the composed chain of a namespace (outermost first).
        timeout: the chain deadline in seconds (config ``connect_timeout``).
        proxies: the trusted proxies (config ``trusted_proxies``) for ``handshake.address``.
        guarded: returns the namespaces some middleware guards; they are accepted even
            without a handler (Node's ``io.of(ns).use(fn)`` creates ``ns``).
    """

    def __init__(
        self,
        adapter: ServerAdapter,
        chain_for: Callable[[str], Sequence[Middleware]],
        timeout: float,
        proxies: TrustedProxies | None = None,
        guarded: Callable[[], Collection[str]] = frozenset,
    ) -> None:
        self.adapter = adapter  # its kind's awaitable methods (see adapters/)
        self.sio = adapter.sio
        self.chain_for = chain_for
        self.timeout = timeout
        self.proxies = proxies
        self.guarded = guarded
        #: sid -> attempt, from pre_connect until it is accepted or refused
        self.pending: dict[str, _Attempt] = {}
        self._on_disconnect: dict[tuple[str, str], list[DisconnectCallback]] = {}
        #: sid -> the Socket of every accepted connection, until its disconnect: the event
        #: level hands the same object to every event of that sid
        self.sockets: dict[str, Socket] = {}
        #: the stack's observers (``observe.install_observers``); None: nothing is timed
        self.observer: Observers | None = None
        self._trigger_event = adapter.original("_trigger_event")
        self._send_packet = adapter.original("_send_packet")
        self._send_eio_packet = adapter.original("_send_eio_packet")

    def install(self) -> None:
        """Wrap the server instance; idempotent per server."""
        sio = self.sio
        if getattr(sio, "_siomw_connect", None) is not None:
            raise RuntimeError("siomw is already attached to this server")
        sio._siomw_connect = self
        if sio.always_connect:
            log.warning(
                "siomw: always_connect=True is ignored: CONNECT is sent once the connect chain "
                "and handler accepted, so that a refusal reaches clients as CONNECT_ERROR"
            )
        adapter = self.adapter
        adapter.replace("_handle_connect", self._handle_connect)
        adapter.replace("_trigger_event", self._trigger_with_callbacks)
        adapter.replace("_send_packet", self._send_packet_held)
        adapter.replace("_send_eio_packet", self._send_eio_packet_held)
        adapter.wrap_participants(self._participants)

    def _participants(self, participants: Callable[..., Iterator[tuple[str, str]]]
                      ) -> Callable[..., Iterator[tuple[str, str]]]:
        pending = self.pending

        def get_participants(namespace: str, room: Any) -> Iterator[tuple[str, str]]:
            if not pending:
                yield from participants(namespace, room)
                return
            own = _connecting.get()
            for sid, eio_sid in participants(namespace, room):
                attempt = pending.get(sid)
                if attempt is None:
                    yield sid, eio_sid
                else:  # not yet accepted: held for its own chain, dropped for the rest
                    yield sid, _PendingEio(eio_sid, attempt if attempt is own else None)

        return get_participants

    # python-socketio seams -----------------------------------------------------------
    async def _send_eio_packet_held(self, eio_sid: str, eio_pkt: Any) -> None:
        if type(eio_sid) is _PendingEio:
            attempt = eio_sid.attempt
            if attempt is not None and not attempt.answered:
                attempt.held.append((False, eio_pkt))
            return
        await self._send_eio_packet(eio_sid, eio_pkt)

    async def _send_packet_held(self, eio_sid: str, pkt: Any) -> None:
        if type(eio_sid) is _PendingEio:  # an emit with an ack callback
            attempt = eio_sid.attempt
            if attempt is not None and not attempt.answered:
                attempt.held.append((True, pkt))
            return
        await self._send_packet(eio_sid, pkt)

    async def _trigger_with_callbacks(self, event: str, namespace: str, *args: Any) -> Any:
        if event != "disconnect":
            return await self._trigger_event(event, namespace, *args)
        # every disconnect of an accepted socket passes here (client, transport, server):
        # its Socket is dropped before the handler runs, so a late event finds nothing
        gone = self.sockets.pop(args[0], None)
        if gone is not None and self.observer is not None:
            self.observer.socket_disconnected(gone.namespace)
        if not self._on_disconnect:
            return await self._trigger_event(event, namespace, *args)
        callbacks = self._on_disconnect.pop((namespace, args[0]), None)
        try:
            return await self._trigger_event(event, namespace, *args)
        finally:
            if callbacks:
                reason = str(args[1]) if len(args) > 1 else "server disconnect"
                await _call_all(callbacks, reason)

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        adapter = self.adapter
        namespace = namespace or "/"
        sid = None
        if adapter.knows(namespace) or namespace in self.guarded():
            sid = await adapter.pre_connect(eio_sid, namespace)
        if sid is None:
            # Node's answer for an unknown namespace; python-socketio also lands here for a
            # second CONNECT to a namespace this engine session already joined
            joined = adapter.joined(eio_sid, namespace)
            message = "Already connected to namespace" if joined else "Invalid namespace"
            await self._send(eio_sid, packet.CONNECT_ERROR, {"message": message}, namespace)
            return
        environ = adapter.environ(eio_sid)
        if environ is None or adapter.engine_socket(eio_sid) is None:  # the session closed
            await adapter.manager_disconnect(sid, namespace)
            return
        # python-socketio keeps a namespace's session for the engine session's life: a new
        # CONNECT must not see what an earlier connection on it stored (internals §4)
        adapter.keep_session(eio_sid, namespace, None)
        socket = Socket(sid, namespace, Handshake(environ, data, self.proxies), eio_sid,
                        self.sio)
        attempt = self.pending[sid] = _Attempt(socket)
        # a member that swallows the deadline's cancel (or, on a sync server, a thread that
        # cannot be cancelled) must not leave the client waiting
        await adapter.start_attempt(self._connect(attempt, data), self.timeout,
                                    lambda late: self._overdue(attempt, late))

    def _overdue(self, attempt: _Attempt, late: float) -> None:
        socket = attempt.socket
        if late:
            log.error(
                "siomw: the connect chain of %s on %s still runs %.1f s after its deadline "
                "(a middleware ignores cancellation); refusing with middleware_timeout",
                socket.sid, socket.namespace, late,
            )
        else:
            log.error(
                "siomw: the connect chain of %s on %s passed its deadline (a thread cannot "
                "be cancelled: what it does later is discarded); refusing with "
                "middleware_timeout", socket.sid, socket.namespace,
            )
        self.adapter.runtime.spawn(self._refuse, attempt, middleware_timeout())

    # one connection attempt ------------------------------------------------------------
    async def _connect(self, attempt: _Attempt, auth: Any) -> None:
        socket = attempt.socket
        adapter = self.adapter
        sid, namespace, eio_sid = socket.sid, socket.namespace, socket.eio_sid
        # this context (the attempt's task, or the sync server's thread until the attempt
        # ends): what the chain emits is held
        token = _connecting.set(attempt)

        async def endpoint() -> None:
            if attempt.answered:  # refused already by _overdue: what the client got
                raise middleware_timeout()
            if not adapter.alive(eio_sid):
                raise _ClientGone()
            adapter.keep_session(eio_sid, namespace, socket.data)
            try:
                await self._call_handler(socket, auth)
            except Refusal:
                raise
            except Exception:
                if adapter.alive(eio_sid):
                    raise
                # a consequence of the client leaving (save_session: KeyError('Session not
                # found')), not a server failure: a quiet abandoned attempt
                log.debug("siomw: the connect handler of %s on %s raised after its client "
                          "left", sid, namespace, exc_info=True)
                raise _ClientGone() from None
            attempt.handler_accepted = True  # a later refusal owes it a disconnect
            if attempt.answered:  # refused while the handler ran (overdue)
                await self._pair(attempt)
            if not adapter.alive(eio_sid):  # left while the handler ran: outer members see it
                raise _ClientGone()

        try:
            try:
                try:
                    chain = self.chain_for(namespace)
                except Exception:  # an unorderable chain (strict mode) must still answer
                    log.exception("siomw: the connect chain of %r cannot be composed",
                                  namespace)
                    raise internal_error() from None
                observer = self.observer
                if observer is None:
                    await run_chain(chain, socket, endpoint, self.timeout)
                else:
                    await run_observed(observer, "connect", namespace, chain, socket,
                                       endpoint, self.timeout)
            except Refusal as refusal:
                await self._refuse(attempt, refusal)
                return
            with _decide:
                refused = attempt.answered
                attempt.accepted = not refused
            if refused:  # refused already by _overdue; its handler is paired
                if attempt.handler_accepted:
                    await self._pair(attempt)
                return
            # before CONNECT is sent: the client may emit its first event as soon as it reads it
            self.sockets[sid] = socket
            if self.observer is not None:
                self.observer.socket_connected(namespace)
            await self._send(eio_sid, packet.CONNECT, {"sid": sid}, namespace)
            held = attempt.held
            while held:  # what its own chain emitted to it, in order, before anything else
                is_sio, pkt = held.popleft()
                send = self._send_packet if is_sio else self._send_eio_packet
                await send(eio_sid, pkt)
            self.pending.pop(sid, None)
            await adapter.manager_connect(sid, namespace)
            if socket._on_disconnect:
                self._on_disconnect[(namespace, sid)] = socket._on_disconnect
            if not adapter.alive(eio_sid):
                # it left between the chain's end and manager.connect: python-socketio's
                # engine disconnect skipped the sid (not yet connected), so run it now, or
                # the sid, its Socket and its callbacks would stay forever
                await adapter.handle_disconnect(eio_sid, namespace,
                                                adapter.reason.TRANSPORT_CLOSE)
        except asyncio.CancelledError:
            await self._abandon(attempt)
            raise
        except Exception:  # a task's exception would go unretrieved: log and clean up
            log.exception("siomw: connect of %s to %s failed", sid, namespace)
            await self._abandon(attempt)
        finally:
            _connecting.reset(token)

    async def _call_handler(self, socket: Socket, auth: Any) -> None:
        """Call the application's connect handler the way python-socketio 5.18 does.

        Raises:
            Refusal: it returned False, or raised a ``ConnectionRefusedError``
                (``errors.as_refusal``: python-socketio's or the built-in, message kept).
        """
        args = (socket.sid, socket.environ)
        trigger = self._trigger_event
        try:
            if auth:
                result = await trigger("connect", socket.namespace, *args, auth)
            else:
                try:
                    result = await trigger("connect", socket.namespace, *args, None)
                except TypeError as exc:  # a legacy (sid, environ) handler
                    try:
                        result = await trigger("connect", socket.namespace, *args)
                    except TypeError:
                        raise exc from None
        except (SioConnectionRefusedError, ConnectionRefusedError) as exc:
            refusal = as_refusal(exc)
            if refusal is None:  # a backend's refused TCP connection: a failure
                raise
            raise refusal from None
        if result is False:
            raise Refusal("Connection rejected by server")

    async def _refuse(self, attempt: _Attempt, refusal: Refusal) -> None:
        socket = attempt.socket
        adapter = self.adapter
        sid, namespace, eio_sid = socket.sid, socket.namespace, socket.eio_sid
        with _decide:
            decided = attempt.answered or attempt.accepted
            attempt.answered = True
        if decided:  # answered already (overdue, or accepted just as the deadline's grace
            return  # ran out), or the chain ended late
        attempt.held.clear()  # what its chain emitted to it is dropped with it
        if adapter.alive(eio_sid):
            adapter.keep_session(eio_sid, namespace, None)  # nothing of it stays in memory
            try:
                await self._send(eio_sid, packet.CONNECT_ERROR, refusal.payload(), namespace)
            except (TypeError, ValueError):  # data that JSON cannot carry
                log.exception("siomw: refusal data of %s is not JSON-serialisable: %r",
                              sid, refusal)
                await self._send(eio_sid, packet.CONNECT_ERROR, internal_error().payload(),
                                 namespace)
        if attempt.handler_accepted:
            await self._pair(attempt)
        await adapter.manager_disconnect(sid, namespace)
        self.pending.pop(sid, None)
        log.debug("siomw: refused %s on %s: %r", sid, namespace, refusal)

    async def _abandon(self, attempt: _Attempt) -> None:
        """Clean up an attempt whose task was cancelled or failed (no answer is sent)."""
        sid, namespace = attempt.socket.sid, attempt.socket.namespace
        attempt.answered = True
        attempt.held.clear()
        if self.sockets.get(sid) is attempt.socket:  # cancelled while CONNECT was being sent
            del self.sockets[sid]
            if self.observer is not None:
                self.observer.socket_disconnected(namespace)
        if attempt.handler_accepted:
            await self._pair(attempt)
        self.pending.pop(sid, None)
        await self.adapter.manager_disconnect(sid, namespace)

    async def _pair(self, attempt: _Attempt) -> None:
        """Call the disconnect handler for a refused attempt its connect handler accepted."""
        if attempt.paired:
            return
        attempt.paired = True
        socket = attempt.socket
        reason = self.adapter.reason
        why = (reason.SERVER_DISCONNECT if self.adapter.alive(socket.eio_sid)
               else reason.TRANSPORT_CLOSE)
        await self._trigger_event("disconnect", socket.namespace, socket.sid, why)

    # helpers ---------------------------------------------------------------------------
    async def _send(self, eio_sid: str, kind: int, data: Any, namespace: str) -> None:
        await self._send_packet(eio_sid, self.adapter.packet(kind, data, namespace))


async def _call_all(callbacks: list[DisconnectCallback], reason: str) -> None:
    for callback in callbacks:
        try:
            result = callback(reason)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("siomw: on_disconnect callback %r raised", callback)
