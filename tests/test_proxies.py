"""Trusted proxies (``siomw_core.proxies``): the client address behind forwarded headers.

Unit tests of :class:`TrustedProxies` (``X-Forwarded-For`` chains, RFC 7239 ``Forwarded``,
CIDRs, garbage), the config key ``trusted_proxies``, and an end-to-end check on a real server
where the address reaches ``request.address`` (engine level) and ``socket.handshake.address``
(connect level).
"""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from hypothesis import given, settings
from hypothesis import strategies as st

from siomw_core import (
    CallNext,
    Config,
    ConfigError,
    CoreSettings,
    Request,
    Socket,
    attach,
    load_config,
)
from siomw_core.proxies import TrustedProxies
from siomw_core.testing import connect_result, serve

PEER = "127.0.0.1"
CLIENT = "203.0.113.9"


def resolve(entries: list[str], headers: dict[str, str], peer: str = PEER) -> str:
    return TrustedProxies(entries).client(peer, headers)


# X-Forwarded-For ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("xff", "expected"),
    [
        (CLIENT, CLIENT),
        (f"  {CLIENT}  ", CLIENT),
        (f"198.51.100.1, {CLIENT}", CLIENT),  # rightmost untrusted hop, not the spoofable left
        (f"{CLIENT}, 10.0.0.7", CLIENT),  # 10.0.0.7 is a trusted inner proxy: skipped
        (f"{CLIENT},10.0.0.7,10.1.2.3", CLIENT),
        ("10.0.0.7, 10.0.0.8", "10.0.0.7"),  # every hop trusted: the leftmost
        ("2001:db8::1", "2001:db8::1"),
        (f"unknown, {CLIENT}", CLIENT),
        (f"{CLIENT}, unknown", PEER),  # garbage nearest to us: stop believing
        ("", PEER),
        (",,,", PEER),
        (f"{CLIENT}:4711", CLIENT),  # some proxies append the port: it is dropped
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("1.2.3.256", PEER),
        ("01.2.3.4", PEER),  # leading zeros are ambiguous (octal): rejected
        ("[2001:db8::1", PEER),  # an unclosed bracket: garbage, not 2001:db8::1
        (f"{CLIENT}, [2001:db8::1", PEER),
        ("[2001:db8::1]x", PEER),  # after the bracket only a port may follow
        ("[2001:db8::1]:", "2001:db8::1"),
        ("[2001:db8::1]:443]", PEER),  # a second bracket: garbage
    ],
)
def test_x_forwarded_for_chain(xff: str, expected: str) -> None:
    """X-Forwarded-For is walked from the right, skipping trusted proxies; garbage stops it;
    a port some proxies append is dropped."""
    assert resolve([PEER, "10.0.0.0/8"], {"x-forwarded-for": xff}) == expected


# RFC 7239 Forwarded ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        (f"for={CLIENT}", CLIENT),
        (f"For={CLIENT}", CLIENT),  # parameter names are case-insensitive (§4)
        (f'for="{CLIENT}"', CLIENT),
        (f'for="{CLIENT}:4711"', CLIENT),
        ('for="[2001:db8:cafe::17]"', "2001:db8:cafe::17"),
        ('for="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17"),  # RFC 7239 §6 example
        (f"for={CLIENT};proto=https;by=10.0.0.7", CLIENT),
        (f"proto=https;for={CLIENT}", CLIENT),
        (f"for={CLIENT}, for=10.0.0.7", CLIENT),
        (f"for=198.51.100.1, for={CLIENT}", CLIENT),
        (f"for=192.0.2.43,for={CLIENT}", CLIENT),
        ('for="_gazonk"', PEER),  # obfuscated identifier (§6.3): the client is unknown
        (f'for="_hidden", for={CLIENT}', CLIENT),
        (f'for={CLIENT}, for="_hidden"', PEER),
        ("for=unknown", PEER),
        ("proto=https", PEER),
        ("", PEER),
        ('by="for=198.51.100.1"', PEER),  # "for=" inside another parameter's value
        ('for="203.0.113.77', PEER),  # an unterminated quoted-string: not believed
        (f'for={CLIENT}, for="203.0.113.7', PEER),  # ... and nothing left of it either
        ('for=203.0.113.7"', PEER),  # a closing quote without an opening one
        ('for=""203.0.113.7""', PEER),  # quotes inside the quoted-string
        ('for="', PEER),
        (f'for="{CLIENT}", for="a=b"', PEER),  # "=" inside the node: the node is garbage
        (f'for="[2001:db8:cafe::17", for={CLIENT}', CLIENT),
        ('for="[2001:db8:cafe::17"', PEER),  # unclosed bracket
    ],
)
def test_forwarded_header(forwarded: str, expected: str) -> None:
    """RFC 7239 Forwarded: quoted values, bracketed IPv6, ports and obfuscated nodes."""
    assert resolve([PEER, "10.0.0.0/8"], {"forwarded": forwarded}) == expected


