"""The event-level examples of docs/plugins/logging.md run and do what the page says."""

from __future__ import annotations

import json
import runpy
import tomllib
from pathlib import Path

import pytest
import siomw_logging

from siomw_core.testing import serve
from tests.conftest import requires_js
from tests.jsclient import js_client

from .support import EVENT_KEYS_WITH_ARGS, event_lines, read_lines, wait_for

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"
REFUSED = {"error": {"message": "please do not shout", "data": {"code": "shouting"}}}


def test_example_toml_is_valid() -> None:
    """logging_events.toml is a valid [logging] table with events on."""
    table = tomllib.loads((EXAMPLES / "logging_events.toml").read_text())["logging"]
    options = siomw_logging.LoggingOptions(**table)
    assert (options.events, options.event_args, options.event_exclude,
            options.event_redact, options.event_arg_max) == (True, True, ["typing"],
                                                             ["otp"], 64)


async def test_example_app_with_the_python_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """logging_events.py driven by logging_events_client.py: the client sees its answer
    and the refusal; the log has one line per chat message (typing excluded), the
    otp redacted, the shouting refused with its code; the sample lines have their keys."""
    log = tmp_path / "siomw.log"
    monkeypatch.setenv("SIOMW_LOGGING__FILE", str(log))
    app = runpy.run_path(str(EXAMPLES / "logging_events.py"))["app"]
    client = runpy.run_path(str(EXAMPLES / "logging_events_client.py"))["main"]
    async with serve(app) as url:
        assert await client(url) == ["delivered", REFUSED]
        await wait_for(log, lambda line: line["event"] == "disconnect")
    lines = read_lines(log)
    assert [x["event"] for x in lines] == ["connect", "event", "event", "disconnect"]
    accepted, refused = event_lines(log)
    assert [(x["name"], x["outcome"], x["code"], x["ack"], x["user"], x["args"])
            for x in (accepted, refused)] == [
        ("chat message", "accepted", None, True, "ada", [{"text": "hello", "otp": "[redacted]"}]),
        ("chat message", "refused", "shouting", True, "ada", [{"text": "HELLO!"}]),
    ]
    assert "551903" not in log.read_text()
    samples = [json.loads(raw) for raw in
               (EXAMPLES / "logging_event_lines.jsonl").read_text().splitlines() if raw]
    assert len(samples) == 2
    for sample, real in zip(samples, (accepted, refused), strict=True):
        assert list(sample) == list(real) == EVENT_KEYS_WITH_ARGS
        assert {k: v for k, v in sample.items() if k not in ("sid", "duration_ms",
                                                              "timestamp")} == {
            k: v for k, v in real.items() if k not in ("sid", "duration_ms", "timestamp")}


@requires_js
async def test_example_app_with_the_js_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The JS client's emitWithAck of a shouted message gets the refusal; the line has it."""
    log = tmp_path / "siomw.log"
    monkeypatch.setenv("SIOMW_LOGGING__FILE", str(log))
    app = runpy.run_path(str(EXAMPLES / "logging_events.py"))["app"]
    async with serve(app) as url:
        obs = await js_client(url, auth={"name": "grace"},
                              emit={"event": "chat message", "args": [{"text": "HI"}]})
        [line] = await wait_for(log, lambda line: line["event"] == "event")
    assert next(x for x in obs if x["event"] == "ack")["args"] == REFUSED
    assert (line["outcome"], line["code"], line["user"], line["args"]) == (
        "refused", "shouting", "grace", [{"text": "HI"}])
