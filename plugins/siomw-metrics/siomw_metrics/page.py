"""Serving the metrics page: an engine member on the engine's own server, or a port.

- :func:`page_member`: the engine member ``metrics`` answers ``GET <path>`` from an allowed
  address with ``prometheus_client.generate_latest`` (the text exposition format) through
  :func:`siomw_core.answer_request`; every other request goes on down the chain untouched.
  It is the outermost member (priority 4000), so no other member (logging, ratelimit, jwt)
  sees a scrape.
- :class:`PortServer`: ``prometheus_client.start_http_server`` on its own port, started
  with the stack and stopped with it; it runs in a thread of its own, so it serves every
  server kind alike.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import start_http_server as prometheus_server

from siomw_core import CallNext, Middleware, Request, answer_request

from .options import MetricsOptions

__all__ = ["NAME", "PRIORITY", "PROXY_HEADERS", "PortServer", "allowed", "page_member"]

log = logging.getLogger("siomw.metrics")

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

    Args:
        options: the validated table (``path``, ``allow``).
        registry: the registry the page shows.
    """
    path = options.path
    networks = [ipaddress.ip_network(n, strict=False) for n in options.allow]
    headers = [("Content-Type", CONTENT_TYPE_LATEST), ("Cache-Control", "no-store")]

    async def metrics(request: Request, call_next: CallNext) -> None:
        if request.path != path or request.method != "GET" or not allowed(request, networks):
            await call_next()
            return
        body = generate_latest(registry)
        await answer_request(request, 200, [*headers, ("Content-Length", str(len(body)))],
                             body)

    return Middleware(name=NAME, func=metrics, level="engine", priority=PRIORITY)


class PortServer:
    """The page on its own port (``options.port`` on ``options.address``).

    Args:
        options: the validated table.
        registry: the registry it serves.
    """

    def __init__(self, options: MetricsOptions, registry: CollectorRegistry) -> None:
        self.options = options
        self.registry = registry
        self.server: Any = None
        self.thread: Any = None

    @property
    def url(self) -> str | None:
        """``http://address:port/metrics`` while it serves (None otherwise)."""
        if self.server is None:
            return None
        host, port = self.server.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/metrics"

    def start(self) -> None:
        """Listen (nothing when listening already). A port that cannot be bound is one
        ERROR line naming it (in a server of several worker processes, each would bind
        the same port: give each its own, or serve on ``path``); the stack serves on."""
        if self.server is not None or self.options.port is None:
            return
        address, port = self.options.address, self.options.port
        try:
            self.server, self.thread = prometheus_server(port, addr=address,
                                                         registry=self.registry)
        except OSError as exc:
            log.error("siomw: metrics: cannot listen on %s port %s (%s); the metrics are "
                      "not served there ([metrics] port, address)", address, port, exc)
            return
        log.info("siomw: metrics served at %s", self.url)

    def stop(self) -> None:
        """Stop listening (the stack may start again later)."""
        server, thread = self.server, self.thread
        self.server = self.thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
            thread.join(5)
