"""Engine requests are counted with no other engine member: ``[metrics] path = ""`` with
``port`` leaves the engine chain empty (startup says ``engine chain: (empty)``), and the
adapters hand a request of an empty chain straight to python-engineio only when nothing
observes it."""

from __future__ import annotations

from siomw_core.pytest_plugin import ServerFactory
from siomw_core.testing import assert_accepted

from .support import Scrape, fetch, until
from .test_port import page_url


def test_engine_requests_counted_with_an_empty_engine_chain(
        siomw_server: ServerFactory) -> None:
    server = siomw_server(plugins=["metrics"], config={"metrics": {"path": "", "port": 0}})
    assert_accepted(server.connect())  # engine requests: a handshake, a WebSocket
    url = page_url(server)

    def engine_counted() -> bool:
        status, _, body = fetch(url)
        assert status == 200
        # a WebSocket's run is counted when it ends (the client has left, the server may
        # not have seen it yet)
        return Scrape(body).value("siomw_attempts_total", level="engine",
                                  outcome="accepted") >= 1

    until(engine_counted)
