"""Each stack its own registry (never prometheus_client's global one unless asked), the
observer the core gets, and the table's checks."""

from __future__ import annotations

import pytest
import socketio
from prometheus_client import REGISTRY
from siomw_metrics import Metrics, MetricsOptions, metrics_of

from siomw_core import Config, ConfigError, CoreSettings, Siomw, attach, load_config


def stack(table: dict[str, object] | None = None) -> Siomw:
    sio = socketio.AsyncServer(async_mode="asgi")
    config = Config(source="test", core=CoreSettings(plugins=["metrics"]),
                    tables={"metrics": table or {}})
    return attach(sio, config=config)


def test_a_private_registry_per_stack() -> None:
    one, two = stack(), stack()
    first, second = metrics_of(one.runtime), metrics_of(two.runtime)
    assert isinstance(first, Metrics) and isinstance(second, Metrics)
    assert first.registry is not second.registry
    assert first.registry is not REGISTRY
    # what the core reports to is this stack's Metrics
    observers = one.connect_level.observer
    assert observers is not None and observers.observers == (("metrics", first),)
    first.chain_done("connect", "/", "refused", "banned", 0.01)
    assert first.registry.get_sample_value(
        "siomw_attempts_total", {"level": "connect", "namespace": "/", "outcome": "refused",
                                 "code": "banned"}) == 1
    assert second.registry.get_sample_value(
        "siomw_attempts_total", {"level": "connect", "namespace": "/", "outcome": "refused",
                                 "code": "banned"}) is None


def test_the_global_registry_once_per_process() -> None:
    mw = stack({"global_registry": True, "prefix": "h4test"})
    metrics = metrics_of(mw.runtime)
    assert metrics is not None and metrics.registry is REGISTRY
    try:
        with pytest.raises(ConfigError, match="global_registry"):
            stack({"global_registry": True, "prefix": "h4test"})
    finally:
        for metric in (metrics.attempts, metrics.chains, metrics.members, metrics.sockets):
            REGISTRY.unregister(metric)


@pytest.mark.parametrize(("table", "problem"), [
    ({"allow": ["localhost"]}, "allow"),
    ({"buckets": [1, 0.5]}, "increasing"),
    ({"path": "metrics"}, "start with '/'"),
    ({"port": 70000}, "port"),
    ({"prefix": "no-dash"}, "prefix"),
    # pydantic would coerce these: port 1, members on
    ({"port": True}, "port: expected Input should be a valid integer; found True"),
    ({"members": 1}, "members: expected Input should be a valid boolean; found 1"),
    ({"buckets": [True]}, "buckets.0: expected Input should be a valid number"),
    # no engine chain sees a page at the root
    ({"path": "/metrics"}, "path: expected a page under the engine's path, such as "
     "'/socket.io/metrics'"),
    ({"address": "999.1.1.1"}, "address: expected an IP address .each of the four numbers"),
    ({"address": "nope.invalid"}, "address: expected an IP address or a host name that "
     "resolves .this one does not"),
])
def test_bad_values_are_named(table: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as raised:
        stack(table)
    assert "[metrics]" in str(raised.value)


@pytest.mark.parametrize("table", [
    {"port": 9464, "members": False, "address": "localhost", "buckets": [1, 2.5]},
    {"address": "::1", "path": "/chat/socket.io/metrics"},
])
def test_good_values_are_taken(table: dict[str, object]) -> None:
    metrics = metrics_of(stack(table).runtime)
    assert metrics is not None


def test_the_environment_still_sets_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strict types keep the environment's text working: numbers and flags are decoded by
    the field's type before the table is validated; ``true`` for the port is still refused,
    naming the variable."""
    monkeypatch.setenv("SIOMW_PLUGINS", "metrics")
    monkeypatch.setenv("SIOMW_METRICS__PORT", "9464")
    monkeypatch.setenv("SIOMW_METRICS__MEMBERS", "no")
    mw = attach(socketio.AsyncServer(async_mode="asgi"), config=load_config(None, check=False))
    metrics = metrics_of(mw.runtime)
    assert metrics is not None
    assert (metrics.options.port, metrics.options.members) == (9464, False)
    monkeypatch.setenv("SIOMW_METRICS__PORT", "true")
    with pytest.raises(ConfigError, match=r"SIOMW_METRICS__PORT.*valid integer"):
        attach(socketio.AsyncServer(async_mode="asgi"), config=load_config(None, check=False))


def test_defaults() -> None:
    options = MetricsOptions()
    assert options.path == "/socket.io/metrics" and options.port is None
    assert options.allow == ["127.0.0.1/32", "::1/128"] and options.address == "127.0.0.1"
    assert load_config(None, check=False).table("metrics") == {}
