"""One application served by several processes in the shared-limits tests: the ratelimit
plugin configured by ``$SIOMW_CONFIG`` (a ``siomw.toml`` the test writes), every namespace
accepted, an ``echo`` event whose ack returns its arguments.

- ``app``: ``mw.asgi_app()`` of a ``socketio.AsyncServer`` (``uvicorn ...:app``; its
  lifespan runs the plugins' startup and shutdown);
- ``wsgi_app``: ``socketio.WSGIApp`` of a sync ``socketio.Server`` in threading mode
  (``gunicorn -k gthread ...:wsgi_app``; started at its first engine request), built only
  when ``$SHARED_KIND`` is ``sync``.
"""

from __future__ import annotations

import os
from typing import Any

import socketio

import siomw_core


def _handlers(sio: Any) -> None:
    @sio.on("connect", namespace="*")
    def connect(namespace: str, sid: str, environ: dict[str, Any], auth: Any) -> None:
        return None

    @sio.on("echo", namespace="*")
    def echo(namespace: str, sid: str, *args: Any) -> list[Any]:
        return list(args)


if os.environ.get("SHARED_KIND", "async") == "sync":
    sio: Any = socketio.Server(async_mode="threading", namespaces="*")
    _handlers(sio)
    mw = siomw_core.attach(sio)
    wsgi_app = socketio.WSGIApp(sio)
else:
    sio = socketio.AsyncServer(async_mode="asgi", namespaces="*")
    _handlers(sio)
    mw = siomw_core.attach(sio)
    app = mw.asgi_app()
