"""The seams of ``socketio.AsyncServer`` (python-socketio 5.18), under ASGI and aiohttp.

Every private attribute of the async server that the connect and event levels touch is here
or in ``base.py`` (what both kinds share), so that the levels do not know which kind they
run on (``reference/python-socketio-internals.md`` §1.3, §3.2):

- ``_handle_connect`` / ``_trigger_event`` / ``_send_packet`` / ``_send_eio_packet``: the
  connect level replaces them on the instance (:meth:`replace`; the same seam as
  ``sio.instrument()`` uses) and calls the originals (:meth:`original`);
- ``manager.pre_connect`` / ``connect`` / ``disconnect`` and ``_handle_disconnect``:
  awaited;
- ``_handle_event_internal(server, sid, eio_sid, data, namespace, id)``: called by
  ``_handle_event`` once the sid is known to be connected, inside the background task
  python-socketio starts per event when ``async_handlers`` (the default); siomw replaces it
  on the instance, and sends the ACK the same way (``None`` -> ``[]``, a tuple -> its
  items, else ``[value]``; ``not_handled`` -> no ACK);
- ``_handle_event(eio_sid, namespace, id, data)``: reads ``data[0]`` before anything
  checks ``data`` (``427"abc"`` would run event ``"a"``; ``425[]`` raises); siomw replaces
  it so that a malformed packet goes straight to the dispatch, which refuses it.

A connection attempt runs in its own task (the engine keeps reading its socket meanwhile),
and a chain that ignores its cancellation is refused from outside :attr:`overdue_grace`
seconds after its deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import socketio
from socketio import packet

from ..runtime import AsyncRuntime
from .base import Dispatch, ServerAdapter, ack_data, well_formed

__all__ = ["AsyncServerAdapter", "Dispatch", "well_formed"]



class AsyncServerAdapter(ServerAdapter):
    """The levels' view of one ``socketio.AsyncServer``.

    Raises:
        TypeError: ``sio`` is not a ``socketio.AsyncServer``.
    """

    def __init__(self, sio: socketio.AsyncServer, runtime: AsyncRuntime | None = None) -> None:
        if not isinstance(sio, socketio.AsyncServer):
            raise TypeError(f"expected a socketio.AsyncServer, got {type(sio).__name__}")
        super().__init__(sio, runtime or AsyncRuntime(sio))
        self._tasks: set[asyncio.Task[None]] = set()

    # replacing the server's own methods ----------------------------------------------
    def original(self, name: str) -> Callable[..., Awaitable[Any]]:
        """The server's own coroutine method ``name`` (before :meth:`replace`)."""
        return getattr(self.sio, name)  # type: ignore[no-any-return]

    def replace(self, name: str, func: Callable[..., Awaitable[Any]]) -> None:
        """Make the instance call ``func`` (a coroutine function) for its method ``name``."""
        setattr(self.sio, name, func)

    # the manager and the server, awaited ----------------------------------------------
    async def pre_connect(self, eio_sid: str, namespace: str) -> str | None:
        """Register a sid for ``eio_sid`` on ``namespace`` before it is accepted."""
        return await self.sio.manager.pre_connect(eio_sid, namespace)  # type: ignore[no-any-return]

    async def manager_connect(self, sid: str, namespace: str) -> None:
        """Mark ``sid`` connected: it joins its rooms and receives broadcasts."""
        await self.sio.manager.connect(sid, namespace)

    async def manager_disconnect(self, sid: str, namespace: str) -> None:
        """Forget ``sid`` on this process (``ignore_queue``: nothing goes to other hosts)."""
        await self.sio.manager.disconnect(sid, namespace, ignore_queue=True)

    async def handle_disconnect(self, eio_sid: str, namespace: str, reason: str) -> None:
        """Run python-socketio's disconnect of ``eio_sid`` on ``namespace``."""
        await self.sio._handle_disconnect(eio_sid, namespace, reason)

    async def start_attempt(self, attempt: Coroutine[Any, Any, None], timeout: float,
                            overdue: Callable[[float], None]) -> None:
        """Run a connection attempt in a task of its own; call ``overdue(grace)`` if it
        still runs ``timeout + overdue_grace`` seconds from now."""
        task = asyncio.create_task(attempt)
        self._tasks.add(task)
        grace = self.overdue_grace
        handle = asyncio.get_running_loop().call_later(timeout + grace, overdue, grace)

        def finished(done: asyncio.Task[None]) -> None:
            self._tasks.discard(done)
            handle.cancel()

        task.add_done_callback(finished)

    # the event level ------------------------------------------------------------------
    def install(self, dispatch: Dispatch) -> None:
        """Route every incoming event of a connected sid to ``dispatch``: well-formed ones
        through python-socketio's ``_handle_event`` (its log line, its background task),
        malformed ones (:func:`well_formed`) directly, before python-socketio reads them."""
        sio = self.sio
        manager = sio.manager
        handle_event = sio._handle_event

        def handle_event_internal(server: Any, sid: str, eio_sid: str, data: list[Any],
                                  namespace: str, id: int | None) -> Awaitable[None]:
            return dispatch(sid, eio_sid, data, namespace, id)

        async def guarded_handle_event(eio_sid: str, namespace: str | None, id: int | None,
                                       data: Any) -> None:
            if well_formed(data):
                await handle_event(eio_sid, namespace, id, data)
                return
            namespace = namespace or "/"
            sid = manager.sid_from_eio_sid(eio_sid, namespace)
            if sid is None or not manager.is_connected(sid, namespace):
                return  # as python-socketio: nothing for a namespace the client is not in
            await dispatch(sid, eio_sid, data, namespace, id)

        sio._handle_event_internal = handle_event_internal
        sio._handle_event = guarded_handle_event

    async def call(self, event: str, namespace: str, sid: str, args: list[Any]) -> Any:
        """Call the handler as python-socketio does; returns its value or ``not_handled``."""
        return await self.sio._trigger_event(event, namespace, sid, *args)

    async def send_ack(self, eio_sid: str, namespace: str, ack_id: int, result: Any) -> None:
        """Answer the client's acknowledgement ``ack_id`` with a handler's ``result``."""
        await self.sio._send_packet(eio_sid, self.sio.packet_class(
            packet.ACK, namespace=namespace, id=ack_id, data=ack_data(result)))

    async def emit(self, sid: str, namespace: str, event: str, data: Any) -> None:
        """Emit ``event`` to ``sid`` only, on this server (not through a message queue)."""
        await self.sio.emit(event, data, to=sid, namespace=namespace, ignore_queue=True)

