"""The engine level: Node's ``io.engine.use`` in python-engineio's ``handle_request`` seam.

Every way of serving a python-socketio server ends in ``sio.eio.handle_request(...)``:
``socketio.ASGIApp`` (built by the user or by ``mw.asgi_app()``), aiohttp's
``sio.attach(app)``, ``socketio.WSGIApp``, Flask-SocketIO, gunicorn, gevent. The server
kind's adapter wraps that method on the instance (``adapters/engine_seam.py``), so every HTTP
request on the engine path (the handshake, each long-poll GET and POST, the WebSocket
upgrade) runs the engine chain first, however the app is served. CORS preflight
(``OPTIONS``) requests only run members declared with ``preflight=True``.

This module is the level's semantics, written once for every kind against a small
:class:`Exchange` interface the adapters implement (``asgi_http.py``, ``aiohttp_http.py``,
``wsgi_http.py``):

- the chain runs around :meth:`Exchange.forward` (python-engineio answers the request);
- a refusal is answered the way python-engineio answers its own 401 (python-socketio
  internals §5.2-5.3): the refusal's HTTP status, ``Content-Type: application/json``, body
  ``{"message", "data"}``, the CORS headers the engine would have sent, the refusal's
  ``headers`` and ``request.response_headers``, so browsers can read it and python-socketio's
  clients hand ``data`` to ``connect_error``; a WebSocket request is refused with that HTTP
  response before it is upgraded;
- a framework middleware that answered by itself (Starlette's ``TrustedHostMiddleware``'s
  400) is not answered again;
- the request's ``on_end`` hooks run when it is over, refused or not.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, AnyStr, Protocol

from ..chain import run_chain
from ..errors import Refusal, internal_error
from ..http import Request
from ..middleware import Middleware, as_names
from ..observe import Observers, run_observed
from ..proxies import TrustedProxies

__all__ = ["ARTICLED", "EngineLevel", "EngineSeam", "Exchange", "FrameworkRunner", "answer_request",
           "answered", "framework_member", "once_cors", "refusal_body"]

log = logging.getLogger("siomw")

Headers = list[tuple[str, str]]


class Exchange(Protocol):
    """One engine request as a server kind's adapter carries it through the chain.

    Attributes:
        request: the :class:`~siomw_core.Request` members see.
        kind: the server kind (``"asgi"``, ``"aiohttp"``, ``"wsgi"``): framework members
            check it (:func:`exchange_of`).
        answered: a framework member answered the request itself (nothing to refuse).
        detaches: a WebSocket's connection may go on in a task of its own once its 101
            went out (an event loop serves it; False on WSGI servers, whose thread serves
            the connection inside ``handle_request``).
        released: the chain returned while the connection went on: the connection's end
            finishes the request (set by :meth:`EngineLevel.run`).
    """

    request: Request
    kind: str
    answered: bool
    detaches: bool
    released: bool

    def forward(self) -> Awaitable[None]:
        """python-engineio handles the request (the chain's endpoint)."""

    async def refuse(self, status: int, headers: Headers, body: bytes) -> None:
        """Answer with ``status``, ``headers`` (``request.response_headers`` are added by the
        adapter, as to every response) and ``body``, before any upgrade."""


def refusal_body(refusal: Refusal) -> bytes:
    """``{"message", "data"}`` of ``refusal`` as JSON bytes; data that is not JSON gives the
    ``internal_error`` body (logged)."""
    try:
        return json.dumps(refusal.payload()).encode()
    except (TypeError, ValueError):
        log.error("siomw: engine refusal data is not JSON-serialisable: %r", refusal)
        return json.dumps({"message": "Internal server error",
                           "data": {"code": "internal_error"}}).encode()


class EngineLevel:
    """The engine chain of one server, run by its adapter for each engine request.

    Args:
        chain_for: returns the composed chain; its argument is True for preflight requests.
        cors: the CORS headers python-engineio would add to its own response to a request
            (the adapter reads them from the engine).
        kind: the server kind this level serves (``"asgi"``, ``"aiohttp"``, ``"wsgi"``).
    """

    def __init__(
        self,
        chain_for: Callable[[bool], Sequence[Middleware]],
        cors: Callable[[Request], Headers],
        kind: str,
    ) -> None:
        self.chain_for = chain_for
        self.cors = cors
        self.kind = kind
        #: the stack's observers (``observe.install_observers``); None: nothing is timed
        self.observer: Observers | None = None
        #: plugins made for contract 1.0 or 1.1 (``contract.keeps_connection``): a chain
        #: holding one of their members lasts its WebSocket's connection (set by the stack)
        self.keepers: frozenset[str] = frozenset()

    def chain(self, method: str) -> Sequence[Middleware]:
        """The chain for a request of ``method`` (preflight members only for ``OPTIONS``);
        empty: the adapter hands the request to python-engineio untouched, unless an
        observer is installed (it sees every request)."""
        return self.chain_for(method == "OPTIONS")

    async def run(self, chain: Sequence[Middleware],
                  exchange: Exchange) -> asyncio.Task[None] | None:
        """Run ``chain`` around ``exchange.forward()``; answer a refusal.

        A WebSocket request served by an event loop outlives its chain: ``call_next``
        returns once the upgrade is answered (its ``101``, or the engine's own answer), as
        Node's ``io.engine.use`` middlewares are done before the upgrade is handled; the
        connection goes on in a task of its own, so that no member's frame stays suspended
        for the connection's life. A chain with a framework member (an ASGI or aiohttp
        middleware, which wraps the whole connection by its own spec) or a member of one of
        the :attr:`keepers` (plugins made for contract 1.0 or 1.1, which promised that)
        lasts the connection. Either way the ``on_end`` hooks run when the request is over
        (for a WebSocket, when it closed).

        Returns:
            None when the request is over; else the connection's task, which the adapter
            awaits (a cancel of the adapter's task reaches it too). Its end finishes the
            request.

        Raises:
            BaseException: what python-engineio or the server raised that is not a refusal
                (a cancellation at shutdown, say), unchanged; a connection that went on is
                then cancelled.
        """
        request = exchange.request
        detach = (request.is_upgrade and exchange.detaches
                  and not _holds(chain, self.keepers))
        session: asyncio.Task[None] | None = None

        async def endpoint() -> None:
            nonlocal session
            try:
                if detach:
                    session = await _until_started(exchange)
                else:
                    await exchange.forward()
            except Exception:
                if not request.started:
                    raise  # refused internal_error, logged by the runner
                _failed(request)

        passed = False
        try:
            observer = self.observer
            try:
                if observer is None:
                    await run_chain(chain, request, endpoint, endpoint_name="python-engineio")
                else:
                    await run_observed(observer, "engine", None, chain, request, endpoint,
                                       endpoint_name="python-engineio")
            except Refusal as refusal:
                await self.answer(exchange, refusal)
            passed = True
        finally:
            going = session is not None and not session.done()
            if going:  # the connection's own end finishes the request (_serve)
                exchange.released = True
                if not passed:  # nobody will await it
                    assert session is not None
                    session.cancel()
            else:
                request._finish()
                request._exchange = None  # the session's environ keeps the request
        return session if going else None

    async def answer(self, exchange: Exchange, refusal: Refusal) -> None:
        """Answer ``exchange`` with ``refusal`` unless a response started already (a
        framework member's own, or the engine's): its status, ``application/json``,
        ``{"message", "data"}``, the engine's CORS headers and the refusal's ``headers``."""
        request = exchange.request
        if request.started or exchange.answered:
            return
        body = refusal_body(refusal)
        headers: Headers = [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))]
        headers += self.cors(request)
        headers += [(name, str(value)) for name, value in refusal.headers.items()]
        await exchange.refuse(refusal.status, headers, body)