def test_x_forwarded_for_first_by_default() -> None:
    """nginx's ``$proxy_add_x_forwarded_for`` appends the real client to X-Forwarded-For and
    passes the client's own ``Forwarded: for=9.9.9.9`` through: by default the header the
    proxy wrote is believed, never the client's copy of the other one."""
    headers = {"forwarded": "for=9.9.9.9", "x-forwarded-for": f"{CLIENT}"}
    assert resolve([PEER], headers) == CLIENT
    assert TrustedProxies([PEER]).forwarded_proto(
        PEER, {"forwarded": "proto=https", "x-forwarded-proto": "http"}) == "http"


def test_forwarded_first_when_configured() -> None:
    """Behind a proxy that writes RFC 7239 Forwarded, ``forwarded_headers = ["forwarded"]``
    ignores a client's own X-Forwarded-For; ``["forwarded", "x-forwarded-for"]`` prefers
    Forwarded and falls back."""
    spoofed = {"forwarded": f"for={CLIENT}", "x-forwarded-for": "9.9.9.9",
               "x-forwarded-proto": "http"}
    only = TrustedProxies([PEER], ["forwarded"])
    assert only.client(PEER, spoofed) == CLIENT
    assert only.client(PEER, {"x-forwarded-for": "9.9.9.9"}) == PEER
    assert only.forwarded_proto(PEER, {"x-forwarded-proto": "https"}) == ""
    both = TrustedProxies([PEER], ["forwarded", "x-forwarded-for"])
    assert both.client(PEER, spoofed) == CLIENT
    assert both.client(PEER, {"x-forwarded-for": "9.9.9.9"}) == "9.9.9.9"
    with pytest.raises(ValueError, match="'x-real-ip' is not a forwarded header siomw reads"):
        TrustedProxies([PEER], ["x-real-ip"])


def test_bad_forwarded_header_name_exact_error() -> None:
    """A header name outside HEADERS is refused with a message naming it and listing the
    accepted names; validation covers every entry, not only the first."""
    expected = ("'x-real-ip' is not a forwarded header siomw reads; "
                "expected one of x-forwarded-for, forwarded")
    for headers in (["x-real-ip"], ["forwarded", "x-real-ip"]):
        with pytest.raises(ValueError) as info:
            TrustedProxies([PEER], headers)
        assert str(info.value) == expected
    # names are exact: upper case is not a header siomw reads
    with pytest.raises(ValueError) as info:
        TrustedProxies([PEER], ["Forwarded"])
    assert str(info.value) == ("'Forwarded' is not a forwarded header siomw reads; "
                               "expected one of x-forwarded-for, forwarded")


@pytest.mark.parametrize(
    ("order", "expected_client", "expected_proto"),
    [
        (("x-forwarded-for", "forwarded"), "198.51.100.1", "http"),
        (("forwarded", "x-forwarded-for"), "198.51.100.2", "https"),
        (("x-forwarded-for",), "198.51.100.1", "http"),
        (("forwarded",), "198.51.100.2", "https"),
        ((), PEER, ""),  # none read: the peer itself, no scheme
    ],
)
def test_forwarded_headers_orders(order: tuple[str, ...], expected_client: str,
                                  expected_proto: str) -> None:
    """With both families present, the first configured one gives both the client and the
    scheme; the order given is kept as ``headers``."""
    headers = {"x-forwarded-for": "198.51.100.1", "x-forwarded-proto": "http",
               "forwarded": "for=198.51.100.2;proto=https"}
    proxies = TrustedProxies([PEER], order)
    assert proxies.headers == order
    assert proxies.client(PEER, headers) == expected_client
    assert proxies.forwarded_proto(PEER, headers) == expected_proto


def test_forwarded_proto_family_with_x_forwarded_for_but_no_proto() -> None:
    """A request with X-Forwarded-For (read first) and no X-Forwarded-Proto has no scheme:
    the proto of a Forwarded header, which this proxy did not write, is not borrowed."""
    headers = {"x-forwarded-for": CLIENT, "forwarded": "for=9.9.9.9;proto=https"}
    assert TrustedProxies([PEER]).forwarded_proto(PEER, headers) == ""
    assert TrustedProxies([PEER], ["x-forwarded-for"]).forwarded_proto(
        PEER, {"x-forwarded-for": CLIENT}) == ""
    # X-Forwarded-Proto alone still selects the X- family
    assert TrustedProxies([PEER]).forwarded_proto(
        PEER, {"x-forwarded-proto": "HTTPS", "forwarded": "proto=http"}) == "https"


