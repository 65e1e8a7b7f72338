"""Strict-Transport-Security: only over TLS (RFC 6797 §7.2), or when a trusted proxy says
the client came over HTTPS."""

from __future__ import annotations

from pathlib import Path
from ssl import SSLContext

import aiohttp
import pytest

from siomw_core import CallNext, Request
from siomw_core.testing import serve

from .support import (
    HSTS,
    OTHER_ORIGIN,
    POLLING,
    assert_defaults,
    client_context,
    make_server,
    raw_request,
    self_signed,
    serve_ipv4_mapped,
    serve_tls,
    upgrade_head,
)


def pairs(resp: aiohttp.ClientResponse) -> list[tuple[str, str]]:
    return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in resp.raw_headers]


async def get(url: str, headers: dict[str, str] | None = None,
              ssl: SSLContext | bool = True) -> list[tuple[str, str]]:
    async with aiohttp.ClientSession() as http, http.get(
        url + POLLING, headers={"Origin": OTHER_ORIGIN, **(headers or {})},
        ssl=ssl,
    ) as resp:
        assert resp.status == 200
        return pairs(resp)


async def test_no_hsts_over_plain_http() -> None:
    """Over plain HTTP the defaults come without Strict-Transport-Security."""
    _, mw = make_server()
    async with serve(mw.asgi_app()) as url:
        assert_defaults(await get(url), hsts=False)


async def test_hsts_over_tls(tmp_path: Path) -> None:
    """Over TLS (a real uvicorn TLS server) the defaults include HSTS, once."""
    certfile, keyfile = self_signed(tmp_path)
    _, mw = make_server()
    async with serve_tls(mw.asgi_app(), certfile, keyfile) as url:
        got = await get(url, ssl=client_context(certfile))
    assert_defaults(got, hsts=True)


async def test_hsts_on_tls_refusal(tmp_path: Path) -> None:
    """An inner refusal over TLS carries HSTS too."""
    certfile, keyfile = self_signed(tmp_path)
    _, mw = make_server()
    async with serve_tls(mw.asgi_app(), certfile, keyfile) as url, \
            aiohttp.ClientSession() as http, \
            http.get(url + POLLING + "&deny=1", ssl=client_context(certfile)) as resp:
        assert resp.status == 401
        assert_defaults(pairs(resp), hsts=True)


async def test_hsts_value_configured_and_removed(tmp_path: Path) -> None:
    """strict_transport_security sets the value over TLS; false removes it there too."""
    certfile, keyfile = self_signed(tmp_path)
    _, custom = make_server({"strict_transport_security": "max-age=63072000; preload"})
    _, removed = make_server({"strict_transport_security": False})
    async with serve_tls(custom.asgi_app(), certfile, keyfile) as url:
        got = dict(await get(url, ssl=client_context(certfile)))
    assert got["strict-transport-security"] == "max-age=63072000; preload"
    async with serve_tls(removed.asgi_app(), certfile, keyfile) as url:
        assert_defaults(await get(url, ssl=client_context(certfile)), hsts=False)


@pytest.mark.parametrize("header", [
    {"X-Forwarded-Proto": "https"},
    {"X-Forwarded-Proto": "http, https"},
    {"Forwarded": 'for=203.0.113.7;proto=http, for=198.51.100.1;proto="https"'},
])
async def test_hsts_from_trusted_proxy(header: dict[str, str]) -> None:
    """From a trusted proxy, HTTPS in the last hop of X-Forwarded-Proto or Forwarded counts."""
    _, mw = make_server(trusted_proxies=["127.0.0.0/8"])
    async with serve(mw.asgi_app()) as url:
        assert_defaults(await get(url, header), hsts=True)


@pytest.mark.parametrize("header", [
    {"X-Forwarded-Proto": "https, http"},
    {"X-Forwarded-Proto": "ftp"},
    {"Forwarded": "proto=https, proto=http"},
    {"Forwarded": "for=1.2.3.4"},
    {},
])
async def test_no_hsts_when_trusted_proxy_says_http(header: dict[str, str]) -> None:
    """A trusted proxy whose last hop is not HTTPS (or says nothing) gets no HSTS."""
    _, mw = make_server(trusted_proxies=["127.0.0.1"])
    async with serve(mw.asgi_app()) as url:
        assert_defaults(await get(url, header), hsts=False)


async def test_forwarded_proto_ignored_from_untrusted_peer() -> None:
    """X-Forwarded-Proto from a peer that is not a trusted proxy is ignored: anyone could
    write it."""
    _, untrusted = make_server(trusted_proxies=["10.0.0.0/8"])
    _, none = make_server()
    for mw in (untrusted, none):
        async with serve(mw.asgi_app()) as url:
            got = await get(url, {"X-Forwarded-Proto": "https", "Forwarded": "proto=https"})
        assert_defaults(got, hsts=False)


async def test_websocket_upgrade_from_trusted_proxy_has_hsts() -> None:
    """The 101 answer to an upgrade forwarded by a trusted TLS proxy carries HSTS."""
    _, mw = make_server(trusted_proxies=["127.0.0.1"])
    async with serve(mw.asgi_app()) as url:
        status, got, _ = await raw_request(url, upgrade_head("") + "\r\nX-Forwarded-Proto: https")
    assert status == 101
    assert_defaults(got, hsts=True)
    assert HSTS in [(n.lower(), v) for n, v in got]


@pytest.mark.parametrize("trusted", [["127.0.0.1"], ["127.0.0.0/8"]])
async def test_hsts_from_trusted_proxy_seen_as_ipv4_mapped_peer(trusted: list[str]) -> None:
    """On a dual-stack socket the IPv4 proxy 127.0.0.1 is the peer ``::ffff:127.0.0.1``: it
    is the trusted proxy all the same (the core's rule, as for ``request.address``), so
    its ``X-Forwarded-Proto: https`` gives HSTS, and the forwarded client is its address."""
    _, mw = make_server(trusted_proxies=trusted)
    seen: list[tuple[str, str, str]] = []

    async def record(request: Request, call_next: CallNext) -> None:
        seen.append((request.peer, request.address, request.forwarded_proto))
        await call_next()

    mw.engine.use(record, priority=5)
    async with serve_ipv4_mapped(mw.asgi_app()) as url:
        got = await get(url, {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"})
        plain = await get(url, {"X-Forwarded-Proto": "http"})
    assert seen == [("::ffff:127.0.0.1", "203.0.113.7", "https"),
                    ("::ffff:127.0.0.1", "::ffff:127.0.0.1", "http")]
    assert_defaults(got, hsts=True)
    assert_defaults(plain, hsts=False)


async def test_ipv4_mapped_peer_outside_trusted_proxies_is_ignored() -> None:
    """``::ffff:127.0.0.1`` is 127.0.0.1, which 10.0.0.0/8 does not hold: no HSTS."""
    _, mw = make_server(trusted_proxies=["10.0.0.0/8"])
    async with serve_ipv4_mapped(mw.asgi_app()) as url:
        assert_defaults(await get(url, {"X-Forwarded-Proto": "https"}), hsts=False)
