"""The engine seam under aiohttp: ``handle_request(request)`` returning a response.

python-engineio 4.15's ``sio.attach(app)`` routes the engine path's GET, POST and OPTIONS to
``sio.eio.handle_request`` (the bound method it finds at that moment: siomw must be attached
first, :func:`install` says so otherwise). :func:`seam` is what siomw puts there. It reads the
aiohttp request into a :class:`~siomw_core.Request` (the TCP peer from ``request.remote``,
since python-engineio writes ``REMOTE_ADDR = "127.0.0.1"``), runs the chain around
python-engineio, adds ``request.response_headers`` to the response it returns, and refuses
with a plain ``web.Response`` (for a WebSocket request too: before the upgrade). A WebSocket's
101 goes out inside python-engineio (its aiohttp driver prepares a ``WebSocketResponse`` and
serves the connection before returning), so the driver is replaced, on this engine only, by
one that adds the headers and reports the 101 when it is sent.

aiohttp middlewares (``async def mw(request, handler)``) join the chain through
:func:`aiohttp_middleware`. aiohttp itself is imported only when used.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from ..http import REQUEST_KEY, Request, add_environ_reader
from ..levels.engine import EngineSeam, FrameworkRunner, answered, framework_member
from ..middleware import CallNext, Middleware
from ..proxies import TrustedProxies

__all__ = ["aiohttp_middleware", "aiohttp_request", "install", "seam"]

log = logging.getLogger("siomw")

KIND = "aiohttp"
Handler = Callable[[Any], Awaitable[Any]]


@functools.cache
def _keys() -> tuple[Any, Any]:
    """aiohttp's typed request keys: where the :class:`~siomw_core.Request` is left
    (``REQUEST_KEY``), and the mark of every request the seam saw (the others bypassed it)."""
    from aiohttp import web

    return web.RequestKey(REQUEST_KEY, Request), web.RequestKey("siomw.seen", bool)


def _headers(raw: Any) -> dict[str, str]:
    """An aiohttp ``CIMultiDictProxy`` as ``{lower-case name: value}``, duplicates joined
    with ``,`` (``Cookie`` with ``; ``)."""
    headers: dict[str, str] = {}
    for raw_name, value in raw.items():
        name = raw_name.lower()
        if name in headers:
            value = f"{headers[name]}{'; ' if name == 'cookie' else ','}{value}"
        headers[name] = value
    return headers


def aiohttp_request(aio: Any, proxies: TrustedProxies | None = None) -> Request:
    """The :class:`~siomw_core.Request` of an ``aiohttp.web.Request``."""
    return Request(
        method=aio.method,
        path=aio.path,
        query_string=aio.query_string,
        headers=lambda: _headers(aio.headers),
        peer=aio.remote or "",
        scheme="https" if aio.scheme == "https" else "http",
        websocket=aio.headers.get("Upgrade", "").lower() == "websocket",
        proxies=proxies,
    )


def _read_environ(environ: Mapping[str, Any], proxies: TrustedProxies | None) -> Request | None:
    """python-engineio's aiohttp environ carries the request as ``aiohttp.request``."""
    aio = environ.get("aiohttp.request")
    if aio is None:
        return None
    found = aio.get(_keys()[0])
    return found if isinstance(found, Request) else aiohttp_request(aio, proxies)


add_environ_reader(_read_environ)


