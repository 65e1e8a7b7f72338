"""The examples in docs/ run as documented, against real servers and real clients."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import aiohttp
import pytest
import socketio

from siomw_core import Config, CoreSettings, Siomw, load_config
from siomw_core.registry import Registry
from siomw_core.testing import connect_result, serve
from tests.docs_js import requires_docs_js, run_example_js

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def load_example(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import docs/examples/<name>.py afresh, as a user runs it: the bundled plugins are
    installed, and the example itself says which it uses."""
    monkeypatch.delenv("SIOMW_PLUGINS", raising=False)
    monkeypatch.delenv("SIOMW_CONFIG", raising=False)
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _no_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no ./siomw.toml is picked up by accident


async def test_registering_runs_in_order_and_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    """connect_registering.py: first, second, handler; a wrong token is refused by second."""
    ex = load_example("connect_registering", monkeypatch)
    async with serve(ex.app) as url:
        outcome, data, client = await connect_result(url, auth={"token": "let-me-in"})
        assert outcome == "connect"
        await client.disconnect()
        assert ex.seen == ["first", "second", "connect handler"]
        outcome, data, _ = await connect_result(url, auth={"token": "nope"})
        refusal = {"message": "not authorized", "data": {"content": "Please retry later"}}
        assert (outcome, data) == ("connect_error", refusal)
        assert ex.seen[3:] == ["first", "second"]


@requires_docs_js
async def test_client_errors_example_prints_message_and_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """client_errors.mjs shows err.message, err.data and socket.active as the page says."""
    ex = load_example("connect_registering", monkeypatch)
    async with serve(ex.app) as url:
        lines = await run_example_js("client_errors.mjs", URL=url)
    assert lines == ["not authorized", '{"content":"Please retry later"}', "false"]


@requires_docs_js
async def test_credentials_object_and_function(monkeypatch: pytest.MonkeyPatch) -> None:
    """connect_credentials.py with client_credentials.mjs: auth as object and as function."""
    ex = load_example("connect_credentials", monkeypatch)
    async with serve(ex.app) as url:
        lines = await run_example_js("client_credentials.mjs", URL=url)
        assert lines == ["object: alice", "function: bob"]
        outcome, data, _ = await connect_result(url, auth={"token": "forged"})
        assert (outcome, data) == (
            "connect_error", {"message": "unknown user", "data": {"code": "invalid_token"}}
        )


async def test_starlette_routes_untouched_and_namespace_guarded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """connect_starlette.py: Starlette serves /health; Socket.IO connections need the key."""
    ex = load_example("connect_starlette", monkeypatch)
    async with serve(ex.app) as url:
        async with aiohttp.ClientSession() as http, http.get(f"{url}/health") as resp:
            assert resp.status == 200
            assert await resp.json() == {"ok": True}
        outcome, data, _ = await connect_result(url)
        assert data == {"message": "missing API key", "data": {"code": "invalid_request"}}
        outcome, data, client = await connect_result(url, headers={"X-Api-Key": "k1"})
        assert outcome == "connect"
        await client.disconnect()


async def test_third_party_plugin_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """plugin_audit.py: its table is validated, its middleware refuses blocked addresses."""
    ex = load_example("plugin_audit", monkeypatch)
    sio = socketio.AsyncServer(async_mode="asgi")
    config = Config(source="test", core=CoreSettings(),
                    tables={"audit": {"blocked": ["127.0.0.1"]}})
    mw = Siomw(sio, config=config, entry_points=False, local_plugins=[("audit", ex)])
    assert [p.middleware.name for p in mw.placed("connect", "/")] == ["audit"]
    async with serve(mw.asgi_app()) as url:
        _, data, _ = await connect_result(url)
    assert data == {"message": "address blocked", "data": {"code": "blocked"}}
    bad = Config(source="siomw.toml", core=CoreSettings(), tables={"audit": {"blockd": []}})
    with pytest.raises(Exception, match=r"siomw.toml: \[audit\] blockd: unknown key"):
        Siomw(socketio.AsyncServer(async_mode="asgi"), config=bad, entry_points=False,
              local_plugins=[("audit", ex)])


def test_configuration_example_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/examples/siomw.toml validates against the installed bundled plugins."""
    monkeypatch.setenv("SIOMW_JWT_SECRET", "a-secret-of-at-least-32-bytes-for-hs256!")
    monkeypatch.delenv("SIOMW_PLUGINS", raising=False)
    registry = Registry(load_config(EXAMPLES / "siomw.toml"))
    names = {r.name: r for r in registry.plugins()}
    for plugin in ("logging", "jwt", "ratelimit"):
        assert plugin in names, f"bundled plugin {plugin} is not installed"
        assert names[plugin].enabled, names[plugin].error


