"""The engine member ``metrics``: the metrics page on the engine's own server.

:func:`page_member` answers ``GET <path>`` from an allowed address with
``prometheus_client.generate_latest`` (the text exposition format) through
:func:`siomw_core.answer_request`; a request for ``<path>`` it does not serve is refused
there (403 ``forbidden``, 405 ``method_not_allowed``), never handed to python-engineio (which
would answer 400 and log its "unsupported version" error); every other request goes on down
the chain untouched. It is the outermost member (priority 4000), so no other member
(logging, ratelimit, jwt) sees a scrape. The page on a port of its own is :mod:`siomw_metrics.port`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from siomw_core import CallNext, Middleware, Refusal, Request, answer_request

from .options import MetricsOptions

__all__ = ["NAME", "PRIORITY", "PROXY_HEADERS", "allowed", "page_member"]

#: the engine member's name in chains
NAME = "metrics"
#: higher runs first: outside logging (3000), headers (2500), ratelimit (2000), jwt (1000)
PRIORITY = 4000
#: headers a reverse proxy adds: their presence from an untrusted peer means the real
#: client is unknown
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def allowed(request: Request, networks: Sequence[Network]) -> bool:
    """Whether ``request`` may read the page: its ``address`` (trusted proxies applied) is in
    one of ``networks``, and it is not a proxied request whose proxy is not trusted."""
    address = request.address
    if address == request.peer and any(h in request.headers for h in PROXY_HEADERS):
        return False  # proxied by a peer the core does not trust: the client is unknown
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # "" (unknown peer), a unix socket's path
        return False
    return any(ip in network for network in networks)


def page_member(options: MetricsOptions, registry: CollectorRegistry) -> Middleware:
    """The engine member serving ``options.path`` from ``registry``.

    A request for the path that is not a ``GET`` is refused with 405 (``Allow: GET``,
    code ``method_not_allowed``); a ``GET`` from an address not allowed (:func:`allowed`)
    with 403 (code ``forbidden``). Both are counted as refused engine attempts.

    Args:
        options: the validated table (``path``, ``allow``).
        registry: the registry the page shows.
    """
    path = options.path
    networks = [ipaddress.ip_network(n, strict=False) for n in options.allow]
    headers = [("Content-Type", CONTENT_TYPE_LATEST), ("Cache-Control", "no-store")]

    async def metrics(request: Request, call_next: CallNext) -> None:
        if request.path != path:
            await call_next()
            return
        # answered here: python-engineio would take the page for an engine request of
        # an unsupported protocol version (400, and an ERROR line per scrape)
        if request.method != "GET":
            raise Refusal("metrics: the page is read with GET", {"code": "method_not_allowed"},
                          status=405, headers={"Allow": "GET"})
        if not allowed(request, networks):
            raise Refusal("metrics: the page is not served to this client",
                          {"code": "forbidden"}, status=403)
        body = generate_latest(registry)
        await answer_request(request, 200, [*headers, ("Content-Length", str(len(body)))],
                             body)

    return Middleware(name=NAME, func=metrics, level="engine", priority=PRIORITY)
