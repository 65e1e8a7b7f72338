"""The metrics of one stack: a ``prometheus_client`` registry fed by the core's observer hook.

:class:`Metrics` is the :class:`~siomw_core.Observer` the plugin returns; the core calls it
after every chain run and member (``siomw_core.observe``). Names, with the default prefix
``siomw``:

- ``siomw_attempts_total{level, namespace, outcome, code}`` (counter): one per chain run:
  an engine HTTP request, a connection attempt (CONNECT), an incoming event;
- ``siomw_chain_duration_seconds{level, namespace, outcome}`` (histogram): each run, from
  its start to its end, the application's handler included;
- ``siomw_member_duration_seconds{level, member, namespace, outcome}`` (histogram): each
  member's own time (its ``call_next`` excluded), when ``members`` is on;
- ``siomw_connected_sockets{namespace}`` (gauge): connections accepted and not yet ended.

``namespace`` is ``""`` at the engine level (an HTTP request has none); ``code`` is the
refusal's ``data.code``, ``""`` when there is none. The label children are looked up once
per label set and kept (a dict lookup per report, not prometheus_client's ``labels()``).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.registry import REGISTRY

from siomw_core import Observer, Outcome

from .options import MetricsOptions

__all__ = ["Metrics"]


class Metrics(Observer):
    """A stack's metrics.

    Args:
        options: the validated ``[metrics]`` table.

    Attributes:
        registry: where the metrics are registered: a private ``CollectorRegistry``, or
            ``prometheus_client.REGISTRY`` with ``global_registry``.

    Raises:
        ValueError: ``global_registry`` and the process' registry holds these names already
            (another stack registered them).
    """

    def __init__(self, options: MetricsOptions) -> None:
        self.options = options
        self.registry: CollectorRegistry = (REGISTRY if options.global_registry
                                            else CollectorRegistry(auto_describe=True))
        prefix, buckets, registry = options.prefix, tuple(options.buckets), self.registry
        self.attempts = Counter(
            f"{prefix}_attempts", "Chain runs (engine requests, connection attempts, events) "
            "by level, namespace, outcome and refusal code",
            ["level", "namespace", "outcome", "code"], registry=registry)
        self.chains = Histogram(
            f"{prefix}_chain_duration_seconds", "Duration of each chain run, the handler "
            "included", ["level", "namespace", "outcome"], buckets=buckets, registry=registry)
        self.members = Histogram(
            f"{prefix}_member_duration_seconds", "Own time of each member (its call_next "
            "excluded)", ["level", "member", "namespace", "outcome"], buckets=buckets,
            registry=registry)
        self.sockets = Gauge(
            f"{prefix}_connected_sockets", "Accepted connections not yet ended, by namespace",
            ["namespace"], registry=registry)
        self._children: dict[tuple[Any, ...], Any] = {}
        self.time_members = options.members

    def _child(self, metric: Any, key: tuple[str, ...]) -> Any:
        children = self._children
        found = children.get((id(metric), *key))
        if found is None:
            found = children[(id(metric), *key)] = metric.labels(*key)
        return found

    def chain_done(self, level: str, namespace: str | None, outcome: Outcome,
                   code: str | None, seconds: float) -> None:
        """Count the run and observe its duration."""
        ns = namespace or ""
        self._child(self.attempts, (level, ns, outcome, code or "")).inc()
        self._child(self.chains, (level, ns, outcome)).observe(seconds)

    def member_done(self, level: str, name: str, namespace: str | None, outcome: Outcome,
                    code: str | None, seconds: float) -> None:
        """Observe the member's own time (when ``members`` is on)."""
        if self.time_members:
            self._child(self.members, (level, name, namespace or "", outcome)).observe(seconds)

    def socket_connected(self, namespace: str) -> None:
        """One more connected socket on ``namespace``."""
        self._child(self.sockets, (namespace,)).inc()

    def socket_disconnected(self, namespace: str) -> None:
        """One fewer."""
        self._child(self.sockets, (namespace,)).dec()