def _failed(request: Request) -> None:
    """python-engineio raised after the response started: nothing can answer any more (a
    WebSocket's 101 went out); what the server would log as its own "Exception in ASGI
    application", said once, here (inside an ``except``: the traceback is logged)."""
    log.exception("siomw: python-engineio raised while serving %r, after its response "
                  "started", request)


def _holds(chain: Sequence[Middleware], keepers: frozenset[str]) -> bool:
    """True when ``chain`` must last its WebSocket's connection: a framework member (it
    wraps the whole connection), or a member of a plugin in ``keepers``."""
    return any(isinstance(member.func, FrameworkRunner) or member.plugin in keepers
               for member in chain)


async def _serve(exchange: Exchange) -> None:
    """A WebSocket connection's task: ``exchange.forward()``; what it raises after the 101
    is logged (:func:`_failed`); once the chain let it go (``released``), its end finishes
    the request (the ``on_end`` hooks)."""
    request = exchange.request
    try:
        await exchange.forward()
    except Exception:
        if not request.started:
            raise  # the chain still waits for the start: it refuses internal_error
        _failed(request)
    finally:
        if exchange.released:
            request._finish()
            request._exchange = None


async def _until_started(exchange: Exchange) -> asyncio.Task[None] | None:
    """Start :func:`_serve` in a task of its own (which copies the context: what members
    set in contextvars before ``call_next`` is seen by the connection) and wait until the
    response started or the task ended.

    Returns:
        The task when the response started and the connection goes on; None when it ended.

    Raises:
        What ``forward()`` raised, when it ended so before the response started;
        asyncio.CancelledError: this task was cancelled (the session's task is cancelled
        too, and awaited).
    """
    loop = asyncio.get_running_loop()
    started = loop.create_future()
    session = loop.create_task(_serve(exchange))

    def wake(_: object) -> None:
        if not started.done():
            started.set_result(None)

    exchange.request.on_start(wake)
    session.add_done_callback(wake)
    try:
        await started
    except asyncio.CancelledError:
        session.cancel()
        await asyncio.wait({session})
        raise
    if session.done():
        session.result()
        return None
    session.remove_done_callback(wake)
    return session

