"""The engine seam under WSGI: ``handle_request(environ, start_response)`` returning the body.

A sync ``socketio.Server`` (``async_mode`` threading, gevent, eventlet) is served through
``socketio.WSGIApp(sio)`` (Flask-SocketIO's middleware, gunicorn, gevent's server, Werkzeug's
``run_simple``), which calls ``sio.eio.handle_request(environ, start_response)`` at each
request; :func:`seam` is what siomw puts there. It runs the engine chain (coroutines written
once for every kind) in the request's own thread with :func:`~siomw_core.drive.drive`:
nothing it awaits suspends on a sync server. The environ is the WSGI environ itself, so
``REMOTE_ADDR`` is the TCP peer. ``start_response`` is wrapped to add
``request.response_headers`` and report the status; a refusal is a plain WSGI response (for
a WebSocket request too: before the upgrade). A WebSocket's 101 goes out inside
python-engineio (simple-websocket or gevent-websocket writes it, then serves the connection
before ``handle_request`` returns): the driver is wrapped, on this engine only, to report the
101 when it went out. Response headers cannot be added to that 101 (simple-websocket writes
it by itself).

What python-engineio or the server raises through ``handle_request`` (simple-websocket
ends a WebSocket by raising ``ConnectionError`` under Werkzeug and ``StopIteration`` under
gunicorn, on purpose) is held while the chain finishes and raised again to the server.

WSGI middlewares (Werkzeug's ``ProxyFix``) join the chain through :func:`wsgi_middleware`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from typing import Any

from ..drive import SuspendedError, drive
from ..errors import internal_error
from ..http import REQUEST_KEY, Request, environ_request
from ..levels.engine import EngineSeam, FrameworkRunner, answered, framework_member, once_cors
from ..middleware import CallNext, Middleware

__all__ = ["install", "seam", "wsgi_middleware"]

log = logging.getLogger("siomw")

KIND = "wsgi"
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def _reason(status: int) -> str:
    """``"401 Unauthorized"``: a WSGI status line."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


