"""The ``[metrics]`` table of ``siomw.toml``: :class:`MetricsOptions`.

Each key can also be set from the environment, which wins over the file:
``SIOMW_METRICS__<KEY>`` (``SIOMW_METRICS__PORT=9464``; a list as JSON). The defaults serve
the page on the engine's own server at ``/socket.io/metrics``, to loopback clients only.
"""

from __future__ import annotations

import ipaddress
import socket
from itertools import pairwise
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, field_validator
from pydantic_core import PydanticCustomError

__all__ = ["DEFAULT_BUCKETS", "MetricsOptions"]

#: histogram buckets in seconds: a chain or a member takes microseconds to a few seconds
#: (a deadline is 10 s by default); Prometheus' own defaults start at 5 ms
DEFAULT_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IP address or network ({exc})") from None
    return value


def _problem(message: str) -> PydanticCustomError:
    """A validation error whose text is ``message`` alone (the core's line reads
    ``[metrics] KEY: expected MESSAGE; found VALUE``)."""
    return PydanticCustomError("metrics_option", message)


def _address(value: str) -> str:
    """An IP address, or a host name that resolves now (a typo is found at startup, not
    when the port opens)."""
    if not value:
        raise _problem("an address ('0.0.0.0': every IPv4 interface, '::': every interface)")
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        if all(c.isdigit() or c == "." for c in value):  # 999.1.1.1: not a name either
            raise _problem("an IP address (each of the four numbers 0 to 255) or a host "
                           "name") from None
    try:
        socket.getaddrinfo(value, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise _problem(f"an IP address or a host name that resolves (this one does not: "
                       f"{exc})") from None
    return value


class MetricsOptions(BaseModel):
    """The validated ``[metrics]`` table.

    Attributes:
        path: the URL path of the page on the engine's own server (it must be under the
            engine's path, ``/socket.io/`` by default, where the engine chain runs; a page at
            the root, ``/metrics``, is refused: no engine chain sees it; aiohttp routes only
            the engine path itself: use ``port`` there). A ``GET`` of it from an
            address in ``allow`` is answered with the metrics; any other request goes on
            to the engine as if the plugin were not there. Empty: not served on the
            engine's server.
        allow: the client addresses (IP networks) that may read ``path``, matched against
            ``request.address`` (the core's ``trusted_proxies`` applied). Default: loopback
            only. A request that carries proxy headers (``Forwarded``, ``X-Forwarded-For``,
            ``X-Real-IP``) from a proxy that is not trusted is not served: its real client
            is unknown (a reverse proxy on the same host would make everyone loopback).
        port: also (or instead) serve the page on its own HTTP server on this port
            (``prometheus_client.start_http_server``, started with the stack, stopped with
            it), every server kind alike; 0: any free port (the log line ``siomw: metrics
            served at URL`` names it). None: no such server. A whole number (``true`` is
            refused, not taken as 1).
        address: the address that server listens on (default loopback only): an IP address,
            or a host name that resolves when the table is validated.
        prefix: the metric names' prefix (``siomw_attempts_total``...).
        members: also time each member (the ``member_duration_seconds`` histogram).
        buckets: the histograms' bucket bounds, in seconds, increasing (numbers: ``true``
            is refused).
        global_registry: register into ``prometheus_client.REGISTRY`` (the process' own,
            what your other metrics and ``start_http_server`` use by default) instead of a
            private ``CollectorRegistry`` per stack. Only one stack per process can.
    """

    # a misspelt key is an error naming the file, the table and the key, not ignored
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = "/socket.io/metrics"
    allow: list[Annotated[str, AfterValidator(_network)]] = Field(
        default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    # strict: pydantic would take ``port = true`` as port 1 and ``members = 1`` as true
    port: int | None = Field(default=None, ge=0, le=65535, strict=True)
    address: Annotated[str, AfterValidator(_address)] = "127.0.0.1"
    prefix: str = Field(default="siomw", pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    members: bool = Field(default=True, strict=True)
    buckets: list[Annotated[float, Strict()]] = Field(
        default_factory=lambda: list(DEFAULT_BUCKETS), min_length=1)
    global_registry: bool = Field(default=False, strict=True)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if value and not value.startswith("/"):
            raise ValueError(f"{value!r} must start with '/' (a URL path) or be empty")
        if value and value.strip("/").count("/") < 1:
            # the page is an engine member: only requests under the engine's path reach it
            raise _problem(
                "a page under the engine's path, such as '/socket.io/metrics' (under your "
                "socketio_path): the engine chain that serves the page sees no request at "
                "the root; or '' with port, to serve it on a port of its own")
        return value

    @field_validator("buckets")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if any(b <= a for a, b in pairwise(value)) or value[0] <= 0:
            raise ValueError(f"{value!r}: bucket bounds must be positive and increasing")
        return value
