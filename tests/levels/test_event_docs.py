"""The examples of docs/event-middlewares.md run as documented: the servers under uvicorn,
the clients as their comments say (``python docs/examples/...``, ``node docs/examples/...``)."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from siomw_core.testing import serve
from tests.docs_js import REPO, requires_docs_js, run_example_js
from tests.test_docs import load_example


async def run_example_py(script: str, **env: str) -> list[str]:
    """``python docs/examples/<script>`` from the repository; its stdout lines."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, f"docs/examples/{script}", cwd=REPO, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode().splitlines()


async def test_event_client_py_sees_every_refusal_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    """event_client.py against event_app.py prints what its comments say."""
    ex = load_example("event_app", monkeypatch)
    async with serve(ex.app) as url:
        lines = await run_example_py("event_client.py", URL=url)
    assert lines == [
        "{'echo': 'hello'}",
        "unauthorized event: forbidden",
        "admin:kick refused: unauthorized event (forbidden)",
        "{'code': 'quota', 'limit': 1}",
    ]
    assert ex.seen == ["message", "admin:kick", "admin:kick", "message"]


@requires_docs_js
async def test_event_client_mjs_sees_every_refusal_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """event_client.mjs against event_app.py prints what its comments say."""
    ex = load_example("event_app", monkeypatch)
    async with serve(ex.app) as url:
        lines = await run_example_js("event_client.mjs", URL=url)
    assert lines == [
        '{"echo":"hello"}',
        "unauthorized event: forbidden",
        "admin:kick refused: unauthorized event (forbidden)",
        '{"code":"quota","limit":1}',
    ]


async def test_admin_passes_and_has_no_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    """event_app.py: an admin's admin:kick reaches its handler; socket.use gave the admin
    socket no quota member."""
    import socketio

    ex = load_example("event_app", monkeypatch)
    async with serve(ex.app) as url:
        client = socketio.AsyncClient()
        await client.connect(url, auth={"role": "admin"}, transports=["websocket"])
        try:
            assert await client.call("admin:kick", "bob", timeout=5) == "kicked bob"
            for _ in range(3):
                assert await client.call("message", " x ", timeout=5) == {"echo": "x"}
        finally:
            await client.disconnect()


async def test_plugin_decorator_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """event_plugin.py with event_plugin_client.py: the role requirement is enforced by the
    plugin's event member, reading the identity its connect member stored."""
    ex = load_example("event_plugin", monkeypatch)
    async with serve(ex.app) as url:
        lines = await run_example_py("event_plugin_client.py", URL=url)
    assert lines == [
        "ann published news",
        "{'error': {'message': 'needs role editor', 'data': {'code': 'insufficient_scope', "
        "'role': 'editor'}}}",
    ]
    assert ex.mw.describe()["handlers"] == {
        "/": {"publish": [{"plugin": "roles", "kind": "role", "role": "editor",
                           "source": "decorator"}]}}
