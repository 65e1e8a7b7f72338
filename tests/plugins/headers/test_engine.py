"""The default headers on every engine response: handshake, polling, preflight, WebSocket,
refusals of inner members; nothing of the engine's own is removed or overridden."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import siomw_headers
import socketio

from siomw_core import Config, CoreSettings, attach
from siomw_core.testing import connect_result, serve

from .support import (
    DEFAULTS,
    OTHER_ORIGIN,
    POLLING,
    assert_defaults,
    make_server,
    raw_request,
    security_headers,
    upgrade_head,
)


def pairs(resp: aiohttp.ClientResponse) -> list[tuple[str, str]]:
    """Every response header, in order, duplicates kept."""
    return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in resp.raw_headers]


async def handshake(http: aiohttp.ClientSession, url: str) -> tuple[str, list[tuple[str, str]]]:
    async with http.get(url + POLLING, headers={"Origin": OTHER_ORIGIN}) as resp:
        assert resp.status == 200
        body = await resp.text()
        return json.loads(body[1:])["sid"], pairs(resp)


async def test_handshake_has_defaults() -> None:
    """The polling handshake response carries every default header once, and no HSTS."""
    _, mw = make_server()
    async with serve(mw.asgi_app()) as url, aiohttp.ClientSession() as http:
        _, got = await handshake(http, url)
    assert_defaults(got)


async def test_polling_get_and_post_have_defaults() -> None:
    """A polling POST (the CONNECT packet) and the next polling GET carry the defaults."""
    _, mw = make_server()
    async with serve(mw.asgi_app()) as url, aiohttp.ClientSession() as http:
        sid, _ = await handshake(http, url)
        async with http.post(f"{url}{POLLING}&sid={sid}", data=b"40",
                             headers={"Origin": OTHER_ORIGIN}) as resp:
            assert resp.status == 200 and await resp.text() == "OK"
            assert_defaults(pairs(resp))
        async with http.get(f"{url}{POLLING}&sid={sid}",
                            headers={"Origin": OTHER_ORIGIN}) as resp:
            assert resp.status == 200 and (await resp.text()).startswith("40")
            assert_defaults(pairs(resp))


async def test_preflight_has_defaults_and_cors() -> None:
    """A CORS preflight (OPTIONS) answer carries the defaults beside the engine's CORS."""
    _, mw = make_server()
    async with serve(mw.asgi_app()) as url, aiohttp.ClientSession() as http:
        async with http.options(url + POLLING, headers={
            "Origin": OTHER_ORIGIN, "Access-Control-Request-Method": "POST",
        }) as resp:
            assert resp.status == 200
            got = pairs(resp)
    assert_defaults(got)
    assert resp.headers["Access-Control-Allow-Origin"] == OTHER_ORIGIN
    assert resp.headers["Access-Control-Allow-Methods"] == "OPTIONS, GET, POST"


async def test_inner_refusal_has_defaults() -> None:
    """A 401 refusal from an inner engine member carries the defaults, its own header, CORS
    and its JSON body."""
    _, mw = make_server()
    async with serve(mw.asgi_app()) as url, aiohttp.ClientSession() as http:
        async with http.get(url + POLLING + "&deny=1", headers={"Origin": OTHER_ORIGIN}) as resp:
            assert resp.status == 401
            body = await resp.json()
            got = pairs(resp)
    assert body == {"message": "go away", "data": {"code": "denied"}}
    assert_defaults(got)
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="test"'
    assert resp.headers["Access-Control-Allow-Origin"] == OTHER_ORIGIN
    assert resp.headers.getall("Content-Type") == ["application/json"]


async def test_inner_refusal_of_preflight_has_defaults() -> None:
    """A preflight refused by an inner member (preflight=True) still carries the defaults."""
    _, mw = make_server()
    async with serve(mw.asgi_app()) as url, aiohttp.ClientSession() as http:
        async with http.options(url + POLLING + "&deny=preflight", headers={
            "Origin": OTHER_ORIGIN, "Access-Control-Request-Method": "GET",
        }) as resp:
            assert resp.status == 401
            assert_defaults(pairs(resp))


async def test_python_client_sees_refusal_body() -> None:
    """python-socketio's client over polling still gets the refusal's JSON as connect_error
    data: the headers do not disturb the body."""
    _, mw = make_server()
    async with serve(mw.asgi_app()) as url:
        outcome, data, _ = await connect_result(url + "?deny=1", transports=["polling"])
    assert outcome == "connect_error"
    assert data == {"message": "go away", "data": {"code": "denied"}}


async def test_websocket_upgrade_has_defaults() -> None:
    """The 101 answer of a WebSocket handshake carries the defaults."""
    _, mw = make_server()
    async with serve(mw.asgi_app()) as url:
        status, got, _ = await raw_request(url, upgrade_head(""))
    assert status == 101
    assert_defaults(got)
    assert dict((n.lower(), v) for n, v in got)["upgrade"].lower() == "websocket"


async def test_websocket_refusal_has_defaults() -> None:
    """A refused WebSocket upgrade (ASGI WebSocket Denial Response) carries the defaults."""
    _, mw = make_server()
    async with serve(mw.asgi_app()) as url:
        status, got, _ = await raw_request(url, upgrade_head("&deny=1"))
    assert status == 401
    assert_defaults(got)


async def test_engine_headers_kept() -> None:
    """Content-Type, Set-Cookie and CORS headers of the engine stay as python-engineio wrote
    them: present once, unchanged, before the plugin's."""
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[OTHER_ORIGIN],
                               cookie="io")
    mw = attach(sio, config=Config(source="test", core=CoreSettings()), entry_points=False,
                local_plugins=[("headers", siomw_headers)])
    async with serve(mw.asgi_app()) as url, aiohttp.ClientSession() as http:
        _, got = await handshake(http, url)
    names = [n.lower() for n, _ in got]
    for name in ("content-type", "set-cookie", "access-control-allow-origin",
                 "access-control-allow-credentials"):
        assert names.count(name) == 1, name
    assert dict((n.lower(), v) for n, v in got)["content-type"] == "text/plain; charset=UTF-8"
    first_own = min(names.index(n) for n in DEFAULTS)
    assert names.index("content-type") < first_own
    assert_defaults(got)


async def test_other_routes_untouched() -> None:
    """Routes of the wrapped application outside the engine path get no header."""
    _, mw = make_server()

    async def other(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"hello"})

    async with serve(mw.asgi_app(other)) as url, aiohttp.ClientSession() as http:
        async with http.get(url + "/index.html") as resp:
            assert await resp.text() == "hello"
            assert security_headers(pairs(resp)) == []


async def test_member_is_placed() -> None:
    """The chain shows the member "headers" from plugin "headers" at priority 2500, outside
    the application's engine members; it runs for preflight requests."""
    _, mw = make_server()
    rows = mw.describe()["engine"]
    assert [(r["name"], r["plugin"], r["priority"]) for r in rows] == [
        ("headers", "headers", 2500), ("guard", None, 10)]
    assert [m.name for m in mw.engine_chain(preflight=True)] == ["headers", "guard"]


async def test_requests_do_not_grow_lists() -> None:
    """Many requests on one server each get exactly one copy (the prepared list is shared,
    never mutated)."""
    _, mw = make_server()
    async with serve(mw.asgi_app()) as url, aiohttp.ClientSession() as http:
        results = await asyncio.gather(*(handshake(http, url) for _ in range(20)))
    for _, got in results:
        assert_defaults(got)
