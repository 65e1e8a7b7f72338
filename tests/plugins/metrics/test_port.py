"""The page on a port of its own (``[metrics] port``): every server kind, aiohttp included
(whose engine path siomw cannot serve a page below), started with the stack and scraped
over real HTTP."""

from __future__ import annotations

import re

from siomw_core.pytest_plugin import ServerFactory
from siomw_core.testing import assert_accepted, assert_refused
from siomw_core.testing.servers import Server

from . import gate
from .support import PATH, Scrape, fetch, until

SERVED = re.compile(r"siomw: metrics served at (http://\S+)")


def page_url(server: Server) -> str:
    """The URL the plugin logged when it listened (port 0: a free one)."""
    found = until(lambda: SERVED.search(server.output()))
    return str(found.group(1))


def test_port_on_every_kind(siomw_server: ServerFactory) -> None:
    server = siomw_server(plugins=["metrics", ("gate", gate)],
                          config={"metrics": {"port": 0, "path": ""}})
    assert_accepted(server.connect(auth={"user": "alice"}))  # the stack has started by now
    assert_refused(server.connect(auth={"user": "mallory"}), code="banned")
    url = page_url(server)
    assert url.startswith("http://127.0.0.1:")
    status, headers, body = fetch(url)
    assert status == 200 and headers["content-type"].startswith("text/plain; version=")
    seen = Scrape(body)
    assert seen.value("siomw_attempts_total", level="connect", outcome="accepted") == 1
    assert seen.value("siomw_attempts_total", level="connect", outcome="refused",
                      code="banned") == 1
    # path = "": nothing on the engine's own server
    assert "siomw_attempts_total" not in server.request("GET", PATH).body


def test_default_path_on_aiohttp_says_it_cannot(siomw_server: ServerFactory) -> None:
    server = siomw_server(plugins=["metrics"])
    if server.kind != "aiohttp":
        assert server.request("GET", PATH).status == 200
        return
    until(lambda: "cannot be served on an aiohttp server" in server.output())
    assert "set [metrics] port" in server.output()
    assert_accepted(server.connect())  # it serves on
