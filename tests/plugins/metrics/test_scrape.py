"""The metrics plugin end to end: real servers of each kind (``siomw serve``, the pytest
plugin), real python-socketio clients, known traffic, then a scrape over real HTTP parsed
with prometheus_client's own parser: attempts by level, namespace, outcome and refusal code,
the chain and member histograms, the connected-sockets gauge."""

from __future__ import annotations

from pathlib import Path

import pytest

from siomw_core.pytest_plugin import ServerFactory
from siomw_core.testing import assert_accepted, assert_refused
from siomw_core.testing.js import JsClient
from siomw_core.testing.servers import Server, ServerError, start

from . import gate
from .support import PATH, Scrape, until

#: the kinds whose engine path siomw sees below ``/socket.io/`` (aiohttp routes only the
#: engine path itself: its page is on a port, test_port.py)
PATH_KINDS = ("asgi", "threading", "gevent", "flask")


def scrape(server: Server) -> Scrape:
    """GET the page on the engine's own server; it must answer 200 with the text format."""
    page = server.request("GET", PATH)
    assert page.status == 200, page.describe()
    assert page.headers["content-type"].startswith("text/plain; version=")
    return Scrape(page.body)


@pytest.mark.siomw_kinds(*PATH_KINDS)
def test_counts_after_known_traffic(siomw_server: ServerFactory) -> None:
    server = siomw_server(plugins=["metrics", ("gate", gate)])
    with server.client(auth={"user": "alice"}) as alice:
        assert_accepted(alice.call("echo", 1))
        assert_accepted(alice.call("echo", 2))
        assert_refused(alice.call("forbidden"), code="nope")
        assert_refused(server.connect(auth={"user": "mallory"}), code="banned")
        assert_accepted(server.connect(auth={"user": "bob"}))
        seen = scrape(server)
        # alice is still connected; bob came and went (his end may not be counted yet)
        assert seen.value("siomw_connected_sockets", namespace="/") in (1, 2)

    attempts = "siomw_attempts_total"
    assert seen.value(attempts, level="connect", namespace="/", outcome="accepted",
                      code="") == 2
    assert seen.value(attempts, level="connect", namespace="/", outcome="refused",
                      code="banned") == 1
    assert seen.value(attempts, level="event", namespace="/", outcome="accepted", code="") == 2
    assert seen.value(attempts, level="event", namespace="/", outcome="refused",
                      code="nope") == 1
    # engine requests passed, none refused; a WebSocket's run lasts as long as its
    # connection: mallory's and bob's have ended (one at least is counted by now), alice's not
    assert seen.value(attempts, level="engine", namespace="", outcome="accepted") >= 1
    assert seen.value(attempts, level="engine", outcome="refused") == 0

    chains = "siomw_chain_duration_seconds"
    assert seen.value(f"{chains}_count", level="connect", outcome="accepted") == 2
    assert seen.value(f"{chains}_count", level="connect", outcome="refused") == 1
    assert seen.value(f"{chains}_sum", level="connect") > 0
    inf = seen.matching(f"{chains}_bucket", level="connect", outcome="accepted", le="+Inf")
    assert [s.value for s in inf] == [2]

    members = "siomw_member_duration_seconds"
    assert seen.value(f"{members}_count", level="connect", member="gate", namespace="/",
                      outcome="accepted") == 2
    assert seen.value(f"{members}_count", level="connect", member="gate",
                      outcome="refused") == 1
    assert seen.value(f"{members}_count", level="event", member="gate-events",
                      outcome="accepted") == 2
    assert seen.value(f"{members}_count", level="event", member="gate-events",
                      outcome="refused") == 1
    # the page's own member saw the scrape and answered it (it is in the next scrape)
    again = scrape(server)
    assert again.value(f"{members}_count", level="engine", member="metrics",
                       outcome="answered") >= 1
    assert again.value(attempts, level="engine", outcome="answered") >= 1

    # both gone: the gauge comes back to 0
    until(lambda: scrape(server).value("siomw_connected_sockets", namespace="/") == 0)


