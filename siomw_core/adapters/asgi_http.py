"""The engine seam under ASGI: ``handle_request(scope, receive, send)``.

python-engineio 4.15's ``socketio.ASGIApp`` (the user's, or the one inside
``mw.asgi_app()``) calls ``sio.handle_request(scope, receive, send)``, which calls
``sio.eio.handle_request`` at each request; :func:`seam` is what siomw puts there. It reads
the scope into a :class:`~siomw_core.Request` (the TCP peer from ``scope["client"]``, since
python-engineio writes ``REMOTE_ADDR = "127.0.0.1"``), wraps ``send`` to add
``request.response_headers`` and report the response (``http.response.start``, or
``websocket.accept`` for a WebSocket's 101), and refuses before ``websocket.accept``: with the
real status through the ASGI "WebSocket Denial Response" extension when the server offers it
(uvicorn does), else with ``websocket.close`` (uvicorn then answers 403).

Standard ASGI middleware classes (Starlette's) join the chain through
:func:`asgi_middleware`. :class:`EngineApp` (``mw.asgi_app()``) serves the engine mounted
under a prefix: Starlette's ``Mount("/realtime", ...)``, uvicorn's ``--root-path``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from functools import partial
from typing import Any, cast

from ..http import REQUEST_KEY, Request, add_environ_reader
from ..levels.engine import EngineSeam, FrameworkRunner, answered, framework_member, once_cors
from ..middleware import CallNext, Middleware
from ..proxies import TrustedProxies

__all__ = ["PATH_KEY", "EngineApp", "asgi_middleware", "route_path", "scope_headers",
           "scope_request", "seam"]

Scope = MutableMapping[str, Any]  # what servers and Starlette pass (typed as theirs)
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: scope key :class:`EngineApp` sets: the path as the server received it (with the prefix)
PATH_KEY = "siomw.path"
KIND = "asgi"


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


def scope_request(scope: Scope, proxies: TrustedProxies | None = None) -> Request:
    """The :class:`~siomw_core.Request` of an ASGI ``http`` or ``websocket`` scope."""
    client = scope.get("client")
    raw_qs = scope.get("query_string", b"")
    return Request(
        method=scope.get("method", "GET"),
        path=scope.get(PATH_KEY) or scope.get("path", ""),
        query_string=raw_qs.decode("latin-1") if isinstance(raw_qs, bytes) else str(raw_qs),
        headers=partial(scope_headers, scope),  # a partial: smaller than a closure
        peer=str(client[0]) if client else "",
        scheme="https" if scope.get("scheme") in ("https", "wss") else "http",
        websocket=scope.get("type") == "websocket",
        proxies=proxies,
        session=partial(scope.get, "session"),
    )


def _read_environ(environ: Mapping[str, Any], proxies: TrustedProxies | None) -> Request | None:
    """python-engineio's ASGI environ carries the scope as ``asgi.scope``."""
    scope = environ.get("asgi.scope")
    if scope is None:
        return None
    found = scope.get(REQUEST_KEY)
    if isinstance(found, Request):
        return found
    if "query_string" not in scope or "path" not in scope:  # a scope made by hand (tests)
        scope = {"path": environ.get("PATH_INFO", "/"),
                 "query_string": str(environ.get("QUERY_STRING", "")).encode("latin-1"),
                 **scope}
    return scope_request(scope, proxies)


add_environ_reader(_read_environ)


