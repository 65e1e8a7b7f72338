"""What users of ``[ratelimit]`` per-event limits see outside the events themselves: the
decorator used wrongly, the messages of bad rates, and ``siomw chain``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import socketio
from siomw_ratelimit import limit

from siomw_core import ConfigError, requirements_of
from tests.plugins.ratelimit.test_config import build
from tests.test_cli import run

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"


def test_bare_limit_fails_at_decoration_above_and_below_sio_on() -> None:
    """``@limit`` without parentheses is a one-line ValueError at decoration, above or
    below ``@sio.on`` (it was accepted: the limit lost, or every event internal_error)."""
    sio = socketio.AsyncServer(async_mode="asgi")
    expected = ('siomw_ratelimit.limit takes a rate: write @siomw_ratelimit.limit('
                '"5/second"), not @siomw_ratelimit.limit (on ')
    with pytest.raises(ValueError) as info:
        @limit
        @sio.on("above")
        async def above(sid: str) -> None:
            return None
    assert str(info.value).startswith(expected) and "\n" not in str(info.value)
    assert str(info.value).endswith(".above)")
    with pytest.raises(ValueError) as info:
        @sio.on("below")
        @limit  # type: ignore[arg-type, unused-ignore]  # the misuse under test
        async def below(sid: str) -> None:
            return None
    assert str(info.value).startswith(expected)
    assert "below" not in sio.handlers.get("/", {})


def test_zero_rate_has_the_configs_wording() -> None:
    """``limit("0/second")`` and ``[ratelimit] event = "0/second"`` say the same thing
    (one function, ``options.limits_problem``)."""
    async def handler(sid: str) -> None:
        return None

    with pytest.raises(ValueError) as info:
        limit("0/second")(handler)
    assert str(info.value).endswith(
        ".handler: expected a rate limit of at least 1; found '0/second' (str)")
    with pytest.raises(ConfigError) as config:
        build({"event": "0/second"})
    assert "[ratelimit] event: expected a rate limit of at least 1; found '0/second' (str)" \
        in str(config.value)
    assert requirements_of(handler) == ()


@pytest.mark.parametrize(("rate", "expected"), [
    ("often", "expected a rate limit string such as '60/minute', '3 per 10 seconds' or "
              "'10/second;100/hour'; found 'often' (str)"),
    ("0/second", "expected a rate limit of at least 1; found '0/second' (str)"),
])
def test_bad_events_rate_names_the_event_key_and_only_its_value(rate: str,
                                                                expected: str) -> None:
    """``[ratelimit.events] "chat message" = "often"``: the message names the event key
    and shows the bad value only, not the whole table."""
    with pytest.raises(ConfigError) as info:
        build({"events": {"fine": "5/second", "chat message": rate}})
    [line] = str(info.value).splitlines()
    assert "[ratelimit] events." in line and "chat message" in line
    assert line.endswith(expected)
    assert "{" not in line and "fine" not in line


def test_siomw_chain_shows_configured_event_limits(tmp_path: Path) -> None:
    """`siomw chain --json` on docs/examples/ratelimit_events_app.py: each handler lists
    its decorators ("source": "decorator") and the [ratelimit] event / events budgets
    ("source": "config"); a configured event without a handler is listed too."""
    for name in ("ratelimit_events_app.py", "ratelimit_events.toml"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    toml = tmp_path / "ratelimit_events.toml"
    toml.write_text(toml.read_text() + '"typing" = "2/second"\n')
    result = run("chain", "--json", "ratelimit_events_app:app", cwd=tmp_path,
                 env={"SIOMW_PLUGINS": "ratelimit"})
    assert result.returncode == 0, result.stderr
    handlers = json.loads(result.stdout)["handlers"]["/"]
    every = {"plugin": "ratelimit", "kind": "limit", "rate": "20/second", "key": "sid",
             "cost": 1, "config": "[ratelimit] event", "source": "config"}
    assert handlers["chat message"] == [every, {
        "plugin": "ratelimit", "kind": "limit", "rate": "5/second", "key": "sid", "cost": 1,
        "config": '[ratelimit.events] "chat message"', "source": "config"}]
    assert handlers["search"] == [
        {"plugin": "ratelimit", "kind": "limit", "rate": "3/minute", "key": "sid",
         "cost": 1, "scope": None, "source": "decorator"}, every]
    assert handlers["typing"] == [every, {
        "plugin": "ratelimit", "kind": "limit", "rate": "2/second", "key": "sid", "cost": 1,
        "config": '[ratelimit.events] "typing"', "source": "config"}]