@pytest.mark.parametrize(
    ("order", "headers", "expected"),
    [
        # an empty Forwarded is as good as absent: the next family answers
        (("forwarded", "x-forwarded-for"),
         {"forwarded": "", "x-forwarded-for": CLIENT, "x-forwarded-proto": "https"}, "https"),
        (("forwarded",), {"forwarded": "", "x-forwarded-proto": "https"}, ""),
        # empty X-Forwarded-For and X-Forwarded-Proto: Forwarded answers
        (("x-forwarded-for", "forwarded"),
         {"x-forwarded-for": "", "x-forwarded-proto": "", "forwarded": "proto=wss"}, "wss"),
        (("x-forwarded-for",), {"x-forwarded-for": "", "x-forwarded-proto": ""}, ""),
    ],
)
def test_forwarded_proto_header_present_but_empty(order: tuple[str, ...],
                                                  headers: dict[str, str],
                                                  expected: str) -> None:
    """A header present with an empty value does not choose its family."""
    assert TrustedProxies([PEER], order).forwarded_proto(PEER, headers) == expected


def test_client_header_present_but_empty() -> None:
    """An empty first-choice header falls through to the next configured one."""
    both = TrustedProxies([PEER], ["forwarded", "x-forwarded-for"])
    assert both.client(PEER, {"forwarded": "", "x-forwarded-for": CLIENT}) == CLIENT
    assert TrustedProxies([PEER]).client(
        PEER, {"x-forwarded-for": "", "forwarded": f"for={CLIENT}"}) == CLIENT
    assert TrustedProxies([PEER], ["forwarded"]).client(PEER, {"forwarded": ""}) == PEER


def test_forwarded_extension_parameter_named_like_for_is_ignored() -> None:
    """An extension parameter whose name ends in "for" (xfor=) does not name the client."""
    assert resolve([PEER], {"forwarded": f"xfor={CLIENT}"}) == PEER


def test_forwarded_parsing_is_linear() -> None:
    """An 8 KB hostile Forwarded header (nginx's default header buffer) resolves in < 50 ms."""
    proxies = TrustedProxies([PEER])
    hostile = "for=" * 2000 + '"'
    started = time.perf_counter()
    assert proxies.client(PEER, {"forwarded": hostile}) == PEER
    assert time.perf_counter() - started < 0.05


# who is trusted ----------------------------------------------------------------------------
def test_untrusted_peer_headers_ignored() -> None:
    """A peer that is not a configured proxy cannot choose its address."""
    headers = {"x-forwarded-for": CLIENT, "forwarded": f"for={CLIENT}"}
    assert resolve(["10.0.0.0/8"], headers, peer="192.0.2.1") == "192.0.2.1"
    assert resolve([], headers) == PEER  # no proxies configured: the peer
    assert not TrustedProxies([])


@pytest.mark.parametrize(
    ("entries", "peer", "trusted"),
    [
        (["10.0.0.0/8"], "10.255.1.2", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["10.1.2.3/8"], "10.200.0.1", True),  # host bits allowed (strict=False)
        (["192.168.1.1"], "192.168.1.1", True),
        (["192.168.1.1"], "192.168.1.2", False),
        (["fd00::/8"], "fd12::1", True),
        (["::1"], "::1", True),
        (["::1"], "127.0.0.1", False),
        ([" 127.0.0.1 "], "127.0.0.1", True),  # surrounding spaces (from env lists)
        (["127.0.0.1"], "not-an-ip", False),
        (["127.0.0.1"], "", False),
        # an IPv4-mapped IPv6 peer (a dual-stack socket's view of an IPv4 one) is the IPv4
        (["127.0.0.1"], "::ffff:127.0.0.1", True),
        (["10.0.0.0/8"], "::ffff:10.1.2.3", True),
        (["10.0.0.0/8"], "::ffff:11.0.0.1", False),
        (["::1"], "::ffff:127.0.0.1", False),
        (["0.0.0.0/0"], "198.51.100.1", True),  # /0: everyone (and a warning, below)
        (["0.0.0.0/0"], "::ffff:198.51.100.1", True),
        (["0.0.0.0/0"], "2001:db8::1", False),
        (["::/0"], "2001:db8::1", True),
    ],
)
def test_trusts_addresses_and_cidrs(entries: list[str], peer: str, trusted: bool) -> None:
    """Entries are addresses or CIDR networks, IPv4 and IPv6; unparsable peers are untrusted."""
    assert TrustedProxies(entries).trusts(peer) is trusted


