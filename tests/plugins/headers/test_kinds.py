"""The headers plugin on every server kind: the same member, one code base, its headers on
the engine's responses and on refusals under ASGI (uvicorn), aiohttp (``sio.attach(app)``)
and WSGI (a threading ``socketio.Server`` under Werkzeug)."""

from __future__ import annotations

import pytest
import siomw_headers

from siomw_core import Config, CoreSettings, attach
from tests.levels.engine_kinds import Kind, curl
from tests.plugins.headers.support import POLLING, assert_defaults, guard


@pytest.mark.parametrize("kind_name", ["asgi", "aiohttp", "wsgi"])
async def test_headers_on_every_kind(kind_name: str) -> None:
    """The default security headers, once each, on a polling handshake, on a CORS preflight
    and on an inner member's refusal; no HSTS over plain HTTP."""
    kind = Kind(kind_name)
    sio = kind.server(cors=["http://app.example"])
    config = Config(source="test", core=CoreSettings(), tables={"headers": {}})
    mw = attach(sio, config=config, entry_points=False,
                local_plugins=[("headers", siomw_headers)])
    mw.engine.use(guard, priority=10, preflight=True)
    async with kind.serve(sio, mw) as url:
        ok = await curl(url + POLLING)
        preflight = await curl(url + POLLING, "-X", "OPTIONS",
                               "-H", "Origin: http://app.example",
                               "-H", "Access-Control-Request-Method: POST")
        refused = await curl(url + POLLING + "&deny=1")
    assert ok.status == 200 and preflight.status == 200
    assert refused.status == 401
    for response in (ok, preflight, refused):
        assert_defaults(response.headers)
