"""siomw_core.testing.arguments: a server's ``config`` and ``plugins`` checked before it
starts, each mistake one line naming the argument and the key path in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from siomw_core.testing.arguments import BadArgument
from siomw_core.testing.servers import start, write_config


@pytest.mark.parametrize(("config", "says"), [
    ({"audit": {"blocked_users": None}},
     "config['audit']['blocked_users']: None cannot be written to siomw.toml (TOML has no "
     "null; leave the key out for its default)"),
    ({"audit": {1: "x"}},
     "config['audit']: the key 1 (int) cannot be written to siomw.toml (TOML's keys are "
     "strings)"),
    ({"audit": {"users": {"ada", "bob"}}},
     "config['audit']['users']: a set cannot be written to siomw.toml (TOML has no sets; use "
     "a list)"),
    ({"jwt": {"secret": b"k"}},
     "config['jwt']['secret']: bytes cannot be written to siomw.toml (TOML has no bytes; use "
     "a str)"),
    ({"audit": {"rules": [1, {"who": object}]}},
     "config['audit']['rules'][1]['who']: <class 'object'> (type) cannot be written to "
     "siomw.toml (TOML holds strings, numbers, booleans, dates, lists and tables)"),
    (["audit"],
     "expected a dict of tables and core keys (written as siomw.toml) or the path of "
     "a siomw.toml; got list ['audit']"),
])
def test_a_config_toml_cannot_hold_names_its_key_path(tmp_path: Path, config: object,
                                                      says: str) -> None:
    with pytest.raises(BadArgument) as caught:
        write_config(config, tmp_path)  # type: ignore[arg-type]
    assert caught.value.said_by("siomw_server") == f"siomw_server(config=...): {says}"
    assert str(caught.value) == f"start(config=...): {says}"
    assert not (tmp_path / "siomw.toml").exists()


def test_a_plugin_no_one_installed_names_the_argument(tmp_path: Path) -> None:
    with pytest.raises(BadArgument) as caught:
        start("asgi", tmp_path, plugins=["ratelimit", "nosuch"])
    message = caught.value.said_by("siomw_server")
    assert message.startswith("siomw_server(plugins=...): plugins: no installed plugin is "
                              "named 'nosuch'; expected one of: ")
    assert "ratelimit" in message and "SIOMW_PLUGINS" not in message
    with pytest.raises(BadArgument) as caught:
        start("asgi", tmp_path, config={"plugins": ["nosuch"]})
    assert caught.value.said_by("siomw_server").startswith(
        "siomw_server(config=...): config['plugins']: no installed plugin is named 'nosuch'")


def test_a_str_for_the_plugins_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadArgument, match=r"^start\(plugins=\.\.\.\): expected a list of "
                                          r"plugins, got 'ratelimit'$"):
        start("asgi", tmp_path, plugins="ratelimit")
