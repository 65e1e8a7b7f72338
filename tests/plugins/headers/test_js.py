"""The reference JS client (socket.io-client 4.8) still connects from another origin, over
polling and over WebSocket, with the default headers (CORP same-origin included)."""

from __future__ import annotations

import pytest

from siomw_core import CallNext, Request
from siomw_core.testing import close_client, connect_result, serve
from tests.conftest import requires_js
from tests.jsclient import js_outcome

from .support import OTHER_ORIGIN, make_server


@requires_js
@pytest.mark.parametrize("transports", [["polling"], ["websocket"], ["polling", "websocket"]])
async def test_js_client_connects_cross_origin(transports: list[str]) -> None:
    """socket.io-client sending Origin: http://app.example connects; every engine request
    it made carried that origin and got the headers."""
    _, mw = make_server()
    seen: list[tuple[str | None, str | None]] = []

    @mw.engine.use(priority=5)
    async def record(request: Request, call_next: CallNext) -> None:
        await call_next()
        names = {n.lower() for n, _ in request.response_headers}
        seen.append((request.headers.get("origin"),
                     "cross-origin-resource-policy" if "cross-origin-resource-policy" in names
                     else None))

    async with serve(mw.asgi_app()) as url:
        obs = await js_outcome(url, transports=transports,
                               extraHeaders={"Origin": OTHER_ORIGIN})
    assert obs["event"] == "connect", obs
    assert seen and all(s == (OTHER_ORIGIN, "cross-origin-resource-policy") for s in seen)


@requires_js
@pytest.mark.parametrize(("transports", "message"), [
    (["polling"], "xhr poll error"), (["websocket"], "websocket error")])
async def test_js_client_sees_refusal_status(transports: list[str], message: str) -> None:
    """An inner refusal still reaches the JS client as its usual engine error."""
    _, mw = make_server()
    async with serve(mw.asgi_app()) as url:
        obs = await js_outcome(url, transports=transports, query={"deny": "1"},
                               extraHeaders={"Origin": OTHER_ORIGIN})
    assert obs["event"] == "connect_error" and obs["message"] == message
    if transports == ["polling"]:
        assert obs["description"] == 401


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
async def test_python_client_connects_cross_origin(transports: list[str]) -> None:
    """python-socketio's AsyncClient connects with the defaults, from another origin."""
    _, mw = make_server()
    async with serve(mw.asgi_app()) as url:
        outcome, _, client = await connect_result(url, transports=transports,
                                                  headers={"Origin": OTHER_ORIGIN})
        assert outcome == "connect"
        await close_client(client)
