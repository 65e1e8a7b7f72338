"""What every python-socketio server kind shares: handler resolution and the engine session.

``socketio.AsyncServer`` and ``socketio.Server`` keep the same private attributes for
these (python-socketio 5.18, ``base_server.BaseServer``), so the reading lives once here;
what differs (awaited or plain calls, tasks or threads) is in ``async_server.py`` and
``sync_server.py`` (``reference/python-socketio-internals.md`` §1.3, §3.2, §4):

- ``handlers`` / ``namespace_handlers`` / ``namespaces`` / ``reserved_events`` /
  ``not_handled``: which namespaces exist and which handler an event reaches, in
  ``_get_event_handler``'s and ``_get_namespace_handler``'s order;
- ``environ[eio_sid]``: the engine handshake's environ (WSGI-style under every kind);
- ``eio.sockets[eio_sid]``: the engine session, its ``closed`` flag and its ``session``
  dict (a namespace's python-socketio session, keyed by namespace);
- ``manager.get_participants`` / ``sid_from_eio_sid`` / ``is_connected``: plain calls
  on both kinds' managers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any

from ..runtime import Runtime

__all__ = ["Dispatch", "ServerAdapter", "ack_data", "well_formed"]

#: ``dispatch(sid, eio_sid, data, namespace, ack_id)``: ``data`` is ``[event, *args]`` as
#: the client sent it (a malformed packet's data is any JSON value: the dispatch checks
#: it), ``ack_id`` None when the client asked for no acknowledgement
Dispatch = Callable[[str, str, Any, str, "int | None"], Awaitable[None]]


def well_formed(data: Any) -> bool:
    """Whether an EVENT packet's data is ``[name, *args]`` with a string ``name`` (the
    Socket.IO protocol's EVENT payload, "a non-empty array whose first element is the
    event name"); the name may still be a reserved one."""
    return type(data) is list and bool(data) and type(data[0]) is str


def ack_data(result: Any) -> list[Any]:
    """A handler's return value as ACK arguments, as python-socketio sends them: ``None``
    -> ``[]``, a tuple -> its items, anything else -> ``[value]``."""
    if result is None:
        return []
    if isinstance(result, tuple):
        return list(result)
    return [result]


