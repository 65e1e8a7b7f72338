"""siomw_core.testing.servers without pytest's fixtures: a server started afresh (no
zygote), the plugins' shapes, the config written as siomw.toml."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

import siomw_core.testing.outcomes as outcomes_module
from siomw_core.testing import assert_accepted, assert_refused
from siomw_core.testing.servers import split_plugins, start, write_config


def test_started_afresh_without_the_zygote(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIOMW_TESTING_FORK", "0")
    server = start("asgi", tmp_path, plugins=["ratelimit"],
                   config={"ratelimit": {"connect": "1/minute"}})
    try:
        assert isinstance(server.proc, subprocess.Popen)  # not forked from the zygote
        assert_accepted(server.connect())
        assert_refused(server.connect(), code="rate_limited")
    finally:
        server.stop()
    assert not server.running


def test_plugin_shapes() -> None:
    names, local = split_plugins(["jwt", ("audit", outcomes_module), outcomes_module])
    assert names == ["jwt", "audit", "outcomes"]
    assert local == {"audit": "siomw_core.testing.outcomes",
                     "outcomes": "siomw_core.testing.outcomes"}
    names, local = split_plugins([("check", outcomes_module.outcome_of)])
    assert local == {"check": "siomw_core.testing.outcomes:outcome_of"}
    with pytest.raises(TypeError, match="importable module"):
        split_plugins([("inner", lambda: None)])
    with pytest.raises(TypeError, match="expected a name"):
        split_plugins([42])


def test_config_written(tmp_path: Path) -> None:
    table = {"strict": True, "ratelimit": {"connect": "2/minute", "events": {"chat": "1/s"}}}
    path = write_config(table, tmp_path)
    assert path is not None
    assert tomllib.loads(path.read_text()) == table
    assert write_config(None, tmp_path) is None
    assert write_config(str(path), tmp_path) == path.resolve()
    with pytest.raises(FileNotFoundError, match="no such file"):
        write_config(tmp_path / "absent.toml", tmp_path)
