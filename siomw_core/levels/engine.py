"""The engine level: Node's ``io.engine.use`` around python-engineio's ASGI app.

Every HTTP request on the engine path (the handshake, each long-poll GET and POST, the
WebSocket upgrade) runs the engine chain before python-engineio sees it; other paths of the
wrapped application (FastAPI, Starlette, static files) are untouched. CORS preflight
(``OPTIONS``) requests only run members declared with ``preflight=True``.

A refusal is answered the way python-engineio answers its own 401 (python-socketio
internals §5.2-5.3): the refusal's HTTP status, ``Content-Type: application/json``, body
``{"message", "data"}``, plus the CORS headers the engine would have sent, so browsers can
read it and python-socketio's clients hand ``data`` to ``connect_error``. A refused WebSocket
request is answered before ``websocket.accept``: with the real status through the ASGI
"WebSocket Denial Response" extension when the server offers it (uvicorn does), else with
``websocket.close`` (uvicorn then answers 403).

Mounted under a prefix (Starlette's ``Mount("/realtime", mw.asgi_app())``, uvicorn's
``--root-path``), the engine path is matched against the path below the scope's
``root_path``, as Starlette routes match (ASGI spec: ``path`` includes ``root_path``), and
python-engineio gets the scope with that path, since it compares ``scope["path"]`` with its
own ``/socket.io/`` and would answer 404.

Standard ASGI middleware classes join the chain through :func:`asgi_middleware`.
:func:`watch_unwrapped` warns once when engine requests reach python-engineio without
passing through an :class:`EngineApp` (``socketio.ASGIApp(sio)`` served directly).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, cast

from ..chain import run_chain
from ..context import Request
from ..errors import Refusal
from ..middleware import CallNext, Middleware, as_names
from ..proxies import TrustedProxies

__all__ = ["ENGINE_MARKER", "EngineApp", "asgi_middleware", "route_path", "watch_unwrapped"]

log = logging.getLogger("siomw")

Scope = MutableMapping[str, Any]  # what servers and Starlette pass (typed as theirs)
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: scope key an :class:`EngineApp` sets on every engine request it passes on
ENGINE_MARKER = "siomw.engine"


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


def _unmounted(scope: Scope, route: str) -> Scope:
    """``scope`` as python-engineio must see it: ``path`` relative to the mount point."""
    if scope["path"] == route:
        return scope
    raw = scope.get("raw_path")
    prefix = (scope.get("root_path") or "").encode()
    if isinstance(raw, bytes) and raw.startswith(prefix):
        raw = raw[len(prefix):]
    return {**scope, "path": route, "raw_path": raw}


class EngineApp:
    """An ASGI app running the engine chain in front of ``app`` on the engine path.

    Args:
        app: the application to wrap, normally ``socketio.ASGIApp(sio, ...)``.
        sio: the python-socketio server (its engine's CORS settings shape refusals).
        chain_for: returns the composed chain; its argument is True for preflight requests.
        proxies: trusted proxies for ``request.address``.
        engine_path: the path python-engineio serves (default ``"/socket.io/"``).
    """

    def __init__(
        self,
        app: ASGIApp,
        sio: Any,
        chain_for: Callable[[bool], Sequence[Middleware]],
        proxies: TrustedProxies | None = None,
        engine_path: str = "/socket.io/",
    ) -> None:
        self.app = app
        self.sio = sio
        self.chain_for = chain_for
        self.proxies = proxies
        self.engine_path = "/" + engine_path.strip("/") + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        route = route_path(scope)
        if not (route + "/").startswith(self.engine_path):
            await self.app(scope, receive, send)
            return
        scope[ENGINE_MARKER] = True  # the chain ran (or was empty): see watch_unwrapped()
        chain = self.chain_for(scope.get("method") == "OPTIONS")
        if not chain:
            await self.app(_unmounted(scope, route), receive, send)
            return
        plain = cast(dict[str, Any], scope)  # servers pass a dict; typed as Starlette types it
        request = Request(plain, self.proxies)
        scope["siomw.request"] = request
        request.asgi = (plain, receive, _Sender(request, send))

        async def endpoint() -> None:
            inner_scope, inner_receive, inner_send = request.asgi
            await self.app(_unmounted(inner_scope, route), inner_receive, inner_send)

        try:
            await run_chain(chain, request, endpoint)
        except Refusal as refusal:
            if request.started:  # a member or the app answered already (an ASGI member's 400)
                return
            # through the innermost send: ASGI members outside the refusing member (CORS,
            # sessions) add their headers to the refusal as to any response
            await self.refuse(request, request.asgi[2], refusal)

    async def refuse(self, request: Request, send: Send, refusal: Refusal) -> None:
        """Answer ``request`` with ``refusal``: status, JSON body, CORS and added headers.

        ``send`` is expected to be the request's wrapped send, which adds
        ``request.response_headers`` and records status and size.
        """
        try:
            body = json.dumps(refusal.payload()).encode()
        except (TypeError, ValueError):
            log.error("siomw: engine refusal data is not JSON-serialisable: %r", refusal)
            body = json.dumps({"message": "Internal server error",
                               "data": {"code": "internal_error"}}).encode()
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]
        for name, value in [*self._cors(request), *refusal.headers.items()]:
            headers.append((name.lower().encode("latin-1"), str(value).encode("latin-1")))
        if request.scope["type"] == "http":
            await send({"type": "http.response.start", "status": refusal.status,
                        "headers": headers})
            await send({"type": "http.response.body", "body": body})
        elif "websocket.http.response" in request.scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": refusal.status,
                        "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:  # the server can only close: uvicorn and hypercorn answer 403
            await send({"type": "websocket.close", "code": 1008,
                        "reason": refusal.message[:120]})

    def _cors(self, request: Request) -> list[tuple[str, str]]:
        """The CORS headers python-engineio would add to its own response to ``request``."""
        eio = self.sio.eio
        headers = request.headers
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "wsgi.url_scheme": "https" if request.secure else "http",
        }
        for name, key in (("origin", "HTTP_ORIGIN"), ("host", "HTTP_HOST"),
                          ("x-forwarded-proto", "HTTP_X_FORWARDED_PROTO"),
                          ("x-forwarded-host", "HTTP_X_FORWARDED_HOST"),
                          ("access-control-request-headers",
                           "HTTP_ACCESS_CONTROL_REQUEST_HEADERS")):
            if name in headers:
                environ[key] = headers[name]
        # private python-engineio API (4.15), the same function its responses use
        return list(eio._cors_headers(environ))


class _Sender:
    """Wraps ``send``: adds ``request.response_headers``, records status and body size."""

    __slots__ = ("request", "send")

    def __init__(self, request: Request, send: Send) -> None:
        self.request = request
        self.send = send

    async def __call__(self, message: MutableMapping[str, Any]) -> None:
        kind = message["type"]
        request = self.request
        if kind in ("http.response.start", "websocket.http.response.start", "websocket.accept"):
            request.started = True
            request.status = message.get("status", 101)
            headers = list(message.get("headers", ()))
            if request.response_headers:
                headers += [(n.lower().encode("latin-1"), str(v).encode("latin-1"))
                            for n, v in request.response_headers]
            message = {**message, "headers": _once_cors(headers)}
        elif kind in ("http.response.body", "websocket.http.response.body"):
            request.bytes_sent += len(message.get("body", b""))
        elif kind == "websocket.close" and not request.started:
            request.started = True
            request.status = 403
        await self.send(message)


def _once_cors(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Keep the first of each ``Access-Control-*`` header: the engine and an ASGI CORS
    member may both answer one, and browsers reject a repeated Allow-Origin."""
    seen: set[bytes] = set()
    out: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        key = name.lower()
        if key.startswith(b"access-control-"):
            if key in seen:
                continue
            seen.add(key)
        out.append((name, value))
    return out


class _AsgiMember:
    """Runs a standard ASGI middleware as a chain member (Node's Express middleware)."""

    def __init__(
        self, name: str, factory: Callable[..., ASGIApp], options: dict[str, Any]
    ) -> None:
        self.name = name
        self.app = factory(self._continue, **options)

    async def _continue(self, scope: Scope, receive: Receive, send: Send) -> None:
        request: Request = scope["siomw.request"]
        request.asgi = (cast(dict[str, Any], scope), receive, send)
        call_next = request.continuations.pop(self.name)
        await call_next()

    async def __call__(self, request: Request, call_next: CallNext) -> None:
        request.continuations[self.name] = call_next
        scope, receive, send = request.asgi
        await self.app(scope, receive, send)
        if self.name in request.continuations:  # it answered without calling the app
            del request.continuations[self.name]
            raise Refusal(f"answered by {self.name}", {"code": "answered", "by": self.name},
                          status=request.status or 500)


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
    """An engine-level member made of a standard ASGI middleware class (Starlette style).

    ``factory(app, **options)`` is called once; ``app`` continues the chain. A middleware
    that answers by itself (``TrustedHostMiddleware``'s 400) ends the chain with that answer;
    outer members see a :class:`Refusal` with ``data = {"code": "answered", "by": name}``
    and its status.

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
    return Middleware(
        name=member_name,
        func=_AsgiMember(member_name, factory, options),
        level="engine",
        priority=priority,
        before=as_names(before),
        after=as_names(after),
        plugin=plugin,
        preflight=preflight,
    )


def watch_unwrapped(sio: Any, members: Callable[[], Sequence[Middleware]]) -> None:
    """Warn once when engine requests reach python-engineio around the engine chain.

    Serving ``socketio.ASGIApp(sio)`` (or ``engineio.ASGIApp(sio.eio)``) directly instead
    of ``mw.asgi_app()`` runs the connect level but silently skips every engine member: the
    HTTP rate limits, the jwt handshake check, security headers, the access log. This wraps
    the engine's ``handle_request`` on the instance (python-engineio 4.15:
    ``socketio.ASGIApp`` calls ``sio.handle_request``, which calls ``sio.eio.handle_request``
    with the ASGI scope first): a request without the :data:`ENGINE_MARKER` an
    :class:`EngineApp` sets, while ``members()`` is not empty, logs one WARNING naming the
    skipped members and what to serve instead; later requests are not checked. Idempotent:
    attaching twice keeps one wrapper, using the latest ``members``.

    Args:
        sio: the python-socketio server.
        members: returns the composed engine chain (not called once it warned).
    """
    eio = sio.eio
    current = eio.handle_request
    if getattr(current, "_siomw_watch", None) is not None:
        current._siomw_watch["members"] = members
        return
    state: dict[str, Any] = {"members": members, "warned": False}
    original = current

    async def handle_request(*args: Any, **kwargs: Any) -> Any:
        if not state["warned"]:
            scope = args[0] if args else None
            if not (isinstance(scope, dict) and scope.get(ENGINE_MARKER)):
                skipped = [m.name for m in state["members"]()]
                if skipped:
                    state["warned"] = True
                    log.warning(
                        "siomw: engine requests reach python-engineio without the engine "
                        "chain, so its members %s are skipped (socketio.ASGIApp(sio) served "
                        "directly?); serve mw.asgi_app() instead (it takes socketio.ASGIApp's "
                        "arguments), or mw.wrap(asgi_app)", ", ".join(skipped))
        return await original(*args, **kwargs)

    handle_request._siomw_watch = state  # type: ignore[attr-defined]
    eio.handle_request = handle_request