class AiohttpExchange:
    """One aiohttp engine request through the chain
    (:class:`~siomw_core.levels.engine.Exchange`): ``aio`` is the request the next layer
    gets (an aiohttp member may pass on a clone), ``response`` what goes back to aiohttp."""

    kind = KIND
    detaches = True  # a WebSocket goes on in its own task after its 101

    def __init__(self, seam: EngineSeam, aio: Any) -> None:
        request = aiohttp_request(aio, seam.proxies)
        request._exchange = self
        aio[_keys()[0]] = request
        self.request = request
        self.answered = False
        self.released = False
        self.original = seam.original
        self.aio = aio
        self.response: Any = None

    def took(self, response: Any) -> None:
        """``response`` is the answer: report its status and size unless it went out
        already (a WebSocket's, reported at its 101)."""
        self.response = response
        if response is not None and not response.prepared:
            self.request._respond(response.status)
            body = getattr(response, "body", None)
            if isinstance(body, bytes | bytearray):
                self.request._sent(len(body))

    async def forward(self) -> None:
        self.took(await self.original(self.aio))

    async def refuse(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        from aiohttp import web
        from multidict import CIMultiDict

        fields: CIMultiDict[str] = CIMultiDict()
        for name, value in headers:
            if name.lower() != "content-length":  # aiohttp writes it from the body
                fields.add(name, value)
        self.took(web.Response(status=status, body=body, headers=fields))


def seam(state: EngineSeam) -> Handler:
    """python-engineio's ``handle_request(request)`` behind the engine chain."""

    seen = _keys()[1]

    async def handle_request(aio: Any) -> Any:
        aio[seen] = True
        chain = state.level.chain(aio.method)
        if not chain and state.level.observer is None:  # nothing runs, nothing observes
            return await state.original(aio)
        exchange = AiohttpExchange(state, aio)
        session = await state.level.run(chain, exchange)
        if session is not None:  # a WebSocket, past its chain
            await session
        response = exchange.response
        if response is None:  # pragma: no cover - run() answers every refusal
            from aiohttp import web
            response = web.Response(status=500)
        if not response.prepared:
            for name, value in exchange.request.response_headers:
                response.headers.add(name, value)
        return response

    return handle_request


def install(eio: Any, state: EngineSeam) -> None:
    """Replace, on ``eio`` only, the aiohttp driver's WebSocket (response headers on the
    101, and its report) and its ``translate_request`` (one error line when a request
    bypassed the seam: ``sio.attach(app)`` ran before ``siomw_core.attach(sio)``)."""
    driver = dict(eio._async)  # private python-engineio 4.15: the async_mode's driver
    if driver.get("siomw"):
        return
    base = driver["websocket"]
    translate = driver["translate_request"]
    warned = False

    class WebSocket(base):  # type: ignore[misc, valid-type]
        """python-engineio's aiohttp WebSocket, with siomw's headers and 101 report."""

        async def __call__(self, environ: dict[str, Any]) -> Any:
            from aiohttp.web import WebSocketResponse

            aio = environ["aiohttp.request"]
            request = aio.get(_keys()[0])
            self._sock = WebSocketResponse(max_msg_size=self.server.max_http_buffer_size)
            for name, value in request.response_headers if request is not None else ():
                self._sock.headers.add(name, value)
            await self._sock.prepare(aio)
            if request is not None:
                request._respond(101)
            self.environ = environ
            await self.handler(self)
            return self._sock

    def translate_request(aio: Any) -> Any:
        nonlocal warned
        if not warned and _keys()[1] not in aio and state.level.chain(aio.method):
            warned = True
            log.error("siomw: an engine request reached python-engineio without the engine "
                      "chain: sio.attach(app) ran before siomw_core.attach(sio), so aiohttp "
                      "holds python-engineio's own handler; attach siomw first")
        return translate(aio)

    driver.update(websocket=WebSocket, translate_request=translate_request, siomw=True)
    eio._async = driver


class _AiohttpMember(FrameworkRunner):
    """Runs an aiohttp middleware ``mw(request, handler)`` as a chain member."""

    kind = KIND
    what = "an aiohttp middleware (aiohttp_middleware)"

    def __init__(self, name: str, func: Callable[[Any, Handler], Awaitable[Any]]) -> None:
        super().__init__(name)
        self.func = func

    async def __call__(self, request: Request, call_next: CallNext) -> None:
        from aiohttp import web

        exchange: AiohttpExchange = self.exchange(request)
        called = False

        async def handler(aio: Any) -> Any:
            nonlocal called
            called = True
            if aio is not exchange.aio:  # a clone (remote=, scheme=): the members after see it
                aio[_keys()[0]] = request
                request._reload(aiohttp_request(aio))
                exchange.aio = aio
            await call_next()
            return exchange.response

        try:
            response = await self.func(exchange.aio, handler)
        except web.HTTPException as answer:  # aiohttp's way of answering by raising
            if called:
                raise
            # returned as a plain response: aiohttp deprecates returning the exception
            response = web.Response(status=answer.status, reason=answer.reason,
                                    body=answer.body, headers=answer.headers)
        if not called:  # it answered without calling the rest of the chain
            exchange.answered = True
            exchange.took(response)
            raise answered(self.name, getattr(response, "status", 500))
        exchange.response = response


def aiohttp_middleware(
    func: Callable[[Any, Handler], Awaitable[Any]],
    *,
    name: str | None = None,
    priority: int = 0,
    before: str | Sequence[str] | None = None,
    after: str | Sequence[str] | None = None,
    preflight: bool = True,
    plugin: str | None = None,
) -> Middleware:
    """An engine-level member made of an aiohttp middleware, for ``sio.attach(app)`` servers
    (``async_mode="aiohttp"``).

    ``func`` is an aiohttp middleware (``@web.middleware async def mw(request, handler)``):
    ``await handler(request)`` runs the rest of the chain and python-engineio, and returns
    their response, which ``func`` may change or replace; passing on a clone
    (``request.clone(remote=...)``) shows the members after it the clone's fields. Returning
    (or raising, as ``web.HTTPForbidden``) a response without calling ``handler`` answers the
    request with it: outer members see a :class:`Refusal` with ``data = {"code":
    "answered", "by": name}`` and its status. On another kind of server each request it
    would see is refused ``internal_error`` and one error line names it.

    Args:
        func: the middleware.
        name: the member's name (default: the function's name).
        priority, before, after: ordering, as for every middleware.
        preflight: run it for CORS preflight requests too (default True).
        plugin: the plugin contributing it, if any.

    Returns:
        The :class:`Middleware` spec (level ``"engine"``).
    """

    member_name = name or str(getattr(func, "__name__", type(func).__name__))
    runner = _AiohttpMember(member_name, func)
    return framework_member(runner, member_name, priority=priority, before=before, after=after,
                            preflight=preflight, plugin=plugin)
