"""A real sync python-socketio server for tests: ``socketio.Server(async_mode="threading")``
behind ``socketio.WSGIApp``, served by Werkzeug's threaded WSGI server on 127.0.0.1:0
(python-engineio's threading mode serves WebSocket through simple-websocket there)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import socketio
from werkzeug.serving import WSGIRequestHandler, make_server


class _Handler(WSGIRequestHandler):
    """Werkzeug's handler, closing the connection after a WebSocket: python-engineio has
    spoken the WebSocket protocol on it, so what follows (the client's close frame) is not
    an HTTP request; Werkzeug would read it as one, log a 400 and leave the client waiting
    for the close frame's answer."""

    def run_wsgi(self) -> None:
        super().run_wsgi()
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self.close_connection = True


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve the WSGI ``app`` on a free loopback port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Handler)
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
