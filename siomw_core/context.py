"""The views a middleware sees: the socket of a connection attempt and its handshake (the
engine level's :class:`Request` is in :mod:`siomw_core.http`, re-exported here)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from .http import Request, request_of_environ
from .proxies import TrustedProxies

if TYPE_CHECKING:
    from .identity import Identity
    from .middleware import EventMiddleware, Middleware

__all__ = ["ENGINE_QUERY_PARAMS", "DisconnectCallback", "Handshake", "Request", "Socket",
           "client_address"]

DisconnectCallback = Callable[[str], Awaitable[None] | None]

#: the query parameters of the Engine.IO protocol itself, not the application's: ``EIO``
#: (protocol revision), ``transport``, ``sid`` (Engine.IO protocol v4), ``t``
#: (engine.io-client's cache-busting ``timestampParam``), ``j`` and ``b64`` (protocol v3's
#: JSONP index and base64 flag, which python-engineio still reads). A log leaves them out of
#: the application's query; a plugin's own query parameter cannot take their names.
ENGINE_QUERY_PARAMS = frozenset({"EIO", "transport", "sid", "t", "j", "b64"})


def client_address(environ: Mapping[str, Any]) -> str:
    """The TCP peer address of the request behind python-engineio's ``environ`` (no proxy
    headers), on every server kind: python-engineio writes ``REMOTE_ADDR = "127.0.0.1"``
    under ASGI and aiohttp, so the server kind's adapter reads the real peer. For the client
    behind trusted proxies, use ``socket.handshake.address``."""
    return request_of_environ(environ).peer


class Handshake:
    """Node's ``socket.handshake``, built from the Engine.IO handshake request.

    Fields are computed on first access, so a chain that reads only ``auth`` pays for nothing
    else. They are the same on every server kind (ASGI, aiohttp, WSGI): the handshake
    request's :class:`~siomw_core.Request` is found again from python-engineio's per-session
    ``environ`` (the very one the engine chain saw, when it ran). Shapes follow Socket.IO
    v4's ``Handshake`` interface:

    - ``headers``: ``dict[str, str]``, lower-case names (duplicates joined with ``,``);
    - ``cookies``: ``dict[str, str]`` of the ``Cookie`` header (not in Node's interface;
      the same parser as :attr:`Request.cookies`);
    - ``query``: ``dict[str, str]``, the last value of a repeated key wins (as in Node),
      Engine.IO's own (:data:`ENGINE_QUERY_PARAMS`: ``EIO``, ``transport``, ``t``) included;
    - ``auth``: ``dict``, the CONNECT packet's payload (``{}`` when none was sent);
    - ``address``: the client's IP address as a string (trusted proxies applied);
    - ``time``: when the CONNECT was processed, as a string; ``issued``: the same in
      milliseconds since the epoch (int);
    - ``url``: the handshake request's path and query; ``secure``: HTTPS/WSS;
      ``xdomain``: an ``Origin`` header was sent;
    - ``state``: what engine members left in ``request.state`` (not in Node's interface).

    Args:
        environ: python-engineio's environ of the session (the ``environ`` its connect
            handler gets).
        auth: the CONNECT packet's payload.
        proxies: trusted proxies for ``address``.
    """

    # one per connected socket, kept for its whole life: no instance dict
    __slots__ = ("_proxies", "_request", "auth", "environ", "issued")

    def __init__(
        self, environ: Mapping[str, Any], auth: Any, proxies: TrustedProxies | None = None
    ) -> None:
        self.environ = environ
        self.auth: dict[str, Any] = auth if isinstance(auth, dict) else {}
        self.issued: int = int(time.time() * 1000)
        self._proxies = proxies
        self._request: Request | None = None

    @property
    def request(self) -> Request:
        """The handshake's HTTP request, as the engine level sees it (found on first use,
        then kept)."""
        request = self._request
        if request is None:
            request = self._request = request_of_environ(self.environ, self._proxies)
        return request

    @property
    def headers(self) -> dict[str, str]:
        """Request headers, lower-case names."""
        return self.request.headers

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies of the handshake request's ``Cookie`` header(s) as ``{name: value}``,
        parsed by :func:`siomw_core.cookies.parse_cookies` (as :attr:`Request.cookies`)."""
        return self.request.cookies

    @property
    def query(self) -> dict[str, str]:
        """Query parameters of the handshake request (last value wins)."""
        return self.request.query

    @property
    def address(self) -> str:
        """The client's IP address: the TCP peer, or the forwarded client when the peer is
        one of ``trusted_proxies``."""
        return self.request.address

    @property
    def state(self) -> dict[str, Any]:
        """What engine-level middlewares left for this handshake (``request.state``), e.g.
        claims verified by the jwt plugin's handshake check; ``{}`` when none ran."""
        return self.request.state

    @property
    def session(self) -> Any:
        """The HTTP session a framework middleware (Starlette's ``SessionMiddleware``)
        attached to the handshake request, or None."""
        return self.request.session

    @property
    def time(self) -> str:
        """When the CONNECT was processed, like JavaScript's ``String(new Date())``."""
        return time.strftime("%a %b %d %Y %H:%M:%S GMT%z", time.localtime(self.issued / 1000))

    @property
    def url(self) -> str:
        """Path and query string of the handshake request."""
        return self.request.url

    @property
    def secure(self) -> bool:
        """True when the handshake came over TLS (``https``/``wss``)."""
        return self.request.secure

    @property
    def xdomain(self) -> bool:
        """True when the request carried an ``Origin`` header (Node: ``!!headers.origin``)."""
        return "origin" in self.headers

    def as_dict(self) -> dict[str, Any]:
        """All fields as a plain dict (for logging or debugging; includes ``auth``)."""
        return {
            "headers": self.headers,
            "query": self.query,
            "auth": self.auth,
            "address": self.address,
            "time": self.time,
            "issued": self.issued,
            "url": self.url,
            "secure": self.secure,
            "xdomain": self.xdomain,
        }


