"""The views a middleware sees: the socket of a connection attempt and its handshake."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .cookies import parse_cookies
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
    """The TCP peer address of the request behind ``environ`` (no proxy headers).

    python-engineio hard-codes ``REMOTE_ADDR = "127.0.0.1"`` under ASGI, so the ASGI scope's
    ``client`` is read first; WSGI servers set ``REMOTE_ADDR`` truthfully. For the client
    behind trusted proxies, use ``socket.handshake.address``.
    """
    scope = environ.get("asgi.scope")
    if scope is not None:
        client = scope.get("client")
        if client:
            return str(client[0])
        return ""
    aio = environ.get("aiohttp.request")
    if aio is not None and aio.remote:
        return str(aio.remote)
    return str(environ.get("REMOTE_ADDR", ""))


def scope_headers(scope: Mapping[str, Any]) -> dict[str, str]:
    """The headers of an ASGI scope as ``{lower-case name: value}``.

    Repeated headers are joined with ``,`` (RFC 9110 §5.3), ``Cookie`` with ``; `` (RFC 9113
    §8.2.3), so a second ``Cookie`` header cannot hide the first one's cookies.
    """
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in headers:
            value = f"{headers[name]}{'; ' if name == 'cookie' else ','}{value}"
        headers[name] = value
    return headers


class Handshake:
    """Node's ``socket.handshake``, built from the Engine.IO handshake request.

    Fields are computed on first access, so a chain that reads only ``auth`` pays for nothing
    else. Shapes follow Socket.IO v4's ``Handshake`` interface:

    - ``headers``: ``dict[str, str]``, lower-case names (duplicates joined with ``,``);
    - ``cookies``: ``dict[str, str]`` of the ``Cookie`` header (not in Node's interface;
      the same parser as :attr:`Request.cookies`);
    - ``query``: ``dict[str, str]``, the last value of a repeated key wins (as in Node),
      Engine.IO's own (:data:`ENGINE_QUERY_PARAMS`: ``EIO``, ``transport``, ``t``) included;
    - ``auth``: ``dict``, the CONNECT packet's payload (``{}`` when none was sent);
    - ``address``: the client's IP address as a string;
    - ``time``: when the CONNECT was processed, as a string; ``issued``: the same in
      milliseconds since the epoch (int);
    - ``url``: the handshake request's path and query; ``secure``: HTTPS/WSS;
      ``xdomain``: an ``Origin`` header was sent.
    """

    def __init__(
        self, environ: Mapping[str, Any], auth: Any, proxies: TrustedProxies | None = None
    ) -> None:
        self.environ = environ
        self.auth: dict[str, Any] = auth if isinstance(auth, dict) else {}
        self.issued: int = int(time.time() * 1000)
        self._proxies = proxies

    @cached_property
    def headers(self) -> dict[str, str]:
        """Request headers, lower-case names."""
        scope = self.environ.get("asgi.scope")
        if scope is not None:
            return scope_headers(scope)
        headers: dict[str, str] = {}
        for key, value in self.environ.items():
            if key.startswith("HTTP_"):
                headers[key[5:].replace("_", "-").lower()] = str(value)
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
                headers[key.replace("_", "-").lower()] = str(value)
        return headers

    @cached_property
    def cookies(self) -> dict[str, str]:
        """Cookies of the handshake request's ``Cookie`` header(s) as ``{name: value}``,
        parsed by :func:`siomw_core.cookies.parse_cookies` (as :attr:`Request.cookies`)."""
        return parse_cookies(self.headers.get("cookie"))

    @cached_property
    def query(self) -> dict[str, str]:
        """Query parameters of the handshake request (last value wins)."""
        return dict(parse_qsl(self.environ.get("QUERY_STRING", ""), keep_blank_values=True))

    @cached_property
    def address(self) -> str:
        """The client's IP address: the TCP peer, or the forwarded client when the peer is
        one of ``trusted_proxies``."""
        peer = client_address(self.environ)
        if self._proxies:
            return self._proxies.client(peer, self.headers)
        return peer

    @property
    def scope(self) -> Mapping[str, Any] | None:
        """The ASGI scope of the handshake request (None under WSGI)."""
        return self.environ.get("asgi.scope")

    @property
    def state(self) -> dict[str, Any]:
        """What engine-level middlewares left for this handshake (``request.state``), e.g.
        claims verified by the jwt plugin's handshake check; ``{}`` when none ran."""
        scope = self.environ.get("asgi.scope")
        if scope is None:
            return {}
        state: dict[str, Any] = scope.get("siomw", {})
        return state

    @property
    def session(self) -> Any:
        """The HTTP session an ASGI session middleware (Starlette's ``SessionMiddleware``)
        attached to the handshake request, or None."""
        scope = self.environ.get("asgi.scope")
        return None if scope is None else scope.get("session")

    @property
    def time(self) -> str:
        """When the CONNECT was processed, like JavaScript's ``String(new Date())``."""
        return time.strftime("%a %b %d %Y %H:%M:%S GMT%z", time.localtime(self.issued / 1000))

    @cached_property
    def url(self) -> str:
        """Path and query string of the handshake request."""
        raw = self.environ.get("RAW_URI")
        if raw:
            return str(raw)
        qs = self.environ.get("QUERY_STRING", "")
        path = self.environ.get("PATH_INFO", "/")
        return f"{path}?{qs}" if qs else str(path)

    @cached_property
    def secure(self) -> bool:
        """True when the handshake came over TLS (``https``/``wss``)."""
        scope = self.environ.get("asgi.scope")
        if scope is not None:
            return scope.get("scheme") in ("https", "wss")
        return self.environ.get("wsgi.url_scheme") == "https"

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


