"""docs/plugins/jwt.md's examples run as documented: jwt_app.py, jwt_client.mjs, the tomls."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import siomw_jwt

from siomw_core import load_config
from siomw_core.testing import connect_result, serve
from tests.docs_js import requires_docs_js, run_example_js, run_siomw

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"


def load_app(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import docs/examples/jwt_app.py afresh, with only the jwt plugin installed-enabled."""
    monkeypatch.setenv("SIOMW_PLUGINS", "jwt")
    monkeypatch.chdir(EXAMPLES)
    spec = importlib.util.spec_from_file_location("example_jwt_app", EXAMPLES / "jwt_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def example_options(name: str) -> siomw_jwt.JwtOptions:
    config = load_config(EXAMPLES / name, environ={})
    return siomw_jwt.JwtOptions.model_validate(config.table("jwt"))


def test_example_tables_validate() -> None:
    """jwt_siomw.toml and jwt_rs256.toml are valid [jwt] tables."""
    hs = example_options("jwt_siomw.toml")
    assert hs.namespaces["/admin"].scopes == ["admin"]
    assert hs.namespaces["/public"].anonymous
    rs = example_options("jwt_rs256.toml")
    assert rs.algorithms == ["RS256", "PS256"]
    assert rs.audience == ["chat", "chat-mobile"]


async def test_app_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """jwt_app.py: a token from issue_token connects and whoami answers its sub; /public
    answers "anonymous" without a token; no token on / is invalid_request."""
    ex = load_app(monkeypatch)
    tok = siomw_jwt.issue_token(example_options("jwt_siomw.toml"), "alice")
    async with serve(ex.app) as url:
        outcome, _, client = await connect_result(url, auth={"token": tok})
        assert outcome == "connect"
        assert await client.call("whoami", timeout=5) == "alice"
        await client.disconnect()
        outcome, _, client = await connect_result(url, namespace="/public")
        assert outcome == "connect"
        assert await client.call("whoami", namespace="/public", timeout=5) == "anonymous"
        await client.disconnect()
        _, data, _ = await connect_result(url)
        assert data == {"message": "Authentication required",
                        "data": {"code": "invalid_request", "detail": "missing_token"}}
    assert ex.connected == ["alice"]


@requires_docs_js
async def test_js_client_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """jwt_client.mjs, run as its comment says (the token from `siomw token`), prints whoami,
    the insufficient_scope refusal, and a header connect."""
    ex = load_app(monkeypatch)
    tok = await run_siomw("--config", "docs/examples/jwt_siomw.toml", "token", "--sub", "alice")
    async with serve(ex.app) as url:
        lines = await run_example_js("jwt_client.mjs", URL=url, TOKEN=tok)
    assert lines == [
        "whoami: alice",
        "Insufficient scope",
        '{"code":"insufficient_scope","detail":"missing_scope","scope":"admin"}',
        "header: connected",
    ]
    assert ex.connected == ["alice", "alice"]


def load_handshake_app(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import docs/examples/jwt_handshake_app.py afresh (only the jwt plugin enabled)."""
    monkeypatch.setenv("SIOMW_PLUGINS", "jwt")
    monkeypatch.chdir(EXAMPLES)
    spec = importlib.util.spec_from_file_location("example_jwt_handshake_app",
                                                  EXAMPLES / "jwt_handshake_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_handshake_table_validates() -> None:
    """jwt_handshake_siomw.toml is a valid [jwt] table with the handshake check on."""
    options = example_options("jwt_handshake_siomw.toml")
    assert options.handshake and options.handshake_scopes == ["chat"]
    assert (options.query_param, options.cookie) == ("token", "access_token")


async def test_handshake_app_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """jwt_handshake_app.py: a chat token connects by header, query or cookie and whoami
    answers the greeting built from handshake.state; no token is a 401 before any session,
    a token without "chat" a 403; /admin still needs "admin"."""
    from siomw_core.testing import close_client

    ex = load_handshake_app(monkeypatch)
    options = example_options("jwt_handshake_siomw.toml")
    chat = siomw_jwt.issue_token(options, "alice", ["chat"])
    async with serve(ex.app) as url:
        for target, headers in [(url, {"Authorization": f"Bearer {chat}"}),
                                (f"{url}?token={chat}", {}),
                                (url, {"Cookie": f"access_token={chat}"})]:
            outcome, _, client = await connect_result(target, headers=headers)
            assert outcome == "connect"
            assert await client.call("whoami", timeout=5) == "hello alice"
            await close_client(client)
        _, data, _ = await connect_result(url, transports=["polling"])
        assert data == {"message": "Authentication required",
                        "data": {"code": "invalid_request", "detail": "missing_token"}}
        no_chat = siomw_jwt.issue_token(options, "bob", ["admin"])
        _, data, _ = await connect_result(url, headers={"Authorization": f"Bearer {no_chat}"},
                                          transports=["polling"])
        assert data["data"] == {"code": "insufficient_scope", "detail": "missing_scope",
                                "scope": "chat"}
        _, data, _ = await connect_result(url, headers={"Authorization": f"Bearer {chat}"},
                                          namespace="/admin")
        assert data["data"]["scope"] == "admin"
    assert ex.connected == ["alice"] * 3


@requires_docs_js
async def test_handshake_js_client_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """jwt_handshake_client.mjs, run as its comment says (the token from `siomw token`): header
    connect, the 401 transport error, query connect."""
    ex = load_handshake_app(monkeypatch)
    tok = await run_siomw("--config", "docs/examples/jwt_handshake_siomw.toml", "token",
                          "--sub", "alice", "--scope", "chat")
    async with serve(ex.app) as url:
        lines = await run_example_js("jwt_handshake_client.mjs", URL=url, TOKEN=tok)
    assert lines == [
        "whoami: hello alice",
        "xhr poll error 401",
        "query: hello alice",
    ]
    assert ex.connected == ["alice", "alice"]
