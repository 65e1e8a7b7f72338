"""The metrics page on a port of its own: ``prometheus_client.start_http_server``, started
with the stack and stopped with it (``siomw_startup`` / ``siomw_shutdown``). It runs in a
thread of its own, so it serves every server kind alike."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client import start_http_server as prometheus_server

from .options import MetricsOptions

__all__ = ["PortServer"]

log = logging.getLogger("siomw.metrics")


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
