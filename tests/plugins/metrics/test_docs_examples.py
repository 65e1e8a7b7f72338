"""The examples of docs/plugins/metrics.md do what the page says: its TOML validates and
means what it shows, its Python block runs as written, its Prometheus config scrapes the
default path, its option table names every key of the schema."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import socketio
from siomw_metrics import MetricsOptions, metrics_of

from siomw_core import Config, ConfigError, CoreSettings, attach

PAGE = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "metrics.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), re.S)


def test_the_toml_example_validates_as_shown() -> None:
    (example,) = blocks("toml")
    table = tomllib.loads(example)["metrics"]
    options = MetricsOptions(**table)
    assert (options.path, options.port, options.address, options.members) == (
        "", 9464, "0.0.0.0", False)


def test_the_python_example_runs_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIOMW_CONFIG", raising=False)
    monkeypatch.delenv("SIOMW_PLUGINS", raising=False)
    (example,) = blocks("python")
    scope: dict[str, object] = {}
    exec(compile(example, str(PAGE), "exec"), scope)
    metrics = metrics_of(scope["mw"].runtime)  # type: ignore[attr-defined]
    assert metrics is not None
    registry = metrics.registry
    scope["messages"].inc()  # type: ignore[attr-defined]
    assert registry.get_sample_value("chat_messages_total") == 1


def test_the_prometheus_config_scrapes_the_default_path() -> None:
    (example,) = blocks("yaml")
    assert f"metrics_path: {MetricsOptions().path}" in example


def test_the_option_table_names_every_key() -> None:
    text = PAGE.read_text()
    documented = set(re.findall(r"^\| `(\w+)` \| ", text.split("## Options")[1], re.M))
    assert documented == set(MetricsOptions.model_fields)


def test_the_root_path_refusal_is_the_line_shown() -> None:
    """The page's ``text`` block is the line a table with ``path = "/metrics"`` stops with."""
    (shown,) = blocks("text")
    config = Config(source="siomw.toml", core=CoreSettings(plugins=["metrics"]),
                    tables={"metrics": {"path": "/metrics"}})
    with pytest.raises(ConfigError) as raised:
        attach(socketio.AsyncServer(async_mode="asgi"), config=config)
    assert str(raised.value) == shown.strip()
