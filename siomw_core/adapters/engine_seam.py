"""Where the engine chain is installed: python-engineio's ``handle_request``, per server kind.

:func:`install_engine` wraps ``sio.eio.handle_request`` on the instance with the adapter of
the engine's ``async_mode``: ``asgi`` (:mod:`.asgi_http`), ``aiohttp`` (:mod:`.aiohttp_http`),
and the sync modes ``threading``, ``gevent``, ``gevent_uwsgi``, ``eventlet``
(:mod:`.wsgi_http`). Every way of serving ends there (python-socketio 5.18 /
python-engineio 4.15: ``socketio.ASGIApp`` and ``socketio.WSGIApp`` call
``sio.handle_request``, which calls ``sio.eio.handle_request``; ``sio.attach(app)`` routes
aiohttp to it), so the chain runs however the app is served. Other modes (sanic, tornado)
have no adapter: one warning says the engine chain does not run there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from ..http import Request
from ..levels.engine import EngineLevel, EngineSeam
from ..middleware import Middleware
from ..proxies import TrustedProxies

__all__ = ["SYNC_MODES", "cors_headers", "install_engine", "kind_of"]

log = logging.getLogger("siomw")

#: python-engineio's async modes served through WSGI
SYNC_MODES = frozenset({"threading", "gevent", "gevent_uwsgi", "eventlet"})


def kind_of(async_mode: str) -> str | None:
    """The HTTP kind of a python-engineio ``async_mode``: ``"asgi"``, ``"aiohttp"``,
    ``"wsgi"``, or None for a mode siomw has no adapter for."""
    if async_mode in ("asgi", "aiohttp"):
        return async_mode
    if async_mode in SYNC_MODES:
        return "wsgi"
    return None


def cors_headers(eio: Any, request: Request) -> list[tuple[str, str]]:
    """The CORS headers python-engineio would add to its own response to ``request``."""
    headers = request.headers
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "wsgi.url_scheme": request.scheme,
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


def install_engine(
    sio: Any,
    chain_for: Callable[[bool], Sequence[Middleware]],
    proxies: TrustedProxies | None = None,
) -> EngineLevel | None:
    """Run the engine chain in ``sio.eio.handle_request`` from now on.

    Idempotent: attaching again keeps one wrapper and uses the latest ``chain_for`` and
    ``proxies``.

    Args:
        sio: the python-socketio server (``AsyncServer`` or ``Server``).
        chain_for: returns the composed engine chain (True: for a CORS preflight).
        proxies: trusted proxies for ``request.address``.

    Returns:
        The :class:`EngineLevel`, or None when the server's ``async_mode`` has no adapter.
    """
    eio = sio.eio
    kind = kind_of(eio.async_mode)
    current = eio.handle_request
    seam: EngineSeam | None = getattr(current, "_siomw_seam", None)
    if kind is None:
        _unsupported(eio, chain_for)
        return None
    level = EngineLevel(chain_for, lambda request: cors_headers(eio, request), kind)
    if seam is not None:
        seam.level, seam.proxies = level, proxies
        return level
    seam = EngineSeam(current, level, proxies)
    if kind == "asgi":
        from . import asgi_http
        handler: Any = asgi_http.seam(seam)
    elif kind == "aiohttp":
        from . import aiohttp_http
        aiohttp_http.install(eio, seam)
        handler = aiohttp_http.seam(seam)
    else:
        from . import wsgi_http
        wsgi_http.install(eio, seam)
        handler = wsgi_http.seam(seam)
    handler._siomw_seam = seam
    eio.handle_request = handler
    return level


def _unsupported(eio: Any, chain_for: Callable[[bool], Sequence[Middleware]]) -> None:
    """Warn once, at the first engine request, when engine members exist on a mode siomw
    cannot run them on."""
    original = eio.handle_request
    if getattr(original, "_siomw_unsupported", False):
        return
    warned = False

    async def handle_request(*args: Any, **kwargs: Any) -> Any:
        nonlocal warned
        if not warned and chain_for(False):
            warned = True
            log.warning("siomw: async_mode %r has no engine adapter: the engine chain (%s) "
                        "does not run; serve with asgi, aiohttp or a WSGI mode",
                        eio.async_mode, ", ".join(m.name for m in chain_for(False)))
        return await original(*args, **kwargs)

    handle_request._siomw_unsupported = True  # type: ignore[attr-defined]
    eio.handle_request = handle_request
