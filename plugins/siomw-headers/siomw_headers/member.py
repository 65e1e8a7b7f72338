"""The engine member: appends the prepared headers to every engine response.

The header lists are built once, at startup (:func:`build_headers`); per request the member
picks one of two prepared tuples (with or without ``Strict-Transport-Security``) and extends
``request.response_headers`` with it, before ``call_next`` so that a refusal from an inner
member carries the headers too (the core adds ``response_headers`` to refusals).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from siomw_core import CallNext, Request

from .options import HEADER_OF, HeadersOptions

__all__ = ["HeaderList", "build_headers", "forwarded_https", "headers_member"]

HeaderList = tuple[tuple[str, str], ...]

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


def forwarded_https(request: Request) -> bool:
    """Whether a trusted proxy says the client reached it over TLS:
    ``request.forwarded_proto`` is ``https`` (or ``wss``).

    The core decides trust (``trusted_proxies``, the same rule as ``request.address``: an
    IPv4-mapped peer ``::ffff:10.0.0.1`` counts as ``10.0.0.1``) and reads the ``proto`` of
    the last element of ``Forwarded`` (RFC 7239 §5.4), else the last entry of
    ``X-Forwarded-Proto``. From any other peer these headers are ignored.
    """
    return request.forwarded_proto in ("https", "wss")


def headers_member(
    plain: HeaderList, secure: HeaderList, trusted_proxies: Iterable[str] = ()
) -> Any:
    """The engine member ``async def headers(request, call_next)``.

    Args:
        plain: headers for requests over plain HTTP.
        secure: headers for requests over TLS (``request.secure``), or that a trusted
            proxy reports as HTTPS (:func:`forwarded_https`).
        trusted_proxies: the core's ``trusted_proxies`` (addresses and CIDRs); when
            empty no forwarded header is consulted. Trust itself is the core's decision
            (``request.forwarded_proto``).
    """
    proxies = tuple(trusted_proxies)

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
            tls = request.secure or forwarded_https(request)
            request.response_headers.extend(secure if tls else plain)
            await call_next()

    return headers
