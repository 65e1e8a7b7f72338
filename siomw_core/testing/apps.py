"""The default applications the ``siomw_server`` fixture serves, one per server kind, for
``siomw serve siomw_core.testing.apps:KIND`` in the server's own process.

Each accepts every namespace (its connect handler accepts) and answers every event's ack
with the event's arguments (one argument: itself; several: their list; none: no value), so
that the chains at every level have something to guard. siomw is attached with the config
``$SIOMW_CONFIG`` names and, beside the installed plugins, the in-code plugins
``$SIOMW_TESTING_LOCAL_PLUGINS`` lists (a JSON object ``{name: "module:attribute"}``).

An attribute is built when first read (module ``__getattr__``): serving one kind imports
only what that kind needs.
"""

from __future__ import annotations

import importlib
import json
import os
from typing import Any

__all__ = ["KIND_APPS", "answer", "local_plugins"]

#: the environment variable naming the in-code plugins, ``{name: "module:attribute"}``
LOCAL_PLUGINS_ENV = "SIOMW_TESTING_LOCAL_PLUGINS"

#: the attributes of this module, one per kind
KIND_APPS = ("asgi", "aiohttp", "threading", "gevent", "flask")


def answer(args: tuple[Any, ...]) -> Any:
    """The ack of an event with ``args``: the one argument, the list of several, or None."""
    if len(args) == 1:
        return args[0]
    return list(args) if args else None


def local_plugins() -> list[tuple[str, object]]:
    """The in-code plugins of ``$SIOMW_TESTING_LOCAL_PLUGINS``, imported.

    Raises:
        ValueError: the variable is not a JSON object of ``"module[:attribute]"`` strings.
    """
    raw = os.environ.get(LOCAL_PLUGINS_ENV, "")
    if not raw:
        return []
    refs = json.loads(raw)
    if not isinstance(refs, dict):
        raise ValueError(f"{LOCAL_PLUGINS_ENV}: expected a JSON object, got {raw!r}")
    found: list[tuple[str, object]] = []
    for name, ref in refs.items():
        module_name, _, attr = str(ref).partition(":")
        target: Any = importlib.import_module(module_name)
        for part in filter(None, attr.split(".")):
            target = getattr(target, part)
        found.append((str(name), target))
    return found


def _attach(sio: Any) -> Any:
    import siomw_core

    return siomw_core.attach(sio, local_plugins=local_plugins())


def _async_server(async_mode: str) -> Any:
    import socketio

    sio = socketio.AsyncServer(async_mode=async_mode, namespaces="*")

    @sio.on("connect", namespace="*")
    async def connect(namespace: str, sid: str, environ: dict[str, Any],
                      auth: Any = None) -> bool:
        return True

    @sio.on("*", namespace="*")
    async def any_event(event: str, namespace: str, sid: str, *args: Any) -> Any:
        return answer(args)

    return sio


def _sync_server(async_mode: str) -> Any:
    import socketio

    sio = socketio.Server(async_mode=async_mode, namespaces="*")

    @sio.on("connect", namespace="*")
    def connect(namespace: str, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        return True

    @sio.on("*", namespace="*")
    def any_event(event: str, namespace: str, sid: str, *args: Any) -> Any:
        return answer(args)

    return sio


def _asgi() -> Any:
    return _attach(_async_server("asgi")).asgi_app()


def _aiohttp() -> Any:
    from aiohttp import web

    sio = _async_server("aiohttp")
    _attach(sio)
    app = web.Application()
    sio.attach(app)  # after siomw's attach: requests then go through the engine chain
    return app


def _wsgi(async_mode: str) -> Any:
    import socketio

    sio = _sync_server(async_mode)
    _attach(sio)
    return socketio.WSGIApp(sio)


def _flask() -> Any:
    from flask import Flask
    from flask_socketio import SocketIO

    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="threading", namespaces="*")

    @socketio.on("connect", namespace="*")
    def connect(auth: Any = None) -> bool:
        return True

    @socketio.on("*")
    def any_event(event: str, *args: Any) -> Any:
        return answer(args)

    # Flask-SocketIO's on("*", namespace="*") swaps the event and the namespace: the other
    # namespaces' events go to python-socketio's own catch-all (no Flask context needed)
    def other_event(event: str, namespace: str, sid: str, *args: Any) -> Any:
        return answer(args)

    socketio.server.on("*", other_event, namespace="*")

    _attach(socketio)
    return app


_BUILDERS = {"asgi": _asgi, "aiohttp": _aiohttp, "threading": lambda: _wsgi("threading"),
             "gevent": lambda: _wsgi("gevent"), "flask": _flask}
_built: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    """``asgi``, ``aiohttp``, ``threading``, ``gevent``, ``flask``: that kind's app, built
    on first use."""
    if name not in _BUILDERS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _built:
        _built[name] = _BUILDERS[name]()
    return _built[name]
