"""docs/serving.md runs as written: every ``siomw serve`` command of its shell blocks, in the
folder the block ``cd``s to, against python-socketio's client; its quoted lines are the ones
siomw prints."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp

from siomw_core.testing import close_client, connect_result
from tests.test_serve import siomw_serve

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "serving.md").read_text()
REFUSED = {"message": "not authorized", "data": {"code": "invalid_token"}}


def commands() -> list[tuple[str, str]]:
    """``(folder, APP)`` of each ``siomw serve APP`` in the page's ``sh`` blocks."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", PAGE, re.DOTALL):
        folder = "."
        for line in block.splitlines():
            if line.startswith("cd "):
                folder = line[3:].strip()
            elif line.startswith("siomw serve "):
                found.append((folder, line.split()[2]))
    return found


def test_the_page_shows_every_example() -> None:
    assert commands() == [
        ("docs/examples/serving", "threads_app:app"),
        ("docs/examples/serving", "flask_app:app"),
        ("docs/examples/serving", "flask_app:socketio"),
        ("docs/examples/serving", "aiohttp_app:app"),
    ]


async def test_each_command_serves_and_guards() -> None:
    """Each command: the startup lines (the first command's as the page prints them), the
    example's connect middleware refuses a client without the token and admits one with it,
    over polling and over WebSocket; Flask's own route answers."""
    shown = re.search(r"```text\n(siomw: found threads_app.*?)```", PAGE, re.DOTALL)
    assert shown is not None
    for folder, app in commands():
        async with siomw_serve(app, cwd=ROOT / folder) as served:
            if app == "threads_app:app":
                port = served.url.rpartition(":")[2]
                assert served.lines[:3] == shown.group(1).replace(":5000", f":{port}") \
                    .splitlines()
            for transports in (["polling"], ["websocket"]):
                outcome, data, client = await connect_result(served.url, transports=transports)
                await close_client(client)
                assert (outcome, data) == ("connect_error", REFUSED), app
                outcome, data, client = await connect_result(
                    served.url, transports=transports, auth={"token": "let-me-in"})
                assert outcome == "connect", (app, data)
                assert await client.call("echo", {"n": 1}, timeout=5) == {"n": 1}
                await close_client(client)
            if app.startswith("flask_app"):
                async with aiohttp.ClientSession() as http, http.get(served.url) as response:
                    assert await response.text() == "Flask's own routes are served too"


def test_the_quoted_errors_are_the_tested_ones() -> None:
    """The error lines the page quotes are those tests/test_serve_kinds.py checks."""
    assert ("`Error: --reload: aiohttp's runner cannot honour it: it serves one process and "
            "has no reloader\n(aiohttp-devtools has one)`") in PAGE
    assert ("Error: serving a threading app needs gunicorn, which is not installed: pip "
            "install gunicorn (siomw-core's [wsgi] extra; in a clone of siomw: pip install "
            "'./[wsgi]')\n") in PAGE
