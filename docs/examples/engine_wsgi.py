"""Engine members on a sync ``socketio.Server`` served through WSGI: Werkzeug's ``ProxyFix``
as a member, and a plain ``def`` member.

Serve ``app`` with any WSGI server python-socketio supports (gunicorn with threads,
Werkzeug, Flask-SocketIO): the engine chain runs in python-engineio itself.
"""

from __future__ import annotations

from collections.abc import Callable

import socketio
from werkzeug.middleware.proxy_fix import ProxyFix

from siomw_core import Refusal, Request, attach, wsgi_middleware

sio = socketio.Server(async_mode="threading", cors_allowed_origins="*")
mw = attach(sio, plugins=[])  # this file's middlewares only
# behind one reverse proxy: its X-Forwarded-For and X-Forwarded-Proto become the request's own
mw.add(wsgi_middleware(ProxyFix, name="proxy-fix", priority=100, x_for=1, x_proto=1))

BLOCKED = {"203.0.113.7"}


@mw.engine.use
def block_addresses(request: Request, call_next: Callable[[], None]) -> None:
    """A plain def (sync servers only): runs inside proxy-fix, so it sees the client."""
    if request.is_handshake and request.address in BLOCKED:
        raise Refusal("address blocked", {"code": "blocked"}, status=403)
    call_next()


app = socketio.WSGIApp(sio)