class ServerAdapter:
    """The seams of one python-socketio server that do not depend on its kind.

    Subclasses add the kind's calls (awaited on ``AsyncServer``, plain on ``Server``) as
    ``async def`` methods, so that the levels await them the same way on every kind (on a
    sync server they are driven without a loop: :func:`~siomw_core.drive.drive`).

    Attributes:
        sio: the python-socketio server.
        runtime: the kind's :class:`~siomw_core.runtime.Runtime`.
        not_handled: python-socketio's marker for "no handler ran".
        reserved: python-socketio's reserved event names (``connect``, ``disconnect``, ...).
        overdue_grace: seconds past a connect deadline before the attempt is refused from
            outside (a task that ignored its cancel; 0 where nothing can be cancelled).
    """

    overdue_grace = 1.0

    def __init__(self, sio: Any, runtime: Runtime) -> None:
        self.sio = sio
        self.runtime = runtime
        self.not_handled: object = sio.not_handled
        self.reserved: frozenset[str] = frozenset(sio.reserved_events)

    # the kind's own calls (async_server.py, sync_server.py) ---------------------------
    def original(self, name: str) -> Callable[..., Awaitable[Any]]:
        """The server's own method ``name`` (before :meth:`replace`), awaitable."""
        raise NotImplementedError

    def replace(self, name: str, func: Callable[..., Coroutine[Any, Any, Any]]) -> None:
        """Make the instance run the coroutine function ``func`` for its method ``name``."""
        raise NotImplementedError

    async def pre_connect(self, eio_sid: str, namespace: str) -> str | None:
        """Register a sid for ``eio_sid`` on ``namespace`` before it is accepted."""
        raise NotImplementedError

    async def manager_connect(self, sid: str, namespace: str) -> None:
        """Mark ``sid`` connected: it joins its rooms and receives broadcasts."""
        raise NotImplementedError

    async def manager_disconnect(self, sid: str, namespace: str) -> None:
        """Forget ``sid`` on this process (``ignore_queue``: nothing goes to other hosts)."""
        raise NotImplementedError

    async def handle_disconnect(self, eio_sid: str, namespace: str, reason: str) -> None:
        """Run python-socketio's disconnect of ``eio_sid`` on ``namespace``."""
        raise NotImplementedError

    async def start_attempt(self, attempt: Coroutine[Any, Any, None], timeout: float,
                            overdue: Callable[[float], None]) -> None:
        """Run a connection attempt (``timeout``: its deadline in seconds); ``overdue(late)``
        is called if it still runs ``late`` seconds past it (:attr:`overdue_grace`)."""
        raise NotImplementedError

    def install(self, dispatch: Dispatch) -> None:
        """Route every incoming event of a connected sid to ``dispatch``."""
        raise NotImplementedError

    async def call(self, event: str, namespace: str, sid: str, args: list[Any]) -> Any:
        """Call the handler as python-socketio does; returns its value or ``not_handled``."""
        raise NotImplementedError

    async def send_ack(self, eio_sid: str, namespace: str, ack_id: int, result: Any) -> None:
        """Answer the client's acknowledgement ``ack_id`` with a handler's ``result``."""
        raise NotImplementedError

    async def emit(self, sid: str, namespace: str, event: str, data: Any) -> None:
        """Emit ``event`` to ``sid`` only, on this server (not through a message queue)."""
        raise NotImplementedError

    # the engine session ---------------------------------------------------------------
    def environ(self, eio_sid: str) -> Any:
        """The engine handshake's environ of ``eio_sid`` (None once it closed)."""
        return self.sio.environ.get(eio_sid)

    def engine_socket(self, eio_sid: str) -> Any:
        """python-engineio's session of ``eio_sid`` (``.closed``, ``.session``), or None."""
        return self.sio.eio.sockets.get(eio_sid)

    def alive(self, eio_sid: str) -> bool:
        """Whether the engine session ``eio_sid`` is still open."""
        sock = self.sio.eio.sockets.get(eio_sid)
        return sock is not None and not sock.closed

    def keep_session(self, eio_sid: str, namespace: str, data: dict[str, Any] | None) -> None:
        """Store ``data`` as the python-socketio session of ``namespace`` on ``eio_sid``
        (what ``save_session`` stores, without its lookups); None removes it."""
        sock = self.sio.eio.sockets.get(eio_sid)
        if sock is None:
            return
        if data is None:
            sock.session.pop(namespace, None)
        else:
            sock.session[namespace] = data

    # namespaces and handlers ------------------------------------------------------------
    def knows(self, namespace: str) -> bool:
        """Whether python-socketio accepts a CONNECT to ``namespace`` (a handler, a class,
        or ``namespaces`` naming it or ``"*"``)."""
        sio = self.sio
        return (namespace in sio.handlers or namespace in sio.namespace_handlers
                or sio.namespaces == "*" or namespace in sio.namespaces)

    def joined(self, eio_sid: str, namespace: str) -> bool:
        """Whether ``eio_sid`` has a sid on ``namespace`` already."""
        return self.sio.manager.sid_from_eio_sid(eio_sid, namespace) is not None

    def connected(self, sid: str, namespace: str) -> bool:
        """Whether ``sid`` is still connected to ``namespace``."""
        return bool(self.sio.manager.is_connected(sid, namespace))

    def packet(self, kind: int, data: Any, namespace: str) -> Any:
        """A Socket.IO packet of the server's packet class."""
        return self.sio.packet_class(kind, data=data, namespace=namespace)

    @property
    def reason(self) -> Any:
        """python-engineio's disconnect reasons (``SERVER_DISCONNECT``, ...)."""
        return self.sio.reason

    def wrap_participants(self, wrap: Callable[[Callable[..., Iterator[Any]]],
                                               Callable[..., Iterator[Any]]]) -> None:
        """Replace the manager's ``get_participants`` with ``wrap(original)``."""
        manager = self.sio.manager
        manager.get_participants = wrap(manager.get_participants)

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
        on_chat)`` for a class-based namespace registered for ``"*"``. None: nothing
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