class Socket:
    """What a connect-level middleware sees: Node's ``socket`` inside ``io.use``.

    Attributes:
        sid: the Socket.IO sid of this namespace connection (not the engine sid).
        namespace: the namespace being joined, e.g. ``"/"`` or ``"/admin"``.
        handshake: the :class:`Handshake`.
        data: a dict middlewares write to; once the connection is accepted it is the
            python-socketio session of ``(sid, namespace)``, so handlers read it with
            ``await sio.get_session(sid, namespace=...)``.
        eio_sid: the Engine.IO session id behind this socket.
        server: the python-socketio server.
        identity: who authenticated it (:class:`~siomw_core.Identity`), or None; written
            by :func:`siomw_core.set_identity` only, read by :func:`siomw_core.get_identity`.

    The same object lives for the whole connection: the connect chain sees it, then every
    event of that sid (``event.socket``), until it disconnects.
    """

    __slots__ = ("_event_chain", "_members", "_on_disconnect", "data", "eio_sid", "handshake",
                 "identity", "namespace", "server", "sid")

    def __init__(
        self,
        sid: str,
        namespace: str,
        handshake: Handshake,
        eio_sid: str,
        server: Any,
    ) -> None:
        self.sid = sid
        self.namespace = namespace
        self.handshake = handshake
        self.eio_sid = eio_sid
        self.server = server
        self.data: dict[str, Any] = {}
        self.identity: Identity | None = None
        self._on_disconnect: list[DisconnectCallback] | None = None
        #: this socket's own event-level members (``use``), in the order added
        self._members: list[Middleware] | None = None
        #: (namespace chain, namespace chain + own members): the event level's cache
        self._event_chain: tuple[tuple[Middleware, ...], tuple[Middleware, ...]] | None = None

    @property
    def environ(self) -> Mapping[str, Any]:
        """The WSGI-style environ of the Engine.IO handshake request."""
        return self.handshake.environ

    def on_disconnect(self, callback: DisconnectCallback) -> None:
        """Call ``callback(reason)`` when this socket, once accepted, disconnects.

        ``reason`` is python-socketio's disconnect reason (e.g. ``"client disconnect"``,
        ``"transport close"``, ``"server disconnect"``). A socket that is refused, or whose
        client leaves before it is accepted, never calls it (nor the disconnect handler).
        ``callback`` may be a plain function or a coroutine function.
        """
        if self._on_disconnect is None:
            self._on_disconnect = []
        self._on_disconnect.append(callback)

    def use(self, fn: EventMiddleware, *, name: str | None = None) -> EventMiddleware:
        """Node's ``socket.use(fn)``: an event middleware for this one socket.

        ``async def fn(event, call_next)`` runs for every event this socket sends, inside
        the namespace's event chain (after its members, before the handler), in the order
        added. Call it from a connect middleware or the connect handler. Returns ``fn``.

        Raises:
            TypeError: ``fn`` is not a coroutine function.
        """
        from .middleware import Middleware

        member = Middleware(name=name or str(getattr(fn, "__name__", type(fn).__name__)),
                            func=fn, level="event")
        if self._members is None:
            self._members = []
        self._members.append(member)
        self._event_chain = None
        return fn

    def __repr__(self) -> str:
        return f"<Socket sid={self.sid!r} namespace={self.namespace!r}>"
