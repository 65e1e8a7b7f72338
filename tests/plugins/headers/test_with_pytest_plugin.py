"""The headers plugin through siomw's pytest plugin, on every server kind: the engine's
responses carry the configured headers (plain HTTP: no HSTS), and a table the plugin cannot
accept stops the server with its one-line error."""

from __future__ import annotations

import pytest

from siomw_core.pytest_plugin import ServerFactory
from siomw_core.testing import assert_accepted

HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


def test_headers(siomw_server: ServerFactory) -> None:
    server = siomw_server(plugins=["headers"], config={"headers": {"x_frame_options": "DENY"}})
    seen = assert_accepted(server.request("GET", HANDSHAKE))
    assert seen.headers["x-frame-options"] == "DENY"
    assert seen.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in seen.headers  # over TLS only
    assert_accepted(server.connect())


@pytest.mark.siomw_kinds("asgi")
def test_bad_table_fails_the_start(siomw_server: ServerFactory) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"\[headers\] x_frame_options"):
        siomw_server(plugins=["headers"], config={"headers": {"x_frame_options": "ALLOW"}})