async def answer_request(request: Request, status: int, headers: Headers,
                         body: bytes) -> None:
    """Answer ``request`` from an engine member, instead of python-engineio: ``status``,
    ``headers`` (``(name, value)`` pairs; ``request.response_headers`` are added as to every
    response) and ``body``. The member then returns without calling ``call_next`` (the
    chain ends there, answered, not refused; outer members see their ``call_next()``
    return). The ``metrics`` plugin serves its scrape page this way.

    Raises:
        RuntimeError: the response started already, or ``request`` is not an engine
            request of a server kind siomw serves (no exchange).
    """
    exchange = request._exchange
    if exchange is None or request.started or exchange.answered:
        raise RuntimeError(f"siomw: {request!r} cannot be answered: its response started "
                           f"or it is not an engine request")
    exchange.answered = True
    request.answered = True  # type: ignore[attr-defined]  # the runner's mark: not refused
    await exchange.refuse(status, headers, body)


def once_cors(headers: list[tuple[AnyStr, AnyStr]]) -> list[tuple[AnyStr, AnyStr]]:
    """Keep the first of each ``Access-Control-*`` header (``str`` or ``bytes`` pairs): the
    engine and a framework CORS member may both answer one, and browsers reject a repeated
    ``Access-Control-Allow-Origin``."""
    seen: set[AnyStr] = set()
    out: list[tuple[AnyStr, AnyStr]] = []
    for name, value in headers:
        key = name.lower()
        prefix = b"access-control-" if isinstance(key, bytes) else "access-control-"
        if key.startswith(prefix):
            if key in seen:
                continue
            seen.add(key)
        out.append((name, value))
    return out


def answered(name: str, status: int | None) -> Refusal:
    """What members outside a framework member that answered by itself see: ``data =
    {"code": "answered", "by": name}`` with the answer's status (500 when it sent none)."""
    return Refusal(f"answered by {name}", {"code": "answered", "by": name},
                   status=status or 500)


def framework_member(
    func: Any,
    name: str,
    *,
    priority: int,
    before: str | Sequence[str] | None,
    after: str | Sequence[str] | None,
    preflight: bool,
    plugin: str | None,
) -> Middleware:
    """The engine-level :class:`Middleware` spec of a framework middleware's runner (the
    adapters' ``asgi_middleware``, ``wsgi_middleware``, ``aiohttp_middleware``)."""
    return Middleware(name=name, func=func, level="engine", priority=priority,
                      before=as_names(before), after=as_names(after), plugin=plugin,
                      preflight=preflight)


#: "an ASGI" server, for messages
ARTICLED = {"asgi": "an ASGI", "aiohttp": "an aiohttp", "wsgi": "a WSGI"}


class FrameworkRunner:
    """Base of the adapters' runners of framework middlewares (one per member).

    Attributes:
        name: the member's name.
        kind: the server kind it runs on (``"asgi"``, ``"aiohttp"``, ``"wsgi"``).
        what: what it is, for messages (``"an ASGI middleware (asgi_middleware)"``).
    """

    kind = ""
    what = ""

    def __init__(self, name: str) -> None:
        self.name = name
        self.reported = False  # the wrong-kind error was logged

    def exchange(self, request: Request) -> Any:
        """The adapter's exchange of ``request``.

        Raises:
            Refusal: ``internal_error`` when the server is of another kind (a WSGI
                middleware on an ASGI server, say); the first time, one error line names
                the member.
        """
        exchange = request._exchange
        if exchange is not None and exchange.kind == self.kind:
            return exchange
        if not self.reported:
            self.reported = True
            served = ("a server without an engine seam" if exchange is None
                      else f"{ARTICLED.get(exchange.kind, exchange.kind)} server")
            log.error("siomw: engine member %r is %s, but this is %s: it cannot run here; "
                      "remove it, or use the middleware kind of this server", self.name,
                      self.what, served)
        raise internal_error()


class EngineSeam:
    """What an adapter's wrapper of ``handle_request`` holds: python-engineio's own method,
    the level and the trusted proxies (replaced when siomw is attached again).

    Attributes:
        original: python-engineio's ``handle_request`` as it was before siomw wrapped it.
        level: the :class:`EngineLevel`.
        proxies: trusted proxies for ``request.address``.
    """

    __slots__ = ("level", "original", "proxies")

    def __init__(self, original: Callable[..., Any], level: EngineLevel,
                 proxies: TrustedProxies | None) -> None:
        self.original = original
        self.level = level
        self.proxies = proxies
