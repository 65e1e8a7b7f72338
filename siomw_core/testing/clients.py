"""Real Python clients for tests, run in the test's own thread: python-socketio's sync
``socketio.Client`` (its WebSocket through websocket-client, polling through requests) and
an engine-level HTTP request (``http.client``), each reporting an
:class:`~siomw_core.testing.outcomes.Outcome` the way a user sees the answer.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from .outcomes import Outcome

__all__ = ["Client", "connect", "connected", "new_client", "request"]

#: python-engineio's sync client's message for a refused polling handshake
_STATUS = re.compile(r"Unexpected status code (\d+)")


def _transports(transport: str | None) -> list[str] | None:
    if transport is None:
        return None  # the client's default: polling, then the upgrade to WebSocket
    if transport not in ("websocket", "polling"):
        raise ValueError(f"transport: expected 'websocket', 'polling' or None, got {transport!r}")
    return [transport]


def new_client() -> Any:
    """A ``socketio.Client`` whose disconnect does not wait (websocket-client's default: up
    to 3 s) for the answer to its close frame: the frame is sent and the socket closed."""
    import socketio

    client = socketio.Client(reconnection=False, handle_sigint=False)
    eio = client.eio
    disconnect = eio.disconnect

    def quick_disconnect(*args: Any, **kwargs: Any) -> None:
        ws = eio.ws
        if ws is not None:
            close = ws.close
            ws.close = lambda *_args, **_kwargs: close(timeout=0)
        disconnect(*args, **kwargs)

    eio.disconnect = quick_disconnect
    return client


class Client:
    """A connected ``socketio.Client`` with the calls tests make; every event the server
    sends is recorded in :attr:`received`.

    Attributes:
        sio: the python-socketio client itself.
        namespace: the namespace it connected to (the default of :meth:`call` and
            :meth:`emit`).
        received: ``(event, args)`` of every event the server sent, in arrival order
            (python-socketio's sync client runs each handler in a thread of its own).
    """

    def __init__(self, sio: Any, namespace: str) -> None:
        self.sio = sio
        self.namespace = namespace
        self.received: list[tuple[str, list[Any]]] = []
        self._arrived = threading.Condition()

    def _record(self, event: str, *args: Any) -> None:
        with self._arrived:
            self.received.append((event, list(args)))
            self._arrived.notify_all()

    def call(self, event: str, *args: Any, namespace: str | None = None,
             timeout: float = 5) -> Any:
        """Emit ``event`` with ``args`` and wait for its ack; return the ack's value (one
        argument: itself, several: their list). A refused event's ack is
        ``{"error": {"message", "data"}}``: pass it to ``assert_refused``.

        Raises:
            TimeoutError: no ack within ``timeout`` seconds.
        """
        import socketio

        data: Any = args[0] if len(args) == 1 else args
        try:
            return self.sio.call(event, data, namespace=namespace or self.namespace,
                                 timeout=timeout)
        except socketio.exceptions.TimeoutError:
            raise TimeoutError(f"no ack for {event!r} within {timeout} s") from None

    def emit(self, event: str, *args: Any, namespace: str | None = None) -> None:
        """Emit ``event`` with ``args``, without an ack (a refusal then arrives as the
        ``siomw:error`` event: :meth:`next_error`)."""
        data: Any = args[0] if len(args) == 1 else args
        self.sio.emit(event, data, namespace=namespace or self.namespace)

    def wait_for(self, event: str, timeout: float = 5) -> list[Any]:
        """The arguments of the first ``event`` received (waiting at most ``timeout``
        seconds for it); it is removed from :attr:`received`.

        Raises:
            TimeoutError: none arrived in time (the events that did are named).
        """
        with self._arrived:
            found = self._arrived.wait_for(
                lambda: any(name == event for name, _ in self.received), timeout)
            if not found:
                seen = [name for name, _ in self.received]
                raise TimeoutError(f"no {event!r} event within {timeout} s (received: {seen})")
            index = next(i for i, (name, _) in enumerate(self.received) if name == event)
            return self.received.pop(index)[1]

    def next_error(self, event: str = "siomw:error", timeout: float = 5) -> Outcome:
        """The next refusal of an event sent without an ack: the ``siomw:error`` event's
        ``{"event", "message", "data"}`` (``event_error_event`` names another) as an
        Outcome.

        Raises:
            TimeoutError: none arrived in time.
        """
        args = self.wait_for(event, timeout)
        return Outcome.from_payload(args[0] if args else None, level="event")

    @property
    def connected(self) -> bool:
        """Whether the namespace is still connected (a server may disconnect it)."""
        return bool(self.sio.connected) and self.namespace in self.sio.namespaces


def _attempt(url: str, *, auth: Any, namespace: str, headers: dict[str, str] | None,
             transport: str | None, timeout: float) -> tuple[Outcome, Any]:
    """One CONNECT: the outcome and the client (still connected when accepted)."""
    import socketio

    client = new_client()
    seen: list[Outcome] = []
    decided = threading.Event()
    failure: list[BaseException] = []

    def on_connect() -> None:
        seen.append(Outcome(True))
        decided.set()

    def on_connect_error(data: Any = None) -> None:
        # the engine refused the handshake (no engine session): connect() raises next, its
        # message naming the HTTP status
        engine = client.eio.state != "connected"
        seen.append(Outcome.from_payload(data, level="engine" if engine else "connect"))
        decided.set()

    def connecting() -> None:
        try:
            client.connect(url, namespaces=[namespace], auth=auth, headers=headers or {},
                           transports=_transports(transport), wait_timeout=timeout)
        except socketio.exceptions.ConnectionError as exc:
            failure.append(exc)
        finally:
            decided.set()

    client.on("connect", on_connect, namespace=namespace)
    client.on("connect_error", on_connect_error, namespace=namespace)
    # python-socketio's connect() lingers (its long poll) after a refused polling CONNECT:
    # its thread finishes on its own once the outcome is known
    thread = threading.Thread(target=connecting, daemon=True, name="siomw-testing-connect")
    thread.start()
    if not decided.wait(timeout + 1):
        outcome = Outcome(False, f"no answer to the CONNECT within {timeout} s")
    elif seen and seen[0].accepted:
        thread.join(timeout)  # connect() returns once the namespace is connected
        return seen[0], client
    elif seen and seen[0].level == "engine":
        thread.join(timeout)  # connect() raises at once, naming the status
        status = _connection_error(failure[0]).status if failure else None
        outcome = Outcome(False, seen[0].message, seen[0].data, status, "connect")
    elif seen:
        # connect() sees the failed namespace and disconnects by itself: at once over
        # WebSocket, after its pending long poll over polling (its thread is left to it)
        thread.join(1)
        return seen[0], None
    else:
        outcome = _connection_error(failure[0] if failure else None)
    if thread.is_alive():  # no answer: end the attempt
        threading.Thread(target=_quiet_disconnect, args=(client,), daemon=True).start()
    return outcome, None


def _quiet_disconnect(client: Any) -> None:
    """Disconnect a client whose connection failed (python-engineio may have no read loop
    to join then)."""
    with contextlib.suppress(Exception):
        client.disconnect()


def _connection_error(exc: BaseException | None) -> Outcome:
    """A failed handshake as python-socketio reports it: ``ConnectionError(message,
    body)``; a polling refusal's message names the HTTP status, its body is the JSON
    ``{"message", "data"}`` of an engine refusal."""
    if exc is None:
        return Outcome(False, "the connection failed")
    message = str(exc.args[0]) if exc.args else str(exc)
    match = _STATUS.search(message)
    status = int(match.group(1)) if match else None
    body = exc.args[1] if len(exc.args) > 1 else None
    if isinstance(body, dict) and "message" in body:
        return Outcome.from_payload(body, level="connect", status=status)
    return Outcome(False, message, None, status, "connect")


def connect(url: str, *, auth: Any = None, namespace: str = "/",
            headers: dict[str, str] | None = None, transport: str | None = "websocket",
            timeout: float = 5) -> Outcome:
    """One connection attempt to ``namespace`` of the server at ``url``; the client is
    closed after. ``transport``: ``"websocket"`` (default), ``"polling"``, or None (the
    client's default: polling, then the upgrade).

    Returns:
        accepted; or refused with CONNECT_ERROR's ``message`` and ``data``; or, when the
        handshake itself was refused, python-socketio's message with the engine's JSON body
        and the HTTP status (polling; a refused WebSocket upgrade shows no body).
    """
    outcome, client = _attempt(url, auth=auth, namespace=namespace, headers=headers,
                               transport=transport, timeout=timeout)
    if client is not None:
        client.disconnect()
    return outcome


@contextmanager
def connected(url: str, *, auth: Any = None, namespace: str = "/",
              headers: dict[str, str] | None = None, transport: str | None = "websocket",
              timeout: float = 5) -> Iterator[Client]:
    """A :class:`Client` connected to ``namespace``, disconnected when the block exits.

    Raises:
        AssertionError: the connection was refused (what was seen, in the message).
    """
    outcome, sio = _attempt(url, auth=auth, namespace=namespace, headers=headers,
                            transport=transport, timeout=timeout)
    if sio is None:
        raise AssertionError(f"expected to connect to {namespace!r}; got {outcome.describe()}")
    client = Client(sio, namespace)
    sio.on("*", client._record, namespace=namespace)
    try:
        yield client
    finally:
        if transport == "websocket":
            sio.disconnect()
        else:  # a polling client's disconnect waits for its pending long poll (25 s)
            threading.Thread(target=_quiet_disconnect, args=(sio,), daemon=True).start()


def request(url: str, method: str, path: str, *, headers: dict[str, str] | None = None,
            body: str | bytes | None = None, timeout: float = 5) -> Outcome:
    """One HTTP request to the server at ``url`` (``path`` with its query, such as
    ``"/socket.io/?EIO=4&transport=polling"``): an engine-level Outcome, refused when the
    status is 400 or more, its ``message`` and ``data`` from the JSON body."""
    parts = urlsplit(url)
    conn_class = http.client.HTTPSConnection if parts.scheme == "https" else \
        http.client.HTTPConnection
    conn = conn_class(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        text = response.read().decode("utf-8", errors="replace")
        found = {name.lower(): value for name, value in response.getheaders()}
        return Outcome.from_http(response.status, found, text)
    finally:
        conn.close()
