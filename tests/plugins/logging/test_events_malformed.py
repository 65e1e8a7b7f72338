"""Malformed EVENT packets are refused by the core before any chain: the logging plugin
writes no ``event`` line for them, the core one WARNING (docs/plugins/logging.md)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.levels.test_connect import RawClient

from .support import event_lines, event_server, wait_for


async def test_malformed_packets_have_no_event_line_and_one_core_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`427[123]`, `427"abc"`, `427["connect"]`: each answered invalid_event, no event line,
    one WARNING each on the siomw logger naming sid and namespace; the next well-formed
    event has its line."""
    log = tmp_path / "events.log"
    async with event_server(log, event_args=True) as (url, _mw):
        raw = RawClient()
        await raw.open(url)
        try:
            await raw.send("0")
            assert (await raw.receive()).packet_type == 0
            with caplog.at_level(logging.WARNING, logger="siomw"):
                for frame in ("27[123]", '27"abc"', '27["connect"]'):
                    await raw.send(frame)
                    answer = await raw.receive()
                    assert answer.data == [{"error": {"message": "Invalid event name",
                                                      "data": {"code": "invalid_event"}}}]
            await raw.send('28["echo","fine"]')
            assert (await raw.receive()).data == [["fine"]]
        finally:
            await raw.close()
        await wait_for(log, lambda line: line["event"] == "event")
    assert [(line["name"], line["args"]) for line in event_lines(log)] == [("echo", ["fine"])]
    warnings = [r.getMessage() for r in caplog.records
                if "refused (invalid_event)" in r.getMessage()]
    assert len(warnings) == 3
    assert all(w.startswith("siomw: event packet from ") and " on / refused" in w
               for w in warnings)
    assert warnings[0].endswith("its event name is 123 (int), not a string")
