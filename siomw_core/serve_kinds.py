"""Which server ``siomw serve`` runs APP under: the kinds beyond ASGI, found in APP.

:func:`non_asgi` looks at what APP names and, when it is not an ASGI application, says which
server kind it is and where its Socket.IO server is:

- ``aiohttp``: an ``aiohttp.web.Application`` a ``socketio.AsyncServer`` was attached to
  (``sio.attach(app)``), or that ``AsyncServer`` itself when its ``async_mode`` is
  ``"aiohttp"`` (siomw attaches it to a new application); served by aiohttp's runner.
- ``threading`` / ``gevent``: a WSGI application wrapping a sync ``socketio.Server``
  (``socketio.WSGIApp(sio)``, found through ``.app`` / ``.wsgi_app`` of WSGI middlewares
  such as Werkzeug's ``ProxyFix``), the ``socketio.Server`` itself (served as
  ``socketio.WSGIApp(sio)``), a Flask app with Flask-SocketIO (``app.extensions["socketio"]``)
  or that ``flask_socketio.SocketIO`` object (its Flask app is served); the kind is the
  server's ``async_mode``, the one python-engineio chose (served by gunicorn: threads, or
  its gevent worker).

Every python-socketio, python-engineio and Flask-SocketIO attribute read here is public
(``eio``, ``async_mode``, ``engineio_app``, ``engineio_path``, ``server``, ``sockio_mw``,
``extensions``) except one: the ``handlers["connect"]`` python-socketio registers on its
engine.io server, the only way from an aiohttp route back to its Socket.IO server.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import engineio
import socketio

__all__ = ["WSGI_KINDS", "Kind", "KindError", "non_asgi", "route_through_chain"]

#: async_mode values served by gunicorn, and the worker each gets
WSGI_KINDS = {"threading": "gthread", "gevent": "gevent"}


class KindError(Exception):
    """APP is of a kind ``siomw serve`` cannot serve; one line. ``usage``: APP is wrong."""

    def __init__(self, message: str, *, usage: bool = True) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass
class Kind:
    """A non-ASGI APP as found.

    Attributes:
        kind: ``"aiohttp"``, ``"threading"`` or ``"gevent"``.
        app: what to serve (the ``web.Application``, or the WSGI callable).
        sio: its Socket.IO server (``socketio.AsyncServer`` or ``socketio.Server``).
        found: what APP is, where the engine answers: the startup line after ``found``.
    """

    kind: str
    app: Any
    sio: Any
    found: str
    attach: bool = False

    def finish(self) -> str:
        """Once siomw is attached to :attr:`sio`: attach the server to a new aiohttp
        application (:attr:`attach`), or route the engine chain in front of the handler an
        earlier ``sio.attach(app)`` left in the routes (:func:`route_through_chain`). What
        was done, for the startup line ("" for nothing)."""
        if self.attach:
            self.sio.attach(self.app)
        elif self.kind == "aiohttp" and route_through_chain(self.app, self.sio.eio):
            return ("; sio.attach(app) ran before siomw attached: an aiohttp middleware routes "
                    "engine requests through the engine chain")
        return ""


def _sync_kind(sio: socketio.Server, what: str) -> str:
    mode = str(sio.async_mode)
    if mode in WSGI_KINDS:
        return mode
    raise KindError(
        f"{what}: async_mode {mode!r} is not served by siomw serve (it runs 'threading' under "
        f"gunicorn's threads and 'gevent' under gunicorn's gevent worker); serve it as "
        f"{mode} documents, or choose one of those")


def _path(path: str | None) -> str:
    path = "/" + (path or "socket.io").strip("/")
    return path + "/"


def _find_wsgi(target: Any) -> Any:
    """The ``engineio.WSGIApp`` in ``target`` or in the WSGI apps it wraps, or None."""
    seen: set[int] = set()
    stack = [(target, 0)]
    while stack:
        obj, depth = stack.pop()
        if obj is None or id(obj) in seen or depth > 8:
            continue
        seen.add(id(obj))
        if isinstance(obj, engineio.WSGIApp):
            return obj
        for name in ("wsgi_app", "app"):
            stack.append((getattr(obj, name, None), depth + 1))
    return None


def _flask_socketio(target: Any) -> Any:
    """The ``flask_socketio.SocketIO`` that ``target`` is or that its Flask app holds."""
    module = sys.modules.get("flask_socketio")
    if module is not None and isinstance(target, module.SocketIO):
        return target
    extensions = getattr(target, "extensions", None)
    flask = sys.modules.get("flask")
    if flask is not None and isinstance(target, flask.Flask):
        found = extensions.get("socketio") if isinstance(extensions, dict) else None
        if found is None:
            raise KindError(f"{type(target).__name__} has no Flask-SocketIO extension "
                            f"(app.extensions has no 'socketio'): create "
                            f"flask_socketio.SocketIO(app) in the module")
        return found
    return None


def _flask(ref: str, target: Any, ext: Any) -> Kind:
    sio = ext.server
    middleware = getattr(ext, "sockio_mw", None)
    if sio is None or middleware is None:
        raise KindError(f"{ref} is a flask_socketio.SocketIO without a Flask app (init_app(app) "
                        f"was not called when the module was imported); give the Flask app "
                        f"or call socketio.init_app(app) at import")
    kind = _sync_kind(sio, ref)
    what = (f"a Flask app with Flask-SocketIO ({kind})" if ext is not target
            else f"a flask_socketio.SocketIO ({kind}): serving its Flask app")
    return Kind(kind, middleware.flask_app, sio,
                f"{ref} is {what} at {_path(middleware.engineio_path)}")


def _aiohttp_server(app: Any) -> tuple[Any, str] | None:
    """The ``socketio.AsyncServer`` attached to aiohttp application ``app``, and its path."""
    for route in app.router.routes():
        handler = route.handler
        seam = getattr(handler, "_siomw_seam", None)  # siomw's engine chain (attached first)
        if seam is not None:
            handler = seam.original  # levels.engine.EngineSeam: python-engineio's method
        eio = getattr(handler, "__self__", None)
        if isinstance(eio, engineio.AsyncServer):
            connect = eio.handlers.get("connect")
            sio = getattr(connect, "__self__", None)
            if isinstance(sio, socketio.AsyncServer):
                path = route.resource.canonical if route.resource is not None else ""
                return sio, path.rstrip("/") + "/"
    return None


def route_through_chain(app: Any, eio: Any) -> bool:
    """Make aiohttp application ``app`` send engine requests to ``eio.handle_request`` as it
    is now (siomw's engine chain, installed on the instance) when its routes still hold the
    handler ``sio.attach(app)`` registered before siomw attached. Done with an aiohttp
    middleware appended to ``app.middlewares`` (public API; the app must not be running).
    True if one was added."""
    from aiohttp import web

    current = eio.handle_request
    held = [route.handler for route in app.router.routes()
            if getattr(route.handler, "__self__", None) is eio and route.handler != current]
    if not held:
        return False
    original = held[0]

    @web.middleware
    async def siomw_engine_chain(request: web.Request, handler: Any) -> Any:
        if request.match_info.route.handler == original:
            return await eio.handle_request(request)
        return await handler(request)

    app.middlewares.append(siomw_engine_chain)
    return True


def non_asgi(ref: str, target: Any) -> Kind | None:
    """The kind of APP ``target`` (named ``ref``) when it is not ASGI (see the module); None
    for what the ASGI search should look at.

    Raises:
        KindError: APP is of a server kind siomw serve does not run (an ``async_mode`` such as
            ``eventlet``, ``sanic``, ``tornado``), a Flask app without Flask-SocketIO, an
            aiohttp application without a Socket.IO server, or a ``SocketIO`` without an app.
    """
    if isinstance(target, socketio.AsyncServer):
        mode = target.async_mode
        if mode == "asgi":
            return None
        if mode != "aiohttp":
            raise KindError(f"{ref}: async_mode {mode!r} is not served by siomw serve (it runs "
                            f"'asgi' under uvicorn and 'aiohttp' under aiohttp's runner)")
        from aiohttp import web

        # sio.attach(app) comes after siomw attached (build calls Kind.attach): the routes
        # then hold the engine chain's handler
        return Kind("aiohttp", web.Application(), target, f"{ref} is a socketio.AsyncServer "
                    f"(aiohttp): attached to a new aiohttp.web.Application at /socket.io/",
                    attach=True)
    if isinstance(target, socketio.Server):
        kind = _sync_kind(target, ref)
        return Kind(kind, socketio.WSGIApp(target), target,
                    f"{ref} is a socketio.Server ({kind}): serving socketio.WSGIApp(sio) at "
                    f"/socket.io/")
    ext = _flask_socketio(target)
    if ext is not None:
        return _flask(ref, target, ext)
    web_module = sys.modules.get("aiohttp.web")
    if web_module is not None and isinstance(target, web_module.Application):
        found = _aiohttp_server(target)
        if found is None:
            raise KindError(f"{ref} is an aiohttp.web.Application without a Socket.IO server "
                            f"(no route to a python-engineio server: call sio.attach(app))")
        return Kind("aiohttp", target, found[0],
                    f"{ref} is an aiohttp.web.Application with socketio.AsyncServer at "
                    f"{found[1]}")
    wsgi = _find_wsgi(target)
    if wsgi is not None:
        sio = wsgi.engineio_app
        if not isinstance(sio, socketio.Server):
            raise KindError(f"{ref} wraps an engineio.WSGIApp of a {type(sio).__name__}, not "
                            f"a socketio.Server")
        kind = _sync_kind(sio, ref)
        what = "a socketio.WSGIApp" if wsgi is target else \
            f"a {type(target).__name__} wrapping a socketio.WSGIApp"
        return Kind(kind, target, sio, f"{ref} is {what} ({kind}) at "
                    f"{_path(wsgi.engineio_path)}")
    return None
