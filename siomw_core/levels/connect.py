"""The connect level: Node's ``io.use`` / ``io.of(ns).use`` on ``socketio.AsyncServer``.

python-socketio 5.18 runs the connect handler inline in the engine's read loop, leaks the sid
when the client leaves mid-handler, hangs on an exception and delivers broadcasts to sockets
it has not accepted (``reference/python-socketio-internals.md`` §1-2). This module replaces
the server's ``_handle_connect`` (a private method, the same seam as ``sio.instrument()``
uses for ``_trigger_event``) so that, per CONNECT packet:

1. the namespace is checked; an unknown one is refused with ``{"message": "Invalid
   namespace"}``, the payload Node sends (python-socketio sends a bare string the JS client
   cannot read);
2. the sid is pre-registered, kept out of every broadcast, and the chain runs in its own
   task, so the engine keeps reading and notices a client that leaves;
3. the chain's endpoint is the application's own connect handler (decorator or
   ``AsyncNamespace``), called as python-socketio would, after checking that the client is
   still there and after saving ``socket.data`` as the session;
4. acceptance sends CONNECT ``{"sid"}``; a refusal sends CONNECT_ERROR ``{"message",
   "data"}``; a client that left gets nothing and leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import socketio
from socketio import packet
from socketio.exceptions import ConnectionRefusedError as SioConnectionRefusedError

from ..chain import run_chain
from ..context import DisconnectCallback, Handshake, Socket
from ..errors import Refusal, internal_error, middleware_timeout
from ..middleware import Middleware
from ..proxies import TrustedProxies

__all__ = ["CLIENT_GONE", "ConnectLevel"]

log = logging.getLogger("siomw")

#: ``data.code`` of the (unsent) refusal of a client that left while its chain ran
CLIENT_GONE = "client_gone"
#: seconds past ``connect_timeout`` after which a chain that ignored its cancellation is
#: refused from outside (its late result is then dropped)
OVERDUE_GRACE = 1.0


class _ClientGone(Refusal):
    def __init__(self) -> None:
        super().__init__("Client left before the connection was accepted", {"code": CLIENT_GONE})


class ConnectLevel:
    """Connect chains installed on one ``socketio.AsyncServer``.

    Args:
        sio: the server; its ``_handle_connect``, ``_trigger_event`` and its manager's
            ``get_participants`` are wrapped on the instance.
        chain_for: returns the composed chain of a namespace (outermost first).
        timeout: the chain deadline in seconds (config ``connect_timeout``).
        proxies: the trusted proxies (config ``trusted_proxies``) for ``handshake.address``.
    """

    def __init__(
        self,
        sio: socketio.AsyncServer,
        chain_for: Callable[[str], Sequence[Middleware]],
        timeout: float,
        proxies: TrustedProxies | None = None,
    ) -> None:
        if not isinstance(sio, socketio.AsyncServer):
            raise TypeError(
                f"siomw's connect level needs a socketio.AsyncServer, got {type(sio).__name__}"
            )
        self.sio = sio
        self.chain_for = chain_for
        self.timeout = timeout
        self.proxies = proxies
        self.pending: set[str] = set()
        self.overdue: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._on_disconnect: dict[tuple[str, str], list[DisconnectCallback]] = {}
        self._trigger_event = sio._trigger_event

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
        sio._handle_connect = self._handle_connect
        sio._trigger_event = self._trigger_with_callbacks
        self._wrap_manager(sio.manager)

    def _wrap_manager(self, manager: Any) -> None:
        participants = manager.get_participants
        pending = self.pending

        def get_participants(namespace: str, room: Any) -> Iterator[tuple[str, str]]:
            if not pending:
                yield from participants(namespace, room)
                return
            for sid, eio_sid in participants(namespace, room):
                if sid not in pending:  # not yet accepted: no broadcast reaches it
                    yield sid, eio_sid

        manager.get_participants = get_participants

    # python-socketio seams -----------------------------------------------------------
    async def _trigger_with_callbacks(self, event: str, namespace: str, *args: Any) -> Any:
        if event != "disconnect" or not self._on_disconnect:
            return await self._trigger_event(event, namespace, *args)
        callbacks = self._on_disconnect.pop((namespace, args[0]), None)
        try:
            return await self._trigger_event(event, namespace, *args)
        finally:
            if callbacks:
                reason = str(args[1]) if len(args) > 1 else "server disconnect"
                await _call_all(callbacks, reason)

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        sio = self.sio
        namespace = namespace or "/"
        sid = None
        if (
            namespace in sio.handlers
            or namespace in sio.namespace_handlers
            or sio.namespaces == "*"
            or namespace in sio.namespaces
        ):
            sid = await sio.manager.pre_connect(eio_sid, namespace)
        if sid is None:
            # Node's answer for an unknown namespace; python-socketio also lands here for a
            # second CONNECT to a namespace this engine session already joined
            joined = sio.manager.sid_from_eio_sid(eio_sid, namespace) is not None
            message = "Already connected to namespace" if joined else "Invalid namespace"
            await self._send(eio_sid, packet.CONNECT_ERROR, {"message": message}, namespace)
            return
        environ = sio.environ.get(eio_sid)
        engine_socket = sio.eio.sockets.get(eio_sid)
        if environ is None or engine_socket is None:  # the engine session closed already
            await sio.manager.disconnect(sid, namespace, ignore_queue=True)
            return
        # python-socketio keeps a namespace's session for the engine session's life: a new
        # CONNECT must not see what an earlier connection on it stored (internals §4)
        engine_socket.session.pop(namespace, None)
        self.pending.add(sid)
        socket = Socket(sid, namespace, Handshake(environ, data, self.proxies), eio_sid, sio)
        task = asyncio.create_task(self._connect(socket, data))
        self._tasks.add(task)
        # a member that swallows the deadline's cancel must not leave the client waiting
        overdue = asyncio.get_running_loop().call_later(
            self.timeout + OVERDUE_GRACE, self._overdue, socket
        )

        def finished(done: asyncio.Task[None]) -> None:
            self._tasks.discard(done)
            overdue.cancel()

        task.add_done_callback(finished)

    def _overdue(self, socket: Socket) -> None:
        log.error(
            "siomw: the connect chain of %s on %s still runs %.1f s after its deadline (a "
            "middleware ignores cancellation); refusing with middleware_timeout",
            socket.sid, socket.namespace, OVERDUE_GRACE,
        )
        self.overdue.add(socket.sid)
        task = asyncio.create_task(self._refuse(socket, middleware_timeout(), False))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # one connection attempt ------------------------------------------------------------
    async def _connect(self, socket: Socket, auth: Any) -> None:
        sio, sid, namespace, eio_sid = socket.server, socket.sid, socket.namespace, socket.eio_sid
        handler_accepted = False

        async def endpoint() -> None:
            nonlocal handler_accepted
            engine_socket = sio.eio.sockets.get(eio_sid)
            if engine_socket is None or engine_socket.closed or sid in self.overdue:
                raise _ClientGone()
            # what sio.save_session stores, without its sid -> eio_sid lookups
            engine_socket.session[namespace] = socket.data
            await self._call_handler(socket, auth)
            handler_accepted = True  # and it accepted: a later refusal owes it a disconnect
            if not self._alive(eio_sid):  # left while the handler ran: outer members see it
                raise _ClientGone()

        try:
            try:
                try:
                    chain = self.chain_for(namespace)
                except Exception:  # an unorderable chain (strict mode) must still answer
                    log.exception("siomw: the connect chain of %r cannot be composed",
                                  namespace)
                    raise internal_error() from None
                await run_chain(chain, socket, endpoint, self.timeout)
            except Refusal as refusal:
                await self._refuse(socket, refusal, handler_accepted)
                return
            if sid in self.overdue:  # refused already by _overdue
                self.overdue.discard(sid)
                return
            await self._send(eio_sid, packet.CONNECT, {"sid": sid}, namespace)
            self.pending.discard(sid)
            await sio.manager.connect(sid, namespace)
            if socket._on_disconnect:
                self._on_disconnect[(namespace, sid)] = socket._on_disconnect
        except asyncio.CancelledError:
            self.pending.discard(sid)
            await sio.manager.disconnect(sid, namespace, ignore_queue=True)
            raise
        except Exception:  # a task's exception would go unretrieved: log and clean up
            self.pending.discard(sid)
            log.exception("siomw: connect of %s to %s failed", sid, namespace)
            await sio.manager.disconnect(sid, namespace, ignore_queue=True)

    async def _call_handler(self, socket: Socket, auth: Any) -> None:
        """Call the application's connect handler the way python-socketio 5.18 does."""
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
        except SioConnectionRefusedError as exc:
            raise Refusal(exc.error_args["message"], exc.error_args.get("data")) from None
        except ConnectionRefusedError:
            raise Refusal("Connection refused by server") from None
        if result is False:
            raise Refusal("Connection rejected by server")

    async def _refuse(self, socket: Socket, refusal: Refusal, handler_accepted: bool) -> None:
        sio, sid, namespace, eio_sid = socket.server, socket.sid, socket.namespace, socket.eio_sid
        if sid not in self.pending:  # answered already (overdue), or the chain ended late
            self.overdue.discard(sid)
            return
        self.pending.discard(sid)
        alive = self._alive(eio_sid)
        if alive:
            engine_socket = sio.eio.sockets.get(eio_sid)
            if engine_socket is not None:  # nothing of a refused attempt stays in memory
                engine_socket.session.pop(namespace, None)
            try:
                await self._send(eio_sid, packet.CONNECT_ERROR, refusal.payload(), namespace)
            except (TypeError, ValueError):  # data that JSON cannot carry
                log.exception("siomw: refusal data of %s is not JSON-serialisable: %r",
                              sid, refusal)
                await self._send(eio_sid, packet.CONNECT_ERROR, internal_error().payload(),
                                 namespace)
        if handler_accepted:
            # the application's connect handler saw this sid: pair it with a disconnect
            reason = sio.reason.SERVER_DISCONNECT if alive else sio.reason.TRANSPORT_CLOSE
            await self._trigger_event("disconnect", namespace, sid, reason)
        await sio.manager.disconnect(sid, namespace, ignore_queue=True)
        log.debug("siomw: refused %s on %s: %r", sid, namespace, refusal)

    # helpers ---------------------------------------------------------------------------
    def _alive(self, eio_sid: str) -> bool:
        sock = self.sio.eio.sockets.get(eio_sid)
        return sock is not None and not sock.closed

    async def _send(self, eio_sid: str, kind: int, data: Any, namespace: str) -> None:
        sio = self.sio
        await sio._send_packet(eio_sid, sio.packet_class(kind, data=data, namespace=namespace))


async def _call_all(callbacks: list[DisconnectCallback], reason: str) -> None:
    for callback in callbacks:
        try:
            result = callback(reason)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("siomw: on_disconnect callback %r raised", callback)
