"""The seams of the sync ``socketio.Server`` (python-socketio 5.18): WSGI under threads
(gunicorn's gthread worker, Werkzeug), gevent or eventlet, and Flask-SocketIO (its
``SocketIO.server`` is one).

The same private attributes as the async server's (``async_server.py``), called without
``await``: python-socketio calls ``_handle_connect``, ``_trigger_event``, ``_send_packet``
and ``_handle_event_internal`` synchronously, in the thread (or greenlet) that read the
packet, or in the background task it starts per event (``async_handlers``). siomw's
replacements are coroutine functions written once for both kinds; here they are installed
as plain functions that drive them to completion in that same thread
(:func:`~siomw_core.drive.drive`), and each of the server's own calls is wrapped in an
``async def`` that simply calls it, so nothing awaited ever suspends.

A connection attempt runs in a background task of its own (python-socketio's
``start_background_task``: a thread, or a greenlet), as the async server runs it in a task.
Nothing can cancel a thread: at its deadline the runtime's timer refuses it from outside
(``middleware_timeout``; the client is answered at once), while the member keeps its thread
until it returns and whatever it does later is discarded (:attr:`overdue_grace` is 0).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import socketio
from socketio import packet

from ..drive import drive
from ..runtime import SyncRuntime
from .base import Dispatch, ServerAdapter, ack_data, well_formed

__all__ = ["SyncServerAdapter"]


class SyncServerAdapter(ServerAdapter):
    """The levels' view of one sync ``socketio.Server``.

    Raises:
        TypeError: ``sio`` is not a ``socketio.Server``.
    """

    overdue_grace = 0.0

    def __init__(self, sio: socketio.Server, runtime: SyncRuntime | None = None) -> None:
        if not isinstance(sio, socketio.Server):
            raise TypeError(f"expected a socketio.Server, got {type(sio).__name__}")
        super().__init__(sio, runtime or SyncRuntime(sio))

    # replacing the server's own methods ----------------------------------------------
    def original(self, name: str) -> Callable[..., Awaitable[Any]]:
        """The server's own method ``name`` (before :meth:`replace`) as a coroutine
        function that calls it."""
        method = getattr(self.sio, name)

        async def call(*args: Any) -> Any:
            return method(*args)

        call.__name__ = name
        return call

    def replace(self, name: str, func: Callable[..., Coroutine[Any, Any, Any]]) -> None:
        """Make the instance call ``func`` (a coroutine function), driven in the caller's
        thread, for its method ``name``."""

        def method(*args: Any) -> Any:
            return drive(func(*args))

        method.__name__ = name
        setattr(self.sio, name, method)

    # the manager and the server, called -----------------------------------------------
    async def pre_connect(self, eio_sid: str, namespace: str) -> str | None:
        """Register a sid for ``eio_sid`` on ``namespace`` before it is accepted."""
        return self.sio.manager.pre_connect(eio_sid, namespace)  # type: ignore[no-any-return]

    async def manager_connect(self, sid: str, namespace: str) -> None:
        """Mark ``sid`` connected: it joins its rooms and receives broadcasts."""
        self.sio.manager.connect(sid, namespace)

    async def manager_disconnect(self, sid: str, namespace: str) -> None:
        """Forget ``sid`` on this process (``ignore_queue``: nothing goes to other hosts)."""
        self.sio.manager.disconnect(sid, namespace, ignore_queue=True)

    async def handle_disconnect(self, eio_sid: str, namespace: str, reason: str) -> None:
        """Run python-socketio's disconnect of ``eio_sid`` on ``namespace``."""
        self.sio._handle_disconnect(eio_sid, namespace, reason)

    async def start_attempt(self, attempt: Coroutine[Any, Any, None], timeout: float,
                            overdue: Callable[[float], None]) -> None:
        """Run a connection attempt in a background task of the server's async mode (a
        thread, a greenlet), so that the thread that read the CONNECT goes on reading: a
        WebSocket's reader notices the client leave while the chain runs, as the async
        server's engine does. The runtime's timer calls ``overdue(0)`` at the deadline if
        the attempt still runs."""
        handle = self.runtime.call_later(timeout, overdue, 0.0)

        def run() -> None:
            try:
                drive(attempt)
            finally:
                handle.cancel()

        self.sio.start_background_task(run)

    # the event level ------------------------------------------------------------------
    def install(self, dispatch: Dispatch) -> None:
        """Route every incoming event of a connected sid to ``dispatch`` (driven in the
        thread python-socketio runs the event in), malformed ones before python-socketio
        reads them."""
        sio = self.sio
        manager = sio.manager
        handle_event = sio._handle_event

        def handle_event_internal(server: Any, sid: str, eio_sid: str, data: list[Any],
                                  namespace: str, id: int | None) -> None:
            drive(dispatch(sid, eio_sid, data, namespace, id))  # type: ignore[arg-type]

        def guarded_handle_event(eio_sid: str, namespace: str | None, id: int | None,
                                 data: Any) -> None:
            if well_formed(data):
                handle_event(eio_sid, namespace, id, data)
                return
            namespace = namespace or "/"
            sid = manager.sid_from_eio_sid(eio_sid, namespace)
            if sid is None or not manager.is_connected(sid, namespace):
                return  # as python-socketio: nothing for a namespace the client is not in
            drive(dispatch(sid, eio_sid, data, namespace, id))  # type: ignore[arg-type]

        sio._handle_event_internal = handle_event_internal
        sio._handle_event = guarded_handle_event

    async def call(self, event: str, namespace: str, sid: str, args: list[Any]) -> Any:
        """Call the handler as python-socketio does; returns its value or ``not_handled``."""
        return self.sio._trigger_event(event, namespace, sid, *args)

    async def send_ack(self, eio_sid: str, namespace: str, ack_id: int, result: Any) -> None:
        """Answer the client's acknowledgement ``ack_id`` with a handler's ``result``."""
        self.sio._send_packet(eio_sid, self.sio.packet_class(
            packet.ACK, namespace=namespace, id=ack_id, data=ack_data(result)))

    async def emit(self, sid: str, namespace: str, event: str, data: Any) -> None:
        """Emit ``event`` to ``sid`` only, on this server (not through a message queue)."""
        self.sio.emit(event, data, to=sid, namespace=namespace, ignore_queue=True)