def test_ipv4_mapped_peer_resolves_like_its_ipv4() -> None:
    """Behind a dual-stack listener the proxy 127.0.0.1 is the peer ``::ffff:127.0.0.1``:
    its forwarded headers count, and a mapped hop is skipped like the IPv4 it is."""
    proxies = TrustedProxies(["127.0.0.1", "10.0.0.0/8"])
    mapped = "::ffff:127.0.0.1"
    assert proxies.client(mapped, {"x-forwarded-for": CLIENT}) == CLIENT
    assert proxies.client(mapped, {"x-forwarded-for": f"{CLIENT}, ::ffff:10.0.0.7"}) == CLIENT
    assert proxies.client(mapped, {"forwarded": f'for="{CLIENT}"'}) == CLIENT
    assert proxies.forwarded_proto(mapped, {"x-forwarded-proto": "https"}) == "https"
    assert TrustedProxies(["10.0.0.0/8"]).client(mapped, {"x-forwarded-for": CLIENT}) == mapped


def test_catch_all_network_warns_once_naming_it(caplog: pytest.LogCaptureFixture) -> None:
    """A /0 entry trusts every peer: one warning names the /0 entries (and no other)."""
    with caplog.at_level("WARNING", logger="siomw"):
        proxies = TrustedProxies(["10.0.0.0/8", "0.0.0.0/0", "::/0"])
    assert [r.getMessage() for r in caplog.records] == [
        "siomw: trusted_proxies contains ['0.0.0.0/0', '::/0']: every peer may then choose "
        "its own client address (X-Forwarded-For)"
    ]
    assert proxies.client("192.0.2.1", {"x-forwarded-for": CLIENT}) == CLIENT


def test_narrow_networks_do_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    """/1 and /8 are wide but not everyone: no warning."""
    with caplog.at_level("WARNING", logger="siomw"):
        TrustedProxies(["128.0.0.0/1", "10.0.0.0/8", "::1"])
    assert caplog.records == []


# forwarded proto ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-forwarded-proto": "https"}, "https"),
        ({"x-forwarded-proto": " HTTPS "}, "https"),
        ({"x-forwarded-proto": "http, https"}, "https"),  # the last: what the proxy wrote
        ({"x-forwarded-proto": "https, http"}, "http"),
        ({"x-forwarded-proto": "wss"}, "wss"),
        ({"forwarded": 'for=1.2.3.4;proto="HTTPS"'}, "https"),
        ({"forwarded": "proto=http, for=1.2.3.4;Proto=https;by=10.0.0.1"}, "https"),
        ({"forwarded": "proto=https, for=1.2.3.4"}, ""),  # the last element has none
        ({"forwarded": "proto=https;proto=http"}, "http"),  # a repeated parameter: the last
        ({"forwarded": "for=1.2.3.4", "x-forwarded-proto": "https"}, "https"),  # X- first
        ({"forwarded": "", "x-forwarded-proto": "https"}, "https"),  # an empty one does not
        ({"forwarded": "xproto=https"}, ""),
        ({"forwarded": 'proto="https=1"'}, "https=1"),  # garbage is not https
        ({"forwarded": "proto=HTTPSX"}, "httpsx"),
        ({"forwarded": 'proto=""https""'}, '"https"'),
        ({}, ""),
    ],
)
def test_forwarded_proto_from_trusted_peer(headers: dict[str, str], expected: str) -> None:
    """The scheme of the last Forwarded element, else the last X-Forwarded-Proto entry,
    lower case."""
    assert TrustedProxies([PEER]).forwarded_proto(PEER, headers) == expected


def test_forwarded_proto_ignored_from_untrusted_peer() -> None:
    """From anyone but a trusted proxy (or with none configured) it is ""."""
    headers = {"x-forwarded-proto": "https", "forwarded": "proto=https"}
    assert TrustedProxies(["10.0.0.0/8"]).forwarded_proto(PEER, headers) == ""
    assert TrustedProxies([]).forwarded_proto(PEER, headers) == ""
    assert TrustedProxies([PEER]).forwarded_proto("garbage", headers) == ""


@pytest.mark.parametrize("entry", ["nope", "10.0.0.0/33", "1.2.3", "", "::g"])
def test_bad_entry_raises(entry: str) -> None:
    """TrustedProxies itself refuses an entry that is no address or network, naming it."""
    with pytest.raises(ValueError, match="is not an IP address or CIDR network"):
        TrustedProxies(["127.0.0.1", entry])