class WsgiExchange:
    """One WSGI engine request through the chain
    (:class:`~siomw_core.levels.engine.Exchange`): ``environ`` and ``start_response`` are
    what the next layer gets (a WSGI member passes on its own), ``body`` what goes back to
    the server, ``raised`` what python-engineio raised, for the server."""

    kind = KIND
    detaches = False  # the request's thread serves the connection
    released = False  # never: nothing goes on past the chain

    def __init__(self, seam: EngineSeam, environ: Environ, start_response: StartResponse) -> None:
        request = environ_request(environ, seam.proxies)
        request._exchange = self
        environ[REQUEST_KEY] = request
        self.request = request
        self.answered = False
        self.original = seam.original
        self.environ = environ
        self.start_response = self._reporting(start_response)
        self.body: Iterable[bytes] | None = None
        self.raised: BaseException | None = None
        self.continuations: dict[str, CallNext] = {}

    def _reporting(self, server_start: StartResponse) -> StartResponse:
        request = self.request

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Any:
            fields = list(headers)
            if request.response_headers:
                fields += request.response_headers
                fields = once_cors(fields)
            write = (server_start(status, fields) if exc_info is None
                     else server_start(status, fields, exc_info))
            request._respond(int(status.split(None, 1)[0]))
            return write

        return start_response

    async def forward(self) -> None:
        try:
            body = self.original(self.environ, self.start_response)
        except BaseException as exc:  # the server's business (a WebSocket's end): held
            self.raised = exc
            return
        self.body = body
        if isinstance(body, list | tuple):
            self.request._sent(sum(len(chunk) for chunk in body))

    async def refuse(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.start_response(_reason(status), headers)
        self.request._sent(len(body))
        self.body = [body]


def seam(state: EngineSeam) -> Callable[[Environ, StartResponse], Any]:
    """python-engineio's ``handle_request(environ, start_response)`` behind the engine
    chain, driven in the calling thread."""

    def handle_request(environ: Environ, start_response: StartResponse) -> Any:
        level = state.level
        chain = level.chain(str(environ.get("REQUEST_METHOD", "GET")))
        if not chain and level.observer is None:  # nothing runs, nothing observes
            return state.original(environ, start_response)
        exchange = WsgiExchange(state, environ, start_response)
        try:
            drive(level.run(chain, exchange))
        except SuspendedError as exc:  # an async member awaited a future: no loop here
            log.error("siomw: engine chain on a sync server: %s", exc)
            drive(level.answer(exchange, internal_error()))
            exchange.request._finish()
        if exchange.raised is not None:
            raise exchange.raised
        return exchange.body if exchange.body is not None else []

    return handle_request


def install(eio: Any, state: EngineSeam) -> None:
    """Wrap, on ``eio`` only, the async_mode's WebSocket driver so that a request's 101 is
    reported (``request.status``, ``on_start`` hooks) when it went out."""
    driver = dict(eio._async)  # private python-engineio 4.15: the async_mode's driver
    base: Callable[..., Any] | None = driver.get("websocket")
    if driver.get("siomw") or base is None:
        return
    make = base

    class WebSocket:
        """python-engineio's WebSocket driver, reporting the 101 to the request."""

        def __init__(self, handler: Callable[[Any], Any], server: Any, **kwargs: Any) -> None:
            self.handler, self.server, self.kwargs = handler, server, kwargs

        def __call__(self, environ: Environ, start_response: StartResponse) -> Any:
            request = environ.get(REQUEST_KEY)
            handler = self.handler

            def accepted(ws: Any) -> Any:  # called once the handshake's 101 went out
                if isinstance(request, Request):
                    request._respond(101)
                return handler(ws)

            return make(accepted, self.server, **self.kwargs)(environ, start_response)

    driver.update(websocket=WebSocket, siomw=True)
    eio._async = driver


class _WsgiMember(FrameworkRunner):
    """Runs a WSGI middleware as a chain member (in the request's thread)."""

    kind = KIND
    what = "a WSGI middleware (wsgi_middleware)"

    def __init__(self, name: str, factory: Callable[..., WSGIApp], options: dict[str, Any]) -> None:
        super().__init__(name)
        self.app = factory(self._continue, **options)

    def _continue(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        request: Request = environ[REQUEST_KEY]
        exchange: WsgiExchange = request._exchange
        request._reload(environ_request(environ))  # ProxyFix rewrites the environ in place
        exchange.environ, exchange.start_response = environ, start_response
        call_next = exchange.continuations.pop(self.name)
        drive(call_next())
        return exchange.body if exchange.body is not None else []

    async def __call__(self, request: Request, call_next: CallNext) -> None:
        exchange: WsgiExchange = self.exchange(request)
        exchange.continuations[self.name] = call_next
        body = self.app(exchange.environ, exchange.start_response)
        exchange.body = body
        if self.name in exchange.continuations:  # it answered without calling the app
            del exchange.continuations[self.name]
            exchange.answered = True
            raise answered(self.name, request.status or 500)


def wsgi_middleware(
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
    """An engine-level member made of a WSGI middleware (Werkzeug's ``ProxyFix``), for sync
    ``socketio.Server`` servers (threading, gevent, eventlet; Flask-SocketIO).

    ``factory(app, **options)`` is called once; ``app`` continues the chain, in the same
    thread. The environ it passes on is what the members after it see (``ProxyFix`` makes
    ``request.address`` and ``request.scheme`` the forwarded ones). A middleware that
    answers by itself (calls ``start_response`` without calling ``app``) ends the chain with
    that answer; outer members see a :class:`Refusal` with ``data = {"code": "answered",
    "by": name}`` and its status. On an async server each request it would see is refused
    ``internal_error`` and one error line names it.

    Args:
        factory: the class (or any ``factory(app, **options) -> WSGI app``).
        name: the member's name (default: the class name).
        priority, before, after: ordering, as for every middleware.
        preflight: run it for CORS preflight requests too (default True).
        plugin: the plugin contributing it, if any.
        **options: keyword arguments for ``factory``.

    Returns:
        The :class:`Middleware` spec (level ``"engine"``).
    """

    member_name = name or str(getattr(factory, "__name__", type(factory).__name__))
    runner = _WsgiMember(member_name, factory, options)
    return framework_member(runner, member_name, priority=priority, before=before, after=after,
                            preflight=preflight, plugin=plugin)
