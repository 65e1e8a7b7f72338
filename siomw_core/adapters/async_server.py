"""The event-dispatch seam of ``socketio.AsyncServer`` (python-socketio 5.18).

Every private attribute of the async server that the event level touches is here, so that
another server kind (the sync ``socketio.Server``, ``aiohttp``) adds an adapter, not a
second event level (``reference/python-socketio-internals.md`` §1.3, §3.2):

- ``_handle_event_internal(server, sid, eio_sid, data, namespace, id)``: called by
  ``_handle_event`` once the sid is known to be connected, inside the background task
  python-socketio starts per event when ``async_handlers`` (the default); it calls
  ``_trigger_event`` and sends the ACK from the return value. siomw replaces it on the
  instance, and sends the ACK the same way (``None`` -> ``[]``, a tuple -> its items,
  else ``[value]``; ``not_handled`` -> no ACK).
- ``_handle_event(eio_sid, namespace, id, data)``: the first step of an EVENT packet; it
  reads ``data[0]`` before anything checks ``data`` (``427"abc"`` would run event ``"a"``,
  ``425[]`` and ``426{}`` raise IndexError / KeyError there and leave a traceback and an
  unanswered ack). siomw replaces it on the instance: a packet whose data is not a
  non-empty list with a string first goes straight to ``dispatch`` (which refuses it with
  ``invalid_event``), every other packet to python-socketio's own ``_handle_event``.
- ``_trigger_event(event, namespace, sid, *args)``: calls the handler. It is called
  through the instance attribute, so the connect level's wrapper (disconnect callbacks)
  and ``sio.instrument()`` stay in the path.
- ``handlers`` / ``namespace_handlers`` / ``reserved_events`` / ``not_handled``: resolved
  in ``_get_event_handler``'s and ``_get_namespace_handler``'s order to tell the chain
  which handler will run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import socketio
from socketio import packet

__all__ = ["AsyncServerAdapter", "Dispatch", "well_formed"]

#: ``dispatch(sid, eio_sid, data, namespace, ack_id)``: ``data`` is ``[event, *args]`` as
#: the client sent it (a malformed packet's data is any JSON value: the dispatch checks
#: it), ``ack_id`` None when the client asked for no acknowledgement
Dispatch = Callable[[str, str, Any, str, "int | None"], Awaitable[None]]


def well_formed(data: Any) -> bool:
    """Whether an EVENT packet's data is ``[name, *args]`` with a string ``name`` (the
    Socket.IO protocol's EVENT payload, "a non-empty array whose first element is the
    event name"); the name may still be a reserved one."""
    return type(data) is list and bool(data) and type(data[0]) is str


class AsyncServerAdapter:
    """The event level's view of one ``socketio.AsyncServer``."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        if not isinstance(sio, socketio.AsyncServer):
            raise TypeError(
                f"siomw's event level needs a socketio.AsyncServer, got {type(sio).__name__}"
            )
        self.sio = sio
        self.not_handled: object = sio.not_handled
        self.reserved: frozenset[str] = frozenset(sio.reserved_events)

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

    def handler(self, event: str, namespace: str) -> Callable[..., Any] | None:
        """The handler ``_trigger_event`` will call for ``event`` on ``namespace`` (None:
        nothing handles it); :meth:`route`'s third item."""
        found = self.route(event, namespace)
        return found[2] if found is not None else None

    def route(self, event: str, namespace: str
              ) -> tuple[str, str, Callable[..., Any]] | None:
        """``(namespace, event, handler)`` as the handler python-socketio will call for
        ``event`` on ``namespace`` is registered: ``("/", "*", h)`` for ``@sio.on("*")``,
        ``("*", "chat", h)`` for ``@sio.on("chat", namespace="*")``, ``("*", "chat",
        on_chat)`` for an ``AsyncNamespace`` registered for ``"*"``. None: nothing
        handles it.

        python-socketio's order: ``handlers[ns][event]`` -> ``handlers[ns]["*"]`` ->
        ``handlers["*"][event]`` -> ``handlers["*"]["*"]`` (the catch-alls not for reserved
        events) -> ``namespace_handlers[ns]`` / ``["*"]`` (its bound ``on_<event>``, None
        when the class has none).
        """
        handlers = self.sio.handlers
        for registered in (namespace, "*"):
            here = handlers.get(registered)
            if here is None:
                continue
            found = here.get(event)
            if found is not None:
                return registered, event, found
            if "*" in here and event not in self.reserved:
                return registered, "*", here["*"]
        classes = self.sio.namespace_handlers
        registered = namespace if namespace in classes else "*"
        instance = classes.get(registered)
        method = getattr(instance, "on_" + event, None) if instance is not None else None
        return (registered, event, method) if method is not None else None

    async def call(self, event: str, namespace: str, sid: str, args: list[Any]) -> Any:
        """Call the handler as python-socketio does; returns its value or ``not_handled``."""
        return await self.sio._trigger_event(event, namespace, sid, *args)

    async def send_ack(self, eio_sid: str, namespace: str, ack_id: int, result: Any) -> None:
        """Answer the client's acknowledgement ``ack_id`` with a handler's ``result``."""
        if result is None:
            data: list[Any] = []
        elif isinstance(result, tuple):
            data = list(result)
        else:
            data = [result]
        sio = self.sio
        await sio._send_packet(eio_sid, sio.packet_class(packet.ACK, namespace=namespace,
                                                         id=ack_id, data=data))

    async def emit(self, sid: str, namespace: str, event: str, data: Any) -> None:
        """Emit ``event`` to ``sid`` only, on this server (not through a message queue)."""
        await self.sio.emit(event, data, to=sid, namespace=namespace, ignore_queue=True)

    def connected(self, sid: str, namespace: str) -> bool:
        """Whether ``sid`` is still connected to ``namespace``."""
        return bool(self.sio.manager.is_connected(sid, namespace))

    def handlers_of(self) -> Iterator[tuple[str, str, Callable[..., Any]]]:
        """Every registered event handler as ``(namespace, event, handler)``: decorated
        functions, then class-based namespaces' ``on_<event>`` methods (bound);
        ``connect`` and ``disconnect`` left out."""
        for namespace, events in self.sio.handlers.items():
            for event, handler in events.items():
                if event not in self.reserved:
                    yield namespace, event, handler
        for namespace, instance in self.sio.namespace_handlers.items():
            for attr in sorted(dir(type(instance))):
                if attr.startswith("on_") and attr[3:] not in self.reserved:
                    method = getattr(instance, attr)
                    if callable(method):
                        yield namespace, attr[3:], method