class AsgiExchange:
    """One ASGI engine request through the chain (:class:`~siomw_core.levels.engine.Exchange`).

    ``asgi`` is the ``(scope, receive, send)`` the next layer gets: ASGI members replace it;
    ``continuations`` holds each ASGI member's ``call_next`` while it runs.
    """

    kind = KIND
    detaches = True  # a WebSocket goes on in its own task after its 101
    __slots__ = ("answered", "asgi", "continuations", "original", "released", "request",
                 "scope")

    def __init__(self, seam: EngineSeam, scope: Scope, receive: Receive, send: Send) -> None:
        request = scope_request(scope, seam.proxies)
        request._exchange = self
        scope[REQUEST_KEY] = request
        self.request = request
        self.answered = False
        self.released = False
        self.original = seam.original
        self.scope = scope
        self.asgi: tuple[Scope, Receive, Send] = (scope, receive, _Sender(request, send))
        self.continuations: dict[str, CallNext] = {}

    def forward(self) -> Awaitable[None]:
        # python-engineio's coroutine itself: no frame of ours for a WebSocket's life
        scope, receive, send = self.asgi
        return cast(Awaitable[None], self.original(scope, receive, send))

    async def refuse(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        # through the innermost send: ASGI members outside the refusing member (CORS,
        # sessions) add their headers to the refusal as to any response
        send = self.asgi[2]
        raw = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers]
        scope = self.scope
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": status, "headers": raw})
            await send({"type": "http.response.body", "body": body})
        elif "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": status,
                        "headers": raw})
            await send({"type": "websocket.http.response.body", "body": body})
        else:  # the server can only close: uvicorn and hypercorn answer 403
            message = body.decode(errors="replace")
            await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})


def seam(state: EngineSeam) -> Callable[..., Awaitable[Any]]:
    """python-engineio's ``handle_request(scope, receive, send)`` behind the engine chain."""

    async def handle_request(scope: Scope, receive: Receive, send: Send) -> Any:
        if scope.get("type") not in ("http", "websocket"):
            return await state.original(scope, receive, send)
        chain = state.level.chain(scope.get("method", "GET"))
        if not chain and state.level.observer is None:  # nothing runs, nothing observes
            return await state.original(scope, receive, send)
        session = await state.level.run(chain, AsgiExchange(state, scope, receive, send))
        if session is not None:  # a WebSocket, past its chain
            await session
        return None

    return handle_request


class _Sender:
    """Wraps ``send``: adds ``request.response_headers``, reports status and body size."""

    __slots__ = ("request", "send")

    def __init__(self, request: Request, send: Send) -> None:
        self.request = request
        self.send = send

    async def __call__(self, message: MutableMapping[str, Any]) -> None:
        kind = message["type"]
        request = self.request
        if kind in ("http.response.start", "websocket.http.response.start", "websocket.accept"):
            headers = list(message.get("headers", ()))
            if request.response_headers:
                headers += [(n.lower().encode("latin-1"), str(v).encode("latin-1"))
                            for n, v in request.response_headers]
            message = {**message, "headers": once_cors(headers)}
            await self.send(message)
            request._respond(message.get("status", 101))
            return
        if kind in ("http.response.body", "websocket.http.response.body"):
            request._sent(len(message.get("body", b"")))
        elif kind == "websocket.close" and not request.started:
            await self.send(message)
            request._respond(403)  # what uvicorn and hypercorn answer
            return
        await self.send(message)


class _AsgiMember(FrameworkRunner):
    """Runs a standard ASGI middleware as a chain member (Node's Express middleware)."""

    kind = KIND
    what = "an ASGI middleware (asgi_middleware)"

    def __init__(
        self, name: str, factory: Callable[..., ASGIApp], options: dict[str, Any]
    ) -> None:
        super().__init__(name)
        self.app = factory(self._continue, **options)

    async def _continue(self, scope: Scope, receive: Receive, send: Send) -> None:
        request: Request = scope[REQUEST_KEY]
        exchange: AsgiExchange = request._exchange
        request._reload(scope_request(scope))  # what it changed (uvicorn's proxy headers)
        exchange.asgi = (scope, receive, send)
        call_next = exchange.continuations.pop(self.name)
        await call_next()

    async def __call__(self, request: Request, call_next: CallNext) -> None:
        exchange: AsgiExchange = self.exchange(request)
        exchange.continuations[self.name] = call_next
        scope, receive, send = exchange.asgi
        await self.app(scope, receive, send)
        if self.name in exchange.continuations:  # it answered without calling the app
            del exchange.continuations[self.name]
            raise answered(self.name, request.status or 500)


