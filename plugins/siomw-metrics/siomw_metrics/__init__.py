"""The siomw plugin ``metrics``: Prometheus metrics of every chain, member and namespace.

Registered under the entry-point group ``siomw`` as ``metrics`` (``pyproject.toml``); its
options are the ``[metrics]`` table of ``siomw.toml`` (:class:`MetricsOptions`). It is built
on the core's observer hook (:func:`siomw_observer`): the core tells it about every chain run
and every member, so it wraps no other member. It contributes:

- an observer (:class:`~siomw_metrics.metrics.Metrics`) counting attempts by level,
  namespace, outcome and refusal code, timing each chain and each member, and gauging the
  connected sockets per namespace, in a private ``CollectorRegistry`` per stack;
- the engine member ``metrics`` (priority 4000) serving them at ``path``
  (``/socket.io/metrics``) to ``allow``-ed addresses (loopback), and, with ``port``, a
  server of its own on that port.

It imports only ``siomw_core``'s top level (the plugin contract), so it serves every server
kind siomw supports.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from pydantic import BaseModel

from siomw_core import ConfigError, Middleware, Observer, Runtime, hookimpl

from .engine import NAME, PRIORITY, page_member
from .metrics import Metrics
from .options import DEFAULT_BUCKETS, MetricsOptions
from .port import PortServer

__all__ = [
    "CONTRACT",
    "DEFAULT_BUCKETS",
    "NAME",
    "PRIORITY",
    "Metrics",
    "MetricsOptions",
    "metrics_of",
    "siomw_config_schema",
    "siomw_contract",
    "siomw_middlewares",
    "siomw_observer",
    "siomw_shutdown",
    "siomw_startup",
]

log = logging.getLogger("siomw.metrics")

#: the plugin contract versions this plugin supports: it needs the observer hook and
#: ``answer_request``, which contract 1.1 added, and its engine member is done at a
#: WebSocket's 101 (1.2)
CONTRACT = ">=1.2,<2"

#: each stack's metrics and port server, by the stack's runtime (one per attached server)
_STACKS: weakref.WeakKeyDictionary[Runtime, tuple[Metrics, PortServer]] = (
    weakref.WeakKeyDictionary())


def metrics_of(runtime: Runtime) -> Metrics | None:
    """The :class:`Metrics` of the stack whose runtime is ``runtime`` (``mw.runtime``), or
    None when the plugin is not enabled there: ``metrics_of(mw.runtime).registry`` is what
    the page shows."""
    found = _STACKS.get(runtime)
    return found[0] if found is not None else None


@hookimpl
def siomw_contract() -> str:
    """The contract range this plugin supports: :data:`CONTRACT`."""
    return CONTRACT


@hookimpl
def siomw_config_schema() -> type[BaseModel]:
    """The schema of the ``[metrics]`` table: :class:`MetricsOptions`."""
    return MetricsOptions


@hookimpl
def siomw_middlewares(config: Any, runtime: Runtime) -> list[Middleware]:
    """Make the stack's metrics; the ``metrics`` engine member when ``path`` is set.

    Args:
        config: the validated ``[metrics]`` table (its defaults when there is none).
        runtime: the stack's runtime: the key of its metrics.

    Raises:
        ConfigError: ``global_registry`` and the process' registry already holds these
            metrics (another stack registered them).

    On an aiohttp server ``path`` cannot be served (aiohttp routes only the engine path
    itself to the engine chain): one warning says so (use ``port`` there).
    """
    options = config if isinstance(config, MetricsOptions) else MetricsOptions()
    try:
        metrics = Metrics(options)
    except ValueError as exc:
        raise ConfigError(f"global_registry: {exc} (one stack per process can use the "
                          f"process' registry)") from None
    _STACKS[runtime] = (metrics, PortServer(options, metrics.registry))
    if not options.path:
        if options.port is None:
            log.warning("siomw: metrics: neither path nor port is set: the metrics are "
                        "collected but not served ([metrics] path, port)")
        return []
    if runtime.kind == "aiohttp":
        log.warning("siomw: metrics: path %r cannot be served on an aiohttp server "
                    "(sio.attach(app) routes only the engine path itself to siomw)%s",
                    options.path, "" if options.port is not None else ": set [metrics] port")
        return []
    return [page_member(options, metrics.registry)]


@hookimpl
def siomw_observer(runtime: Runtime) -> Observer | None:
    """The stack's :class:`Metrics`, which the core tells about every chain run."""
    found = _STACKS.get(runtime)
    return found[0] if found is not None else None


@hookimpl
def siomw_startup(runtime: Runtime) -> None:
    """Listen on ``port`` when it is set (:class:`~siomw_metrics.port.PortServer`)."""
    found = _STACKS.get(runtime)
    if found is not None:
        found[1].start()


@hookimpl
def siomw_shutdown(runtime: Runtime) -> None:
    """Stop listening on ``port``."""
    found = _STACKS.get(runtime)
    if found is not None:
        found[1].stop()
