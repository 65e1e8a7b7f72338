"""The logging plugin through siomw's pytest plugin, on every server kind: the JSON lines
of an accepted and a refused connection and of the engine request, in the server's output."""

from __future__ import annotations

from siomw_core.pytest_plugin import ServerFactory
from siomw_core.testing import assert_accepted, assert_refused

CONFIG = {"logging": {"format": "json", "file": "stderr"},
          "ratelimit": {"connect": "1/minute"}}


def test_lines(siomw_server: ServerFactory) -> None:
    server = siomw_server(plugins=["logging", "ratelimit"], config=CONFIG)
    assert_accepted(server.connect(auth={"token": "a-secret"}))
    assert_refused(server.connect(), code="rate_limited")
    accepted = server.wait_line(event="connect", outcome="accepted")
    assert accepted["namespace"] == "/"
    assert accepted["transport"] == "websocket"
    refused = server.wait_line(event="connect", outcome="refused")
    assert refused["code"] == "rate_limited"
    assert refused["message"] == "Too many connection attempts"
    assert server.wait_line(event="http", handshake=True)["status"] == 101
    assert "a-secret" not in server.output()
