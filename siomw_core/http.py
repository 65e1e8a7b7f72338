"""The HTTP request an engine-level middleware sees, the same on every server kind.

:class:`Request` is built by the server kind's adapter (``adapters/asgi_http.py``,
``adapters/aiohttp_http.py``, ``adapters/wsgi_http.py``) from what that kind hands
python-engineio's ``handle_request`` (an ASGI scope, an aiohttp request, a WSGI environ): the
views below never depend on which. The adapter reports the response through the private
``_respond`` / ``_sent`` / ``_finish`` methods, which set :attr:`Request.status` and
:attr:`Request.bytes_sent` and call the hooks registered with :meth:`Request.on_start` and
:meth:`Request.on_end`.

The connect level finds the same request again from python-engineio's per-session
``environ`` (:func:`request_of_environ`): each adapter registers a reader for the environ
python-engineio builds under its kind (:func:`add_environ_reader`); a WSGI environ is read
here, as PEP 3333 defines it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl

from .cookies import parse_cookies
from .proxies import TrustedProxies

__all__ = ["REQUEST_KEY", "EnvironReader", "Request", "add_environ_reader", "environ_headers",
           "environ_request", "request_of_environ"]

log = logging.getLogger("siomw")

#: where an adapter leaves the :class:`Request` on the framework's own request object (the
#: ASGI scope, the aiohttp request, the WSGI environ), for the connect level to find
REQUEST_KEY = "siomw.request"

Hook = Callable[["Request"], Any]
EnvironReader = Callable[[Mapping[str, Any], "TrustedProxies | None"], "Request | None"]


class Request:
    """What an engine-level middleware sees: one HTTP request of the engine (Node's ``req``
    inside ``io.engine.use``): the handshake, each long-poll GET and POST, the WebSocket
    upgrade. The same fields on every server kind (ASGI, aiohttp, WSGI).

    Attributes:
        method: ``"GET"``, ``"POST"``, ``"OPTIONS"`` (``"GET"`` for WebSocket requests).
        path: the URL path, e.g. ``"/socket.io/"`` (with the mount prefix, if any).
        scheme: ``"http"`` or ``"https"`` (a WebSocket over TLS is ``"https"``), as the
            server saw it; a trusted proxy's word is :attr:`forwarded_proto`.
        peer: the TCP peer's IP address (no proxy headers; ``""`` when unknown).
        state: a dict shared with the connect level of the same handshake
            (``socket.handshake.state``): put verified claims here.
        response_headers: ``(name, value)`` pairs added to the engine's response (also to a
            refusal's); a middleware appends to it before ``call_next``.
        status: the response status once the response started (None before): ``101`` for
            an accepted WebSocket.
        bytes_sent: response body bytes sent so far (a WebSocket's frames are not counted).

    Args:
        method, path, scheme, peer: as above.
        query_string: the raw query string (no ``?``).
        headers: ``{lower-case name: value}``, duplicates joined (``,``; cookies ``; ``), or
            a function returning it (read on first use).
        websocket: the request asks for a WebSocket.
        state: the shared dict (a new one when None).
        proxies: trusted proxies for :attr:`address` and :attr:`forwarded_proto`.
        session: returns the HTTP session a framework middleware attached (None: none).
    """

    def __init__(
        self,
        *,
        method: str,
        path: str,
        query_string: str = "",
        headers: Mapping[str, str] | Callable[[], dict[str, str]],
        peer: str = "",
        scheme: str = "http",
        websocket: bool = False,
        state: dict[str, Any] | None = None,
        proxies: TrustedProxies | None = None,
        session: Callable[[], Any] | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.scheme = scheme
        self.peer = peer
        self.state: dict[str, Any] = {} if state is None else state
        self.response_headers: list[tuple[str, str]] = []
        self.status: int | None = None
        self.bytes_sent = 0
        self._query_string = query_string
        self._headers = headers
        self._websocket = websocket
        self._proxies = proxies
        self._session = session
        self._on_start: list[Hook] | None = None
        self._on_end: list[Hook] | None = None
        self._ended = False
        #: the adapter's exchange of this request (framework members reach it through here)
        self._exchange: Any = None

    # --- what the request says ---------------------------------------------------------------
    @cached_property
    def headers(self) -> dict[str, str]:
        """Request headers, lower-case names (duplicates joined with ``,``; cookies with
        ``; ``, RFC 9110 §5.3 and RFC 9113 §8.2.3)."""
        headers = self._headers
        return dict(headers) if not callable(headers) else headers()

    @cached_property
    def query(self) -> dict[str, str]:
        """Query parameters (last value wins, as in Node)."""
        return dict(parse_qsl(self._query_string, keep_blank_values=True))

    @property
    def url(self) -> str:
        """Path and query string, e.g. ``/socket.io/?EIO=4&transport=polling``."""
        qs = self._query_string
        return f"{self.path}?{qs}" if qs else self.path

    @cached_property
    def cookies(self) -> dict[str, str]:
        """Cookies of the ``Cookie`` header(s) as ``{name: value}``, parsed by
        :func:`siomw_core.cookies.parse_cookies` (a malformed pair never hides the others)."""
        return parse_cookies(self.headers.get("cookie"))

    @cached_property
    def address(self) -> str:
        """The client's IP address: the TCP peer, or the forwarded client when the peer is
        one of ``trusted_proxies`` (:meth:`TrustedProxies.client`)."""
        if self._proxies:
            return self._proxies.client(self.peer, self.headers)
        return self.peer

    @cached_property
    def forwarded_proto(self) -> str:
        """The scheme a trusted proxy reports for the client (``"https"``, ``"http"``, ...,
        lower case; ``""`` when the TCP peer is not one of ``trusted_proxies`` or says
        nothing): ``TrustedProxies.forwarded_proto`` (``Forwarded: proto=``, RFC 7239 §5.4,
        else ``X-Forwarded-Proto``)."""
        if not self._proxies or not self.peer:
            return ""
        return self._proxies.forwarded_proto(self.peer, self.headers)

    @property
    def secure(self) -> bool:
        """True over TLS (``https``/``wss``)."""
        return self.scheme == "https"

    @property
    def session(self) -> Any:
        """The HTTP session a framework middleware attached to this request (Starlette's
        ``SessionMiddleware`` under ASGI), or None."""
        return None if self._session is None else self._session()

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
        return self._websocket

    # --- the response --------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        """True once the response started (:attr:`status` is set)."""
        return self.status is not None

    def on_start(self, hook: Hook) -> None:
        """Call ``hook(request)`` when the response starts: its status is decided and its
        head goes out (for a WebSocket, at its ``101``, while the connection then lasts;
        for a refusal, at the refusal's status). A hook added after the start runs at once.
        ``hook`` is a plain function; an exception in it is logged, never raised."""
        if self.status is not None:
            self._call(hook)
            return
        if self._on_start is None:
            self._on_start = []
        self._on_start.append(hook)

    def on_end(self, hook: Hook) -> None:
        """Call ``hook(request)`` when the request is over (the response sent, a WebSocket
        closed, or the request refused); :attr:`status` and :attr:`bytes_sent` are final.
        ``hook`` is a plain function; an exception in it is logged, never raised."""
        if self._ended:
            self._call(hook)
            return
        if self._on_end is None:
            self._on_end = []
        self._on_end.append(hook)

    def _respond(self, status: int) -> None:
        """Adapters: the response starts with ``status`` (once; later calls are ignored)."""
        if self.status is not None:
            return
        self.status = status
        hooks, self._on_start = self._on_start, None
        for hook in hooks or ():
            self._call(hook)

    def _sent(self, size: int) -> None:
        """Adapters: ``size`` more body bytes went out."""
        self.bytes_sent += size

    def _finish(self) -> None:
        """The level: the request is over; the ``on_end`` hooks run (once)."""
        if self._ended:
            return
        self._ended = True
        hooks, self._on_end = self._on_end, None
        for hook in hooks or ():
            self._call(hook)

    def _reload(self, other: Request) -> None:
        """Adapters: a framework member (Werkzeug's ``ProxyFix``, say) passed on a changed
        request: take its method, path, scheme, peer and headers (cached views recomputed)."""
        self.method, self.path, self.scheme, self.peer = (other.method, other.path,
                                                          other.scheme, other.peer)
        self._query_string, self._headers = other._query_string, other._headers
        self._websocket, self._session = other._websocket, other._session
        for name in ("headers", "query", "cookies", "address", "forwarded_proto"):
            self.__dict__.pop(name, None)

    def _call(self, hook: Hook) -> None:
        try:
            hook(self)
        except Exception:
            log.exception("siomw: a response hook of %r raised (ignored)", self)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path} sid={self.sid!r}>"


# --- finding the request again from python-engineio's environ ---------------------------------
_READERS: list[EnvironReader] = []


def add_environ_reader(reader: EnvironReader) -> None:
    """Register ``reader(environ, proxies) -> Request | None`` (adapters do, on import): it
    returns the request behind an environ of its server kind, None for another kind's."""
    if reader not in _READERS:
        _READERS.append(reader)


def environ_headers(environ: Mapping[str, Any]) -> dict[str, str]:
    """The headers of a WSGI environ (PEP 3333: ``HTTP_*``, ``CONTENT_TYPE``,
    ``CONTENT_LENGTH``) as ``{lower-case name: value}``; the server joined duplicates."""
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = str(value)
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers[key.replace("_", "-").lower()] = str(value)
    return headers


def environ_request(environ: Mapping[str, Any], proxies: TrustedProxies | None = None,
                    state: dict[str, Any] | None = None) -> Request:
    """The :class:`Request` of a WSGI environ (PEP 3333), whose ``REMOTE_ADDR`` is the TCP
    peer (WSGI servers set it truthfully)."""
    upgrade = str(environ.get("HTTP_UPGRADE", "")).lower() == "websocket"
    return Request(
        method=str(environ.get("REQUEST_METHOD", "GET")),
        path=str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", "/")),
        query_string=str(environ.get("QUERY_STRING", "")),
        headers=lambda: environ_headers(environ),
        peer=str(environ.get("REMOTE_ADDR") or ""),
        scheme="https" if environ.get("wsgi.url_scheme") == "https" else "http",
        websocket=upgrade,
        state=state,
        proxies=proxies,
    )


def request_of_environ(environ: Mapping[str, Any],
                       proxies: TrustedProxies | None = None) -> Request:
    """The request behind python-engineio's per-session ``environ``: the very
    :class:`Request` the engine chain saw when it ran (its ``state`` included), else one
    read from the environ by the reader of its server kind."""
    for reader in _READERS:
        request = reader(environ, proxies)
        if request is not None:
            return request
    found = environ.get(REQUEST_KEY)
    if isinstance(found, Request):
        return found
    return environ_request(environ, proxies)
