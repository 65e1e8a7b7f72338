"""The event examples of docs/plugins/ratelimit.md run and do what the page says."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from siomw_core.testing import serve

from .events_support import burst, client, refusal_data

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"


def load(name: str) -> ModuleType:
    """A fresh import of docs/examples/<name>.py."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_events_example_client_output(capsys: pytest.CaptureFixture[str]) -> None:
    """ratelimit_events_client.py against ratelimit_events_app.py prints what the page shows."""
    app, example = load("ratelimit_events_app"), load("ratelimit_events_client")
    async with serve(app.app) as url:
        await example.main(url)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["search a: ['A']", "search b: ['B']", "search c: ['C']"]
    match = re.fullmatch(r"search d: Rate limit exceeded \(rate_limited, 3 per 1 minute, "
                         r"retry in (\d+) s\)", lines[3])
    assert match and 1 <= int(match[1]) <= 60, lines
    assert lines[4:] == ["search refused: Rate limit exceeded"]


async def test_events_example_budgets() -> None:
    """ratelimit_events_app.py: chat message 5 a second (config), uploads of cost 4 in
    "10/minute" (2 fit, the 3rd spends nothing, so 2 thumbnails still fit), broadcast once
    a minute per anonymous socket (key = "user" falls back to the sid)."""
    app = load("ratelimit_events_app")
    async with serve(app.app) as url, client(url, namespaces=["/", "/admin"]) as c:
        chats = await burst(c, "chat message", 8, "hi")
        uploads = [await c.call("upload", "a.png", timeout=5) for _ in range(3)]
        thumbs = [await c.call("thumbnail", "a.png", timeout=5) for _ in range(3)]
        broadcasts = [await c.call("broadcast", "x", namespace="/admin", timeout=5)
                      for _ in range(2)]
    assert chats.count("sent: hi") == 5
    for reply in (r for r in chats if r != "sent: hi"):
        refusal_data(reply, "5 per 1 second", most=1)
    assert uploads[:2] == ["stored a.png"] * 2
    refusal_data(uploads[2], "10 per 1 minute")
    assert thumbs[:2] == ["thumbnail of a.png"] * 2
    refusal_data(thumbs[2], "10 per 1 minute")
    assert broadcasts[0] == "broadcast"
    refusal_data(broadcasts[1], "1 per 1 minute")

