"""The one Cookie header parser (siomw_core.cookies), and both levels using it on a real server."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import socketio

from siomw_core import CallNext, Config, CoreSettings, Request, Socket, attach, parse_cookies
from siomw_core.testing import close_client, connect_result, serve

MALFORMED = 'a=1; b c=2; tok=3; lone; ="q\\054r"; theme = dark ;;'


@pytest.mark.parametrize(
    ("header", "cookies"),
    [
        # SimpleCookie gives up on the whole header at "b c": every pair is kept here
        ("a=1; b c=2; tok=3", {"a": "1", "b c": "2", "tok": "3"}),
        (MALFORMED, {"a": "1", "b c": "2", "tok": "3", "theme": "dark"}),
        # a cookie must have a name (RFC 6265 §5.2 steps 1, 5): "=x" and "c" are skipped
        ("a=1;;  =x; c", {"a": "1"}),
        ("=x; tok=3", {"tok": "3"}),
        ('sess="a\\"b\\\\c"', {"sess": 'a"b\\c'}),  # SimpleCookie's own escapes
        ('v="a\\054b"', {"v": "a,b"}),
        ('v="unclosed', {"v": '"unclosed'}),
        ("tok=first; tok=second", {"tok": "first"}),  # RFC 6265 §5.4: most specific first
        ("x=a=b==", {"x": "a=b=="}),  # base64 padding: split at the first "="
        ("x=%41", {"x": "%41"}),  # no percent-decoding
        ("", {}),
        (";;  ; ", {}),
    ],
)
def test_parse_cookies(header: str, cookies: dict[str, str]) -> None:
    """Each pair on its own, as browsers and Starlette read a Cookie header."""
    assert parse_cookies(header) == cookies


def test_parse_cookies_of_none() -> None:
    """No header: no cookies."""
    assert parse_cookies(None) == {}


async def test_both_levels_see_every_cookie_of_a_malformed_header() -> None:
    """A real server: ``request.cookies`` (engine level) and ``socket.handshake.cookies``
    (connect level) keep every well-formed pair of a header with malformed ones, over
    polling and WebSocket."""
    sio = socketio.AsyncServer(async_mode="asgi")
    mw = attach(sio, config=Config(source="test", core=CoreSettings()), entry_points=False)
    seen: list[tuple[str, dict[str, Any]]] = []

    @mw.engine.use
    async def engine_cookies(request: Request, call_next: CallNext) -> None:
        if request.is_handshake:
            seen.append(("engine", request.cookies))
        await call_next()

    @mw.use
    async def connect_cookies(socket: Socket, call_next: CallNext) -> None:
        seen.append(("connect", socket.handshake.cookies))
        await call_next()

    expected = {"a": "1", "b c": "2", "tok": "3", "theme": "dark"}
    async with serve(mw.asgi_app()) as url:
        outcome, _, client = await connect_result(url, headers={"Cookie": MALFORMED},
                                                  transports=["polling"])
        assert outcome == "connect"
        await close_client(client)
        # python-socketio's client re-parses cookies with SimpleCookie for WebSocket (and
        # drops this header): speak Engine.IO/Socket.IO v4 over aiohttp's WebSocket instead
        ws_url = url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
        async with aiohttp.ClientSession() as session, session.ws_connect(
            ws_url, headers={"Cookie": MALFORMED}) as ws:
            assert (await ws.receive_str()).startswith("0{")  # Engine.IO open
            await ws.send_str("40")  # Socket.IO CONNECT to "/"
            assert (await ws.receive_str()).startswith("40{")  # accepted
    assert seen == [("engine", expected), ("connect", expected)] * 2
