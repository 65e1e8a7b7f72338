"""docs/plugins/jwt.md's event-level examples run as documented: jwt_events_app.py with
jwt_events_siomw.toml, jwt_events_client.py and jwt_events_client.mjs (tokens from
`siomw token`)."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest
import siomw_jwt

from siomw_core import load_config
from siomw_core.testing import connect_result, serve
from tests.docs_js import REPO, requires_docs_js, run_example_js, run_siomw

EXAMPLES = REPO / "docs" / "examples"
TOML = "docs/examples/jwt_events_siomw.toml"


def load_app(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import docs/examples/jwt_events_app.py afresh, with only the jwt plugin enabled."""
    monkeypatch.setenv("SIOMW_PLUGINS", "jwt")
    monkeypatch.chdir(EXAMPLES)
    spec = importlib.util.spec_from_file_location("example_jwt_events_app",
                                                  EXAMPLES / "jwt_events_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def tokens() -> dict[str, str]:
    """The two tokens of the examples' comments, made with `siomw token` as written there."""
    # the short-lived one last: it must still be valid when the client connects
    fresh = await run_siomw("--config", TOML, "token", "--sub", "alice", "--scope", "admin")
    short = await run_siomw("--config", TOML, "token", "--sub", "alice", "--ttl", "5")
    return {"TOKEN": short, "FRESH_TOKEN": fresh}


def test_events_table_validates() -> None:
    """jwt_events_siomw.toml is a valid [jwt] table with its defaults spelt out."""
    config = load_config(EXAMPLES / "jwt_events_siomw.toml", environ={})
    options = siomw_jwt.JwtOptions.model_validate(config.table("jwt"))
    assert options.events["admin:ban"].scopes == ["admin"]
    assert (options.enforce_expiry, options.disconnect_on_expiry, options.reauth_event,
            options.leeway) == (True, False, "siomw:reauth", 0)


async def test_events_app_guards(monkeypatch: pytest.MonkeyPatch) -> None:
    """jwt_events_app.py: admin:kick (decorator), admin:ban ([jwt.events]) and /mod mute
    (AsyncNamespace method) are refused without their scope and answered with it."""
    ex = load_app(monkeypatch)
    options = siomw_jwt.JwtOptions.model_validate(
        load_config(EXAMPLES / "jwt_events_siomw.toml", environ={}).table("jwt"))
    plain = siomw_jwt.issue_token(options, "alice")
    strong = siomw_jwt.issue_token(options, "alice", ["admin", "mod"])
    async with serve(ex.app) as url:
        _, _, sock = await connect_result(url, auth={"token": plain})
        for event in ("admin:kick", "admin:ban"):
            reply = await sock.call(event, "bob", timeout=5)
            assert reply["error"]["data"]["scope"] == "admin"
        await sock.disconnect()
        _, _, sock = await connect_result(url, auth={"token": strong})
        assert await sock.call("admin:ban", "bob", timeout=5) == "banned bob"
        await sock.disconnect()
        _, _, sock = await connect_result(url, namespace="/mod", auth={"token": plain})
        reply = await sock.call("mute", "bob", namespace="/mod", timeout=5)
        assert reply["error"]["data"]["scope"] == "mod"
        await sock.disconnect()
        _, _, sock = await connect_result(url, namespace="/mod", auth={"token": strong})
        assert await sock.call("mute", "bob", namespace="/mod", timeout=5) == "muted bob"
        await sock.disconnect()
    assert ex.kicked == []


async def test_python_client_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """jwt_events_client.py, run as its docstring says: whoami, the insufficient_scope
    refusal, then the expired token re-authenticated and the kick answered."""
    ex = load_app(monkeypatch)
    env = await tokens()
    async with serve(ex.app) as url:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "docs/examples/jwt_events_client.py", cwd=REPO,
            env={**os.environ, **env, "URL": url},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert out.decode().splitlines() == [
        "whoami: alice",
        'Insufficient scope {"code": "insufficient_scope", "detail": "missing_scope", '
        '"scope": "admin"}',
        "re-authenticated",
        "kick: kicked bob",
    ]
    assert ex.kicked == ["bob"]


@requires_docs_js
async def test_js_client_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """jwt_events_client.mjs, run as its comment says: the same story from the JS client."""
    ex = load_app(monkeypatch)
    env = await tokens()
    async with serve(ex.app) as url:
        lines = await run_example_js("jwt_events_client.mjs", URL=url, TOKEN=env["TOKEN"],
                                     FRESH_TOKEN=env["FRESH_TOKEN"])
    assert lines == [
        "whoami: alice",
        'Insufficient scope {"code":"insufficient_scope","detail":"missing_scope",'
        '"scope":"admin"}',
        "re-authenticated",
        "kick: kicked bob",
    ]
    assert ex.kicked == ["bob"]


def test_examples_exist() -> None:
    """The files docs/plugins/jwt.md includes are there."""
    page = (REPO / "docs" / "plugins" / "jwt.md").read_text()
    for name in ("jwt_events_siomw.toml", "jwt_events_app.py", "jwt_events_client.py",
                 "jwt_events_client.mjs"):
        assert f'--8<-- "docs/examples/{name}"' in page
        assert Path(EXAMPLES / name).is_file()
