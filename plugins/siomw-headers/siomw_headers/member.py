"""The engine member: appends the prepared headers to every engine response.

The header lists are built once, at startup (:func:`build_headers`); per request the member
picks one of two prepared tuples (with or without ``Strict-Transport-Security``) and extends
``request.response_headers`` with it, before ``call_next`` so that a refusal from an inner
member carries the headers too (the core adds ``response_headers`` to refusals).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from siomw_core import CallNext, Request

from .options import HEADER_OF, HeadersOptions

__all__ = ["HeaderList", "build_headers", "forwarded_https", "headers_member", "trust_check"]

HeaderList = tuple[tuple[str, str], ...]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_HSTS = "strict_transport_security"


def build_headers(options: HeadersOptions) -> tuple[HeaderList, HeaderList]:
    """The ``(plain, secure)`` header lists of ``options``, in the order of
    :data:`~siomw_headers.options.HEADER_OF` then ``extra``.

    ``secure`` is ``plain`` plus ``Strict-Transport-Security`` (RFC 6797 §7.2: an HSTS host
    must not send it over plain HTTP); when HSTS is removed both are the same tuple. Keys
    whose value is ``""`` are left out.
    """
    plain: list[tuple[str, str]] = []
    secure: list[tuple[str, str]] = []
    for key, header in HEADER_OF.items():
        value: str = getattr(options, key)
        if not value:
            continue
        secure.append((header, value))
        if key != _HSTS:
            plain.append((header, value))
    for name, value in options.extra.items():
        plain.append((name, value))
        secure.append((name, value))
    if plain == secure:
        same = tuple(plain)
        return same, same
    return tuple(plain), tuple(secure)


def _networks(entries: Iterable[str]) -> tuple[Network, ...]:
    # the core validated trusted_proxies already; strict=False as the core reads them
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def trust_check(proxies: tuple[Network, ...]) -> Callable[[str], bool]:
    """``trusted(peer) -> bool``: whether the address ``peer`` is one of ``proxies``.

    Memoised (1024 peers): parsing an address costs microseconds, and behind proxies the
    peers are the few proxy addresses. Unparsable addresses are not trusted.
    """

    @functools.lru_cache(maxsize=1024)
    def trusted(peer: str) -> bool:
        try:
            ip = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(ip in net for net in proxies)

    return trusted


def forwarded_https(request: Request, trusted: Callable[[str], bool]) -> bool:
    """Whether a trusted proxy says the client reached it over TLS.

    Only when the TCP peer is trusted (``trusted(peer)``, from the core's
    ``trusted_proxies``): the ``proto`` of the last element of ``Forwarded`` (RFC 7239
    §5.4), else the last entry of ``X-Forwarded-Proto``, i.e. what the trusted peer itself
    wrote, is ``https`` (or ``wss``). Anyone else could write these headers.
    """
    client = request.scope.get("client")
    if not client or not trusted(str(client[0])):
        return False
    headers = request.headers
    proto = ""
    forwarded = headers.get("forwarded")
    if forwarded:
        last = forwarded.rsplit(",", 1)[-1]
        for pair in last.split(";"):
            name, _, value = pair.partition("=")
            if name.strip().lower() == "proto":
                proto = value.strip().strip('"')
    elif "x-forwarded-proto" in headers:
        proto = headers["x-forwarded-proto"].rsplit(",", 1)[-1]
    return proto.strip().lower() in ("https", "wss")


def headers_member(
    plain: HeaderList, secure: HeaderList, trusted_proxies: Iterable[str] = ()
) -> Any:
    """The engine member ``async def headers(request, call_next)``.

    Args:
        plain: headers for requests over plain HTTP.
        secure: headers for requests over TLS (``request.secure``), or that a trusted
            proxy reports as HTTPS (:func:`forwarded_https`).
        trusted_proxies: the core's ``trusted_proxies`` (addresses and CIDRs).
    """
    proxies = _networks(trusted_proxies)
    trusted = trust_check(proxies)

    if plain is secure:  # no HSTS: nothing depends on the request

        async def headers(request: Request, call_next: CallNext) -> None:
            request.response_headers.extend(plain)
            await call_next()

    elif not proxies:

        async def headers(request: Request, call_next: CallNext) -> None:
            request.response_headers.extend(secure if request.secure else plain)
            await call_next()

    else:

        async def headers(request: Request, call_next: CallNext) -> None:
            tls = request.secure or forwarded_https(request, trusted)
            request.response_headers.extend(secure if tls else plain)
            await call_next()

    return headers
