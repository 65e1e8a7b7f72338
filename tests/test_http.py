"""The engine level's Request (siomw_core/http.py) on its own: views from a WSGI environ,
the response hooks, a framework member's reload, and finding the request again from
python-engineio's environ of each kind. The same views on real servers of every kind are
tested in tests/levels/test_engine.py."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from siomw_core import Handshake, Request, client_address
from siomw_core.adapters.asgi_http import scope_request
from siomw_core.http import REQUEST_KEY, environ_request, request_of_environ
from siomw_core.proxies import TrustedProxies

ENVIRON = {
    "REQUEST_METHOD": "GET", "PATH_INFO": "/socket.io/", "QUERY_STRING": "EIO=4&sid=abc",
    "REMOTE_ADDR": "10.0.0.5", "wsgi.url_scheme": "https", "HTTP_COOKIE": "a=1; b=2",
    "HTTP_X_FORWARDED_FOR": "203.0.113.9", "HTTP_UPGRADE": "websocket",
    "CONTENT_TYPE": "text/plain",
}


def test_views_of_a_wsgi_environ() -> None:
    """A WSGI environ's request: headers lower-case (CONTENT_TYPE too), query, cookies, the
    peer from REMOTE_ADDR, the forwarded client only from a trusted proxy, https."""
    request = environ_request(ENVIRON, TrustedProxies(["10.0.0.0/8"]))
    assert (request.method, request.path, request.url) == (
        "GET", "/socket.io/", "/socket.io/?EIO=4&sid=abc")
    assert request.headers["content-type"] == "text/plain"
    assert request.cookies == {"a": "1", "b": "2"}
    assert (request.peer, request.address, request.secure) == ("10.0.0.5", "203.0.113.9", True)
    assert (request.sid, request.is_handshake, request.is_upgrade) == ("abc", False, True)
    assert environ_request(ENVIRON).address == "10.0.0.5"  # no trusted proxies


def test_hooks_run_once_in_order_and_never_raise(caplog: pytest.LogCaptureFixture) -> None:
    """on_start hooks run at the first _respond only; one added later runs at once;
    on_end hooks run once at _finish; a raising hook is logged and the others still run."""
    request = environ_request(ENVIRON)
    calls: list[tuple[str, int | None]] = []

    def boom(r: Request) -> None:
        raise RuntimeError("hook failed")

    request.on_start(lambda r: calls.append(("start", r.status)))
    request.on_start(boom)
    request.on_end(lambda r: calls.append(("end", r.bytes_sent)))
    assert not request.started
    with caplog.at_level(logging.ERROR, logger="siomw"):
        request._respond(200)
        request._respond(500)  # ignored: the response started already
    request.on_start(lambda r: calls.append(("late start", r.status)))
    request._sent(5)
    request._finish()
    request._finish()
    request.on_end(lambda r: calls.append(("late end", r.bytes_sent)))
    assert calls == [("start", 200), ("late start", 200), ("end", 5), ("late end", 5)]
    assert request.status == 200 and request.started
    assert "a response hook" in caplog.text


def test_reload_takes_the_changed_request() -> None:
    """_reload (a framework member passed on a changed request) recomputes cached views and
    keeps state and response headers."""
    request = environ_request(ENVIRON)
    request.state["k"] = 1
    request.response_headers.append(("X-A", "1"))
    assert request.address == "10.0.0.5"
    changed = {**ENVIRON, "REMOTE_ADDR": "198.51.100.7", "wsgi.url_scheme": "http"}
    request._reload(environ_request(changed))
    assert (request.address, request.scheme) == ("198.51.100.7", "http")
    assert request.state == {"k": 1} and request.response_headers == [("X-A", "1")]


def test_found_again_from_each_kinds_environ() -> None:
    """The Request the chain saw is found from python-engineio's environ (WSGI: the environ;
    ASGI: its asgi.scope); without one it is read from the environ, with the real peer
    (python-engineio writes REMOTE_ADDR 127.0.0.1 under ASGI)."""
    wsgi: dict[str, Any] = dict(ENVIRON)
    seen = environ_request(wsgi)
    wsgi[REQUEST_KEY] = seen
    assert request_of_environ(wsgi) is seen
    assert Handshake(wsgi, {}).request is seen

    scope: dict[str, Any] = {"type": "http", "path": "/socket.io/", "query_string": b"EIO=4",
             "headers": [(b"cookie", b"a=1"), (b"cookie", b"b=2")], "client": ("192.0.2.4", 1)}
    asgi_environ = {"asgi.scope": scope, "REMOTE_ADDR": "127.0.0.1", "QUERY_STRING": "EIO=4"}
    fresh = request_of_environ(asgi_environ)
    assert (fresh.peer, fresh.cookies) == ("192.0.2.4", {"a": "1", "b": "2"})
    assert client_address(asgi_environ) == "192.0.2.4"
    chained = scope_request(scope)
    scope[REQUEST_KEY] = chained
    assert Handshake(asgi_environ, {}).request is chained
