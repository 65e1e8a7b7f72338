"""Trusted proxies: the client address behind ``X-Forwarded-For`` and ``Forwarded``.

A forwarded header is only believed when the TCP peer is a configured proxy
(``trusted_proxies`` in ``siomw.toml``: addresses and CIDRs); anyone else could write it.
The chain of forwarded addresses is walked from the right, skipping trusted proxies, and the
first untrusted address is the client (the rule of RFC 7239 §7.4 and of uvicorn's
``ProxyHeadersMiddleware``).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Mapping

__all__ = ["TrustedProxies"]

log = logging.getLogger("siomw")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The configured proxies and the address resolution they allow.

    Args:
        entries: IP addresses and CIDR networks (``"10.0.0.0/8"``, ``"::1"``).

    Raises:
        ValueError: an entry is neither an address nor a network (the message names it).
    """

    def __init__(self, entries: Iterable[str] = ()) -> None:
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

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: str) -> bool:
        """Whether ``address`` is a configured proxy (False for anything unparsable); an
        IPv4-mapped IPv6 address (``::ffff:127.0.0.1``) counts as its IPv4 address."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.networks)

    def client(self, peer: str, headers: Mapping[str, str]) -> str:
        """The client's address for a request from ``peer`` with (lower-case) ``headers``.

        ``peer`` itself unless it is trusted and a forwarded header names someone else;
        ``Forwarded`` (RFC 7239) wins over ``X-Forwarded-For``. Malformed values are ignored.
        """
        if not self.networks or not self.trusts(peer):
            return peer
        chain: list[str] = []
        forwarded = headers.get("forwarded")
        if forwarded:
            chain = _forwarded_for(forwarded)
        elif headers.get("x-forwarded-for"):
            chain = [_strip_port(part.strip()) for part in headers["x-forwarded-for"].split(",")]
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
    A node may be quoted, an IPv6 address in brackets, and carry a port; other
    parameters (``by``, ``proto``, ``host``, extensions such as ``xfor``) are skipped.
    """
    nodes: list[str] = []
    for element in value.split(","):
        for pair in element.split(";"):
            key, sep, node = pair.partition("=")
            if not sep or key.strip().lower() != "for":
                continue
            node = node.strip()
            if node.startswith('"') != node.endswith('"') or node == '"':
                nodes.append("")  # an unterminated quoted-string: not believed
                continue
            nodes.append(_strip_port(node.strip('"')))
    return nodes


def _strip_port(node: str) -> str:
    """``1.2.3.4:80`` -> ``1.2.3.4``, ``[2001:db8::1]:443`` -> ``2001:db8::1``."""
    if node.startswith("["):
        return node[1:].partition("]")[0]
    if node.count(":") == 1:  # IPv4 with a port
        return node.partition(":")[0]
    return node