def asgi_middleware(
    factory: Callable[..., Any],
    *,
    name: str | None = None,
    priority: int = 0,
    before: str | Sequence[str] | None = None,
    after: str | Sequence[str] | None = None,
    preflight: bool = True,
    plugin: str | None = None,
    **options: Any,
) -> Middleware:
    """An engine-level member made of a standard ASGI middleware class (Starlette style),
    for servers served over ASGI (``async_mode="asgi"``).

    ``factory(app, **options)`` is called once; ``app`` continues the chain. A middleware
    that answers by itself (``TrustedHostMiddleware``'s 400) ends the chain with that answer;
    outer members see a :class:`Refusal` with ``data = {"code": "answered", "by": name}``
    and its status. On another kind of server (aiohttp, WSGI) each request it would see is
    refused ``internal_error`` and one error line names it.

    Args:
        factory: the class (or any ``factory(app, **options) -> ASGI app``).
        name: the member's name (default: the class name).
        priority, before, after: ordering, as for every middleware.
        preflight: run it for CORS preflight requests too (default True: an ASGI
            ``CORSMiddleware`` must see them).
        plugin: the plugin contributing it, if any.
        **options: keyword arguments for ``factory``.

    Returns:
        The :class:`Middleware` spec (level ``"engine"``).
    """

    member_name = name or str(getattr(factory, "__name__", type(factory).__name__))
    runner = _AsgiMember(member_name, factory, options)
    return framework_member(runner, member_name, priority=priority, before=before, after=after,
                            preflight=preflight, plugin=plugin)


def route_path(scope: Scope) -> str:
    """The request path below the mount point: ``scope["path"]`` without ``root_path``.

    ASGI servers and Starlette's ``Mount`` keep the full path in ``path`` and the mount
    prefix in ``root_path`` (uvicorn since 0.26, Starlette since 0.35); a server that strips
    the prefix itself gives a ``path`` that does not start with ``root_path``, kept as is.
    The same rule as ``starlette._utils.get_route_path``.
    """
    path: str = scope["path"]
    root = scope.get("root_path") or ""
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root):] or "/"
    return path


class EngineApp:
    """``mw.asgi_app()``: a ``socketio.ASGIApp`` that also answers mounted under a prefix.

    python-engineio compares the full ``scope["path"]`` with its own ``/socket.io/`` and
    answers 404 under ``Mount("/realtime", ...)`` or uvicorn's ``--root-path``; this app hands
    it the scope with the path below ``root_path`` (:func:`route_path`), and keeps the full
    path for ``request.path``. The engine chain itself runs in python-engineio's seam, as
    for any other way of serving.

    Args:
        app: the application to wrap, normally ``socketio.ASGIApp(sio, ...)``.
        sio, chain_for, proxies: accepted for compatibility and unused (the seam has them).
        engine_path: the path python-engineio serves (default ``"/socket.io/"``).
    """

    def __init__(
        self,
        app: ASGIApp,
        sio: Any = None,
        chain_for: Any = None,
        proxies: TrustedProxies | None = None,
        engine_path: str = "/socket.io/",
    ) -> None:
        self.app = app
        self.sio = sio
        self.engine_path = "/" + engine_path.strip("/") + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stack = getattr(self.sio, "_siomw_stack", None)
        if scope["type"] == "lifespan" and stack is not None:  # the plugins' start and stop
            from .lifecycle_seams import asgi_lifespan
            await asgi_lifespan(self.app, stack.lifecycle, scope, receive, send)
            return
        if scope["type"] in ("http", "websocket"):
            route = route_path(scope)
            if route != scope["path"] and (route + "/").startswith(self.engine_path):
                raw = scope.get("raw_path")
                prefix = (scope.get("root_path") or "").encode()
                if isinstance(raw, bytes) and raw.startswith(prefix):
                    raw = raw[len(prefix):]
                scope = cast(Scope, {**scope, "path": route, "raw_path": raw,
                                     PATH_KEY: scope["path"]})
        await self.app(scope, receive, send)
