"""The sync-server examples of the docs run as written: docs/examples/connect_sync.py served
through its WSGI app by a threaded server, driven by the JS client and python-socketio's
sync client."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import socketio

from tests.jsclient import js_available, js_client
from tests.sync_server import serving

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def load(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    monkeypatch.delenv("SIOMW_PLUGINS", raising=False)
    monkeypatch.delenv("SIOMW_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not js_available(), reason="node and tests/js not installed")
@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_connect_sync_example_js(transport: str, monkeypatch: pytest.MonkeyPatch,
                                       tmp_path: Path) -> None:
    """A wrong token: connect_error with the middleware's message and data; the right one:
    connected, and the connect handler's welcome (with what the middleware stored) arrives."""
    ex = load("connect_sync", monkeypatch, tmp_path)
    with serving(ex.app) as url:
        refused = await js_client(url, auth={"token": "nope"}, transports=[transport])
        accepted = await js_client(url, auth={"token": "let-me-in"}, transports=[transport],
                                   listen=["welcome"], lingerMs=300)
    assert refused[0] == {"event": "connect_error", "message": "not authorized",
                          "data": {"code": "invalid_token"}, "active": False}
    assert [o["event"] for o in accepted[:2]] == ["connect", "on"]
    assert accepted[1]["args"] == ["hello ann"]


def test_connect_sync_example_python_client(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    """python-socketio's sync client: refused, then welcomed."""
    ex = load("connect_sync", monkeypatch, tmp_path)
    with serving(ex.app) as url:
        client = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(url, auth={"token": "nope"}, wait_timeout=5)
        welcome: list[str] = []
        client = socketio.Client(reconnection=False)
        client.on("welcome", welcome.append)
        client.connect(url, auth={"token": "let-me-in"}, wait_timeout=5)
        try:
            client.sleep(0.3)
        finally:
            client.disconnect()
    assert welcome == ["hello ann"]
