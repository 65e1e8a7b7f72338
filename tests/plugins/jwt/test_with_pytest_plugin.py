"""The jwt plugin through siomw's pytest plugin, on every server kind and with the JS
client: RFC 6750 codes in CONNECT_ERROR, a valid token accepted. The servers are shared by
the module's tests (the plugin keeps no state between connections)."""

from __future__ import annotations

import time

import jwt
import pytest

from siomw_core.pytest_plugin import ServerFactory
from siomw_core.testing import assert_accepted, assert_refused
from siomw_core.testing.js import JsClient
from siomw_core.testing.servers import Server

SECRET = "a-secret-of-the-pytest-plugin-tests-0123456789abcdef"
CONFIG = {"jwt": {"algorithms": ["HS256"], "secret_env": "SIOMW_JWT_SECRET",
                  "require": ["exp", "sub"]}}


def token(sub: str = "alice", *, exp: float = 300, key: str = SECRET) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time() + exp)}, key, algorithm="HS256")


@pytest.fixture
def server(siomw_server: ServerFactory) -> Server:
    return siomw_server(plugins=["jwt"], config=CONFIG, env={"SIOMW_JWT_SECRET": SECRET},
                        shared=True)


def test_refusals(server: Server) -> None:
    assert_refused(server.connect(), code="invalid_request", message="Authentication required")
    assert_refused(server.connect(auth={"token": token(exp=-60)}), code="invalid_token")
    assert_refused(server.connect(auth={"token": token(key="x" * 40)}), code="invalid_token")
    assert_refused(server.connect(auth={"token": 42}), code="invalid_request")


def test_valid_token(server: Server) -> None:
    assert_accepted(server.connect(auth={"token": token()}))
    assert_accepted(server.connect(headers={"Authorization": f"Bearer {token()}"}))
    with server.client(auth={"token": token()}, namespace="/chat") as client:
        assert client.call("echo", {"n": 1}) == {"n": 1}


def test_js_client(server: Server, js_client: JsClient) -> None:
    assert_refused(js_client.connect(server.url), code="invalid_request")
    assert_accepted(js_client.connect(server.url, auth={"token": token()}))
