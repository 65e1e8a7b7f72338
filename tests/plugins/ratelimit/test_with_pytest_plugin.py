"""The ratelimit plugin through siomw's pytest plugin, on every server kind: each budget's
refusal as its client sees it (CONNECT_ERROR, the ack, HTTP 429 with ``Retry-After``)."""

from __future__ import annotations

from siomw_core.pytest_plugin import ServerFactory
from siomw_core.testing import assert_accepted, assert_refused


def test_connect_and_event_budgets(siomw_server: ServerFactory) -> None:
    server = siomw_server(plugins=["ratelimit"], config={
        "ratelimit": {"connect": "2/minute", "events": {"chat": "1/minute"}}})
    with server.client() as client:  # the first connect
        assert_accepted(client.call("chat", "hi"))
        refused = assert_refused(client.call("chat", "again"), code="rate_limited")
        assert refused.data["retry_after"] > 0
        assert client.call("other", 1) == 1  # only "chat" has a budget
    assert_accepted(server.connect())
    refused = assert_refused(server.connect(), code="rate_limited",
                             message="Too many connection attempts")
    assert refused.data["limit"] == "2 per 1 minute"


def test_http_budget(siomw_server: ServerFactory) -> None:
    server = siomw_server(plugins=["ratelimit"], config={"ratelimit": {"http": "1/minute"}})
    handshake = "/socket.io/?EIO=4&transport=polling"
    assert_accepted(server.request("GET", handshake))
    refused = assert_refused(server.request("GET", handshake), code="rate_limited", status=429)
    assert int(refused.headers["retry-after"]) > 0
    assert_refused(server.connect(transport="polling"), code="rate_limited", status=429)
