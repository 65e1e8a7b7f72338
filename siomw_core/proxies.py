"""Trusted proxies: the client address behind ``X-Forwarded-For`` and ``Forwarded``.

Which of the two is read, in which order, is the core key ``forwarded_headers``
(``X-Forwarded-For`` first by default; see :class:`TrustedProxies`).

A forwarded header is only believed when the TCP peer is a configured proxy
(``trusted_proxies`` in ``siomw.toml``: addresses and CIDRs); anyone else could write it.
The chain of forwarded addresses is walked from the right, skipping trusted proxies, and the
first untrusted address is the client (the rule of RFC 7239 §7.4 and of uvicorn's
``ProxyHeadersMiddleware``). The scheme a trusted proxy reports (``Forwarded: proto=``,
``X-Forwarded-Proto``) is read here too (:meth:`TrustedProxies.forwarded_proto`): every
plugin that needs proxy trust uses this one implementation.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Iterable, Mapping
from typing import Literal

__all__ = ["DEFAULT_HEADERS", "HEADERS", "ForwardedHeader", "TrustedProxies"]

ForwardedHeader = Literal["x-forwarded-for", "forwarded"]
#: the forwarded headers siomw can read: the client chain, and the scheme's header with it
HEADERS: tuple[ForwardedHeader, ...] = ("x-forwarded-for", "forwarded")
#: the default order of preference (``forwarded_headers``)
DEFAULT_HEADERS: tuple[ForwardedHeader, ...] = ("x-forwarded-for", "forwarded")

log = logging.getLogger("siomw")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The configured proxies and the address resolution they allow.

    Args:
        entries: IP addresses and CIDR networks (``"10.0.0.0/8"``, ``"::1"``).
        headers: the forwarded headers read, in order of preference: the first one the
            request carries is believed, the others ignored (config ``forwarded_headers``).
            The default reads ``X-Forwarded-For`` (what nginx's
            ``$proxy_add_x_forwarded_for``, AWS ALB, uvicorn and Express write) before
            ``Forwarded``: a proxy that appends to one header passes a client's own copy of
            the other through unchanged, so the header the proxy writes must come first.

    Raises:
        ValueError: an entry is neither an address nor a network, or a header is not one of
            :data:`HEADERS` (the message names it).
    """

    def __init__(self, entries: Iterable[str] = (),
                 headers: Iterable[str] = DEFAULT_HEADERS) -> None:
        self.headers = tuple(headers)
        for header in self.headers:
            if header not in HEADERS:
                raise ValueError(f"{header!r} is not a forwarded header siomw reads; "
                                 f"expected one of {', '.join(HEADERS)}")
        networks: list[Network] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
        self.networks = tuple(networks)
        if any(net.prefixlen == 0 for net in self.networks):
            log.warning("siomw: trusted_proxies contains %s: every peer may then choose its "
                        "own client address (X-Forwarded-For)", [str(n) for n in networks
                                                                 if n.prefixlen == 0])

        # memoised: behind proxies the peers are the few proxy addresses, and parsing an
        # address costs microseconds per request
        self._trusts = functools.lru_cache(maxsize=1024)(self._check)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: str) -> bool:
        """Whether ``address`` is a configured proxy (False for anything unparsable); an
        IPv4-mapped IPv6 address (``::ffff:127.0.0.1``, what a dual-stack socket reports
        for an IPv4 peer) counts as its IPv4 address."""
        return self._trusts(address)

    def _check(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.networks)

    def forwarded_proto(self, peer: str, headers: Mapping[str, str]) -> str:
        """The scheme a trusted proxy says the client used: ``"https"``, ``"http"``, ...
        (lower case), or ``""`` when ``peer`` is not trusted or says nothing.

        The ``proto`` of the **last** element of ``Forwarded`` (RFC 7239 §5.4), or the
        last entry of ``X-Forwarded-Proto`` (read with ``X-Forwarded-For``): what the
        trusted peer itself wrote (earlier ones came from further away, possibly from the
        client). The header family is chosen as in :meth:`client`. ``headers`` has
        lower-case names.
        """
        if not self.networks or not self.trusts(peer):
            return ""
        for header in self.headers:
            if header == "forwarded" and headers.get("forwarded"):
                proto = ""
                for pair in headers["forwarded"].rpartition(",")[2].split(";"):
                    name, _, value = pair.partition("=")
                    if name.strip().lower() == "proto":
                        proto = _unquote(value)
                return proto.lower()
            if header == "x-forwarded-for" and (
                    headers.get("x-forwarded-for") or headers.get("x-forwarded-proto")):
                return headers.get("x-forwarded-proto", "").rpartition(",")[2].strip().lower()
        return ""

    def client(self, peer: str, headers: Mapping[str, str]) -> str:
        """The client's address for a request from ``peer`` with (lower-case) ``headers``.

        ``peer`` itself unless it is trusted and a forwarded header names someone else; of
        the configured ``headers``, the first the request carries is read, the others are
        ignored (so a client's own ``Forwarded`` cannot override the ``X-Forwarded-For``
        its proxy wrote). Malformed values are ignored.
        """
        if not self.networks or not self.trusts(peer):
            return peer
        chain: list[str] = []
        for header in self.headers:
            value = headers.get(header)
            if value:
                chain = (_forwarded_for(value) if header == "forwarded" else
                         [_strip_port(part.strip()) for part in value.split(",")])
                break
        for hop in reversed(chain):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return peer  # "unknown", an obfuscated node or garbage: stop believing
            if not self.trusts(hop):
                return hop
        return chain[0] if chain else peer


def _forwarded_for(value: str) -> list[str]:
    """The ``for=`` nodes of a ``Forwarded`` header (RFC 7239 §4), in order.

    Split, not a regular expression: linear in the header's length whatever it holds.
    A node may be a quoted-string, an IPv6 address in brackets, and carry a port; other
    parameters (``by``, ``proto``, ``host``, extensions such as ``xfor``) are skipped. A
    malformed node (an unterminated quote, an unclosed bracket) is kept as it is, which
    no address parser accepts: :meth:`TrustedProxies.client` stops believing there.
    """
    nodes: list[str] = []
    for element in value.split(","):
        for pair in element.split(";"):
            key, sep, node = pair.partition("=")
            if not sep or key.strip().lower() != "for":
                continue
            nodes.append(_strip_port(_unquote(node)))
    return nodes


def _unquote(value: str) -> str:
    """A parameter value without its spaces and the quotes of a quoted-string (RFC 7239
    §4); an unterminated quote stays, so that the value is no address."""
    value = value.strip()
    if value.startswith('"') and value.endswith('"'):
        return value[1:-1]  # '"' alone gives ""
    return value


def _strip_port(node: str) -> str:
    """``1.2.3.4:80`` -> ``1.2.3.4``, ``[2001:db8::1]:443`` -> ``2001:db8::1``.

    A bracket left open (``[2001:db8::1``) or followed by anything but a port
    (``[2001:db8::1]x``) leaves ``node`` as it is: not an address.
    """
    if node.startswith("["):
        host, closed, rest = node[1:].rpartition("]")
        return host if closed and (not rest or rest.startswith(":")) else node
    if node.count(":") == 1:  # IPv4 with a port
        return node.partition(":")[0]
    return node
