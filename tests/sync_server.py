"""A real sync python-socketio server for tests: ``socketio.Server(async_mode="threading")``
behind ``socketio.WSGIApp``, served by Werkzeug's threaded WSGI server on 127.0.0.1:0
(python-engineio's threading mode serves WebSocket through simple-websocket there)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import socketio
from werkzeug.serving import make_server


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve the WSGI ``app`` on a free loopback port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(10)


@contextmanager
def running_sync(sio: socketio.Server, **wsgi: Any) -> Iterator[str]:
    """Serve ``sio`` through ``socketio.WSGIApp(sio, **wsgi)``; yields its base URL."""
    with serving(socketio.WSGIApp(sio, **wsgi)) as url:
        yield url