class Request:
    """What an engine-level middleware sees: one HTTP request of the engine (Node's ``req``
    inside ``io.engine.use``): the handshake, each long-poll GET and POST, the WebSocket
    upgrade.

    Attributes:
        scope: the ASGI scope (``type`` ``"http"`` or ``"websocket"``).
        method: ``"GET"``, ``"POST"``, ``"OPTIONS"`` (``"GET"`` for WebSocket requests).
        path: the URL path, e.g. ``"/socket.io/"``.
        state: a dict shared with the connect level of the same handshake
            (``socket.handshake.state``): put verified claims here.
        response_headers: ``(name, value)`` pairs added to the engine's response (also to a
            refusal's); a middleware appends to it before or after ``call_next``.
        status: the response status once sent (None before); ``bytes_sent``: body bytes sent.
        asgi: the ``(scope, receive, send)`` the rest of the chain gets: an ASGI member
            replaces it, and a middleware may wrap ``send`` to watch the response start
            (the access log does, to log a WebSocket's 101 when it happens).
        continuations: private to ASGI members (their ``call_next`` per member name).
    """

    def __init__(self, scope: dict[str, Any], proxies: TrustedProxies | None = None) -> None:
        self.scope = scope
        self.method: str = scope.get("method", "GET")
        self.path: str = scope.get("path", "")
        self._proxies = proxies
        self.state: dict[str, Any] = scope.setdefault("siomw", {})
        self.response_headers: list[tuple[str, str]] = []
        self.status: int | None = None
        self.bytes_sent = 0
        self.started = False
        # the (scope, receive, send) the next layer gets; ASGI members replace it
        self.asgi: tuple[dict[str, Any], Any, Any] = (scope, None, None)
        self.continuations: dict[str, Any] = {}

    @cached_property
    def headers(self) -> dict[str, str]:
        """Request headers, lower-case names (duplicates joined with ``,``; cookies with
        ``; ``)."""
        return scope_headers(self.scope)

    @cached_property
    def query(self) -> dict[str, str]:
        """Query parameters (last value wins)."""
        raw = self.scope.get("query_string", b"").decode("latin-1")
        return dict(parse_qsl(raw, keep_blank_values=True))

    @cached_property
    def cookies(self) -> dict[str, str]:
        """Cookies of the ``Cookie`` header(s) as ``{name: value}``, parsed by
        :func:`siomw_core.cookies.parse_cookies` (a malformed pair never hides the others)."""
        return parse_cookies(self.headers.get("cookie"))

    @cached_property
    def address(self) -> str:
        """The client's IP address (forwarded headers only believed from trusted proxies)."""
        client = self.scope.get("client")
        peer = str(client[0]) if client else ""
        if self._proxies:
            return self._proxies.client(peer, self.headers)
        return peer

    @cached_property
    def forwarded_proto(self) -> str:
        """The scheme a trusted proxy reports for the client (``"https"``, ``"http"``, ...,
        lower case; ``""`` when the TCP peer is not one of ``trusted_proxies`` or says
        nothing): ``TrustedProxies.forwarded_proto`` (``Forwarded: proto=``, RFC 7239 §5.4,
        else ``X-Forwarded-Proto``)."""
        client = self.scope.get("client")
        if not self._proxies or not client:
            return ""
        return self._proxies.forwarded_proto(str(client[0]), self.headers)

    @property
    def sid(self) -> str | None:
        """The engine sid of the request's session; None for a handshake."""
        return self.query.get("sid") or None

    @property
    def is_handshake(self) -> bool:
        """True for the request that opens an engine session (it has no ``sid``)."""
        return not self.query.get("sid")

    @property
    def transport(self) -> str | None:
        """``"polling"`` or ``"websocket"`` as the client asked; None otherwise."""
        transport = self.query.get("transport")
        return transport if transport in ("polling", "websocket") else None

    @property
    def is_upgrade(self) -> bool:
        """True for a WebSocket request (an upgrade of a polling session, or a
        WebSocket-only handshake)."""
        return self.scope.get("type") == "websocket"

    @property
    def secure(self) -> bool:
        """True over TLS (``https``/``wss``)."""
        return self.scope.get("scheme") in ("https", "wss")

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path} sid={self.sid!r}>"