@pytest.mark.siomw_kinds(*PATH_KINDS)
def test_not_served_beyond_loopback_or_through_an_untrusted_proxy(
        siomw_server: ServerFactory) -> None:
    """Refused by the page's member (403 forbidden), never handed to python-engineio, which
    would answer 400 and log an ERROR "unsupported version" line per scrape."""
    proxied = siomw_server(plugins=["metrics"])
    # a reverse proxy on this host that siomw does not trust: the real client is unknown
    page = proxied.request("GET", PATH, headers={"X-Forwarded-For": "203.0.113.9"})
    assert "siomw_attempts_total" not in page.body
    assert_refused(page, code="forbidden", status=403)
    seen = scrape(proxied)
    assert seen.value("siomw_attempts_total", level="engine", outcome="refused",
                      code="forbidden") == 1
    assert "unsupported version" not in proxied.output()
    assert "engineio" not in proxied.output(), proxied.output()

    elsewhere = siomw_server(plugins=["metrics"],
                             config={"metrics": {"allow": ["10.0.0.0/8"]}})
    page = elsewhere.request("GET", PATH)
    assert "siomw_attempts_total" not in page.body
    assert_refused(page, code="forbidden", status=403)
    posted = elsewhere.request("POST", PATH)
    assert_refused(posted, code="method_not_allowed", status=405)
    assert posted.headers["allow"] == "GET"
    assert "unsupported version" not in elsewhere.output(), elsewhere.output()

    trusted = siomw_server(plugins=["metrics"],
                           config={"trusted_proxies": ["127.0.0.1"],
                                   "metrics": {"allow": ["203.0.113.0/24"]}})
    page = trusted.request("GET", PATH, headers={"X-Forwarded-For": "203.0.113.9"})
    assert page.status == 200 and "siomw_attempts_total" in page.body


@pytest.mark.siomw_kinds("asgi", "threading")
def test_options_reach_the_page(siomw_server: ServerFactory) -> None:
    server = siomw_server(plugins=["metrics", ("gate", gate)],
                          config={"metrics": {"path": "/socket.io/_m", "prefix": "chat",
                                              "members": False, "buckets": [0.5, 5]}})
    assert_accepted(server.connect(auth={"user": "alice"}))
    page = server.request("GET", "/socket.io/_m")
    assert page.status == 200
    seen = Scrape(page.body)
    assert seen.value("chat_attempts_total", level="connect", outcome="accepted") == 1
    assert seen.matching("chat_member_duration_seconds_count") == []
    bounds = {s.labels["le"] for s in seen.matching("chat_chain_duration_seconds_bucket")}
    assert bounds == {"0.5", "5.0", "+Inf"}
    # the default path is not the page here: python-engineio's (400, a bad engine request)
    assert server.request("GET", PATH).status == 400


def test_a_misspelt_key_stops_the_start(siomw_kind: str, tmp_path: Path) -> None:
    """One line naming the file, the table and the key (the factory would fail the test:
    the server is started directly)."""
    with pytest.raises(ServerError) as raised:
        server = start(siomw_kind, tmp_path, plugins=["metrics"],
                       config={"metrics": {"prot": 9464}})
        server.stop()
    assert "siomw.toml: [metrics] prot: unknown key" in str(raised.value)


@pytest.mark.siomw_kinds("asgi", "threading")
def test_the_js_client_is_counted_too(siomw_server: ServerFactory, js_client: JsClient) -> None:
    """socket.io-client (polling, then the upgrade): its refusal and its event by code, and
    the engine requests of its polling transport."""
    server = siomw_server(plugins=["metrics", ("gate", gate)])
    assert_refused(js_client.connect(server.url, auth={"user": "mallory"}), code="banned")
    assert_refused(js_client.call(server.url, "forbidden", auth={"user": "alice"}), code="nope")
    seen = scrape(server)
    attempts = "siomw_attempts_total"
    assert seen.value(attempts, level="connect", outcome="refused", code="banned") == 1
    assert seen.value(attempts, level="connect", outcome="accepted") == 1
    assert seen.value(attempts, level="event", outcome="refused", code="nope") == 1
    # the polling handshakes and the polls of two clients, each a run of the engine chain
    assert seen.value(attempts, level="engine", outcome="accepted") >= 2