def test_bad_config_entry_is_a_config_error(tmp_path: Path) -> None:
    """load_config names the file, the key trusted_proxies and the bad entry."""
    path = tmp_path / "siomw.toml"
    path.write_text('trusted_proxies = ["10.0.0.0/8", "proxy.internal"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "trusted_proxies" in message
    assert "'proxy.internal' is not an IP address or CIDR network" in message


def test_bad_config_type_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A string instead of a list, and a bad entry in SIOMW_TRUSTED_PROXIES, are ConfigErrors."""
    monkeypatch.delenv("SIOMW_CONFIG", raising=False)
    monkeypatch.chdir(Path(__file__).parent)  # no siomw.toml here
    with pytest.raises(ConfigError, match=r"trusted_proxies: expected .*list.*found '10\.0\.0\.1'"):
        load_config(None, overrides={"trusted_proxies": "10.0.0.1"})
    monkeypatch.setenv("SIOMW_TRUSTED_PROXIES", "10.0.0.1, bad")
    with pytest.raises(ConfigError, match=r"SIOMW_TRUSTED_PROXIES.*trusted_proxies.*'bad'"):
        load_config(None)
    monkeypatch.setenv("SIOMW_TRUSTED_PROXIES", "10.0.0.1, 10.2.0.0/16")
    assert load_config(None).core.trusted_proxies == ["10.0.0.1", "10.2.0.0/16"]


# hostile input -----------------------------------------------------------------------------
HEADER_TEXT = st.text(
    alphabet=st.sampled_from(list('for=[]":;,_ .0123456789abcdef:unknownFOR\t')), max_size=80
) | st.text(max_size=40)
HEADERS = st.fixed_dictionaries(
    {}, optional={"forwarded": HEADER_TEXT, "x-forwarded-for": HEADER_TEXT}
)
PROXIES = TrustedProxies([PEER, "10.0.0.0/8", "fd00::/8"])


@settings(max_examples=400, deadline=None)
@given(headers=HEADERS)
def test_garbage_never_raises(headers: dict[str, str]) -> None:
    """Any header text gives the peer or a valid IP address, never an exception."""
    result = PROXIES.client(PEER, headers)
    if result != PEER:
        ipaddress.ip_address(result)  # raises if not an address


@settings(max_examples=200, deadline=None)
@given(
    client=st.ip_addresses(v=4).filter(lambda ip: not ip.is_private).map(str),
    inner=st.lists(st.ip_addresses(network="10.0.0.0/8").map(str), max_size=4),
)
def test_client_found_behind_any_number_of_trusted_hops(client: str, inner: list[str]) -> None:
    """The untrusted client is found however many trusted proxies follow it."""
    xff = ", ".join([client, *inner])
    assert PROXIES.client(PEER, {"x-forwarded-for": xff}) == client
    forwarded = ", ".join(f'for="{hop}"' for hop in [client, *inner])
    assert PROXIES.client(PEER, {"forwarded": forwarded}) == client


# end to end --------------------------------------------------------------------------------
async def _addresses(trusted: list[str], headers: dict[str, str]) -> dict[str, Any]:
    """Connect once through a real server; return what each level saw as the address."""
    sio = socketio.AsyncServer(async_mode="asgi")
    mw = attach(sio, config=Config(source="test", core=CoreSettings(trusted_proxies=trusted)),
                entry_points=False)
    seen: dict[str, Any] = {"engine": []}

    @mw.engine.use
    async def engine_address(request: Request, call_next: CallNext) -> None:
        seen["engine"].append(request.address)
        await call_next()

    @mw.use
    async def connect_address(socket: Socket, call_next: CallNext) -> None:
        seen["connect"] = socket.handshake.address
        await call_next()

    async with serve(mw.asgi_app()) as url:
        outcome, _, client = await connect_result(url, headers=headers, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        async with aiohttp.ClientSession() as http, http.get(
            f"{url}/socket.io/?EIO=4&transport=polling", headers=headers
        ) as response:
            assert response.status == 200
    return seen


async def test_forwarded_address_end_to_end_trusted() -> None:
    """With trusted_proxies = ["127.0.0.1"], X-Forwarded-For names the client at both levels."""
    seen = await _addresses([PEER], {"X-Forwarded-For": CLIENT})
    assert seen["engine"] == [CLIENT, CLIENT]
    assert seen["connect"] == CLIENT


async def test_forwarded_address_end_to_end_untrusted() -> None:
    """Without trusted_proxies, the same header is ignored: the address is 127.0.0.1."""
    seen = await _addresses([], {"X-Forwarded-For": CLIENT})
    assert seen["engine"] == [PEER, PEER]
    assert seen["connect"] == PEER
