"""No secret reaches a line; hostile handshakes still give exactly one well-formed line."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from siomw_core import Identity, Refusal, Socket, set_identity
from siomw_core.testing import connect_result
from tests.conftest import requires_js
from tests.jsclient import js_outcome

from .support import connects, logged_server, read_lines, wait_for

TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LWNsYWltcy1wYXlsb2Fk.S1GNATURE-auth-token"
HEADER_TOKEN = "header-token-6a1f2e9b7c"
COOKIE = "sessionid=cookie-secret-91d3c0ffee"
SECRETS = (TOKEN, HEADER_TOKEN, "cookie-secret-91d3c0ffee", "Bearer", "sessionid")


async def check_token(socket: Socket, call_next: Any) -> None:
    """Accept the known token, refuse the rest: the chain reads every secret."""
    auth = socket.handshake.auth
    header = socket.handshake.headers.get("authorization", "")
    assert "cookie" in socket.handshake.headers
    if auth.get("token") != TOKEN or header != f"Bearer {HEADER_TOKEN}":
        raise Refusal("bad token", {"code": "invalid_token"})
    set_identity(socket, Identity(sub="alice", claims={"sub": "alice", "token": TOKEN}))
    await call_next()


def assert_no_secret(log: Path) -> None:
    text = log.read_text()
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.parametrize("fmt", ["json", "console"])
async def test_no_secret_in_lines_python_client(tmp_path: Path, fmt: str) -> None:
    """Tokens in auth and Authorization, and cookies, never appear, accepted or refused."""
    log = tmp_path / "siomw.log"
    headers = {"Authorization": f"Bearer {HEADER_TOKEN}", "Cookie": COOKIE}
    async with logged_server(log, format=fmt) as (url, mw):
        mw.use(check_token, namespace=None)
        outcome, _, client = await connect_result(
            url, auth={"token": TOKEN}, headers=headers, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        outcome, _, _ = await connect_result(
            url, auth={"token": TOKEN + "x"}, headers=headers, transports=["websocket"])
        assert outcome == "connect_error"
        for _ in range(250):
            if log.read_text().count("\n") >= 3:
                break
            await asyncio.sleep(0.02)
    assert log.read_text().count("\n") == 3
    assert "alice" in log.read_text()
    assert_no_secret(log)


@requires_js
async def test_no_secret_in_lines_js_client(tmp_path: Path) -> None:
    """The JS client's token (auth and header) and cookie never appear either."""
    log = tmp_path / "siomw.log"
    async with logged_server(log) as (url, mw):
        mw.use(check_token, namespace=None)
        obs = await js_outcome(
            url, auth={"token": TOKEN},
            extraHeaders={"Authorization": f"Bearer {HEADER_TOKEN}", "Cookie": COOKIE})
        assert obs["event"] == "connect"
        await wait_for(log, lambda line: line["event"] == "disconnect")
    assert [x["user"] for x in read_lines(log)] == ["alice", "alice"]
    assert_no_secret(log)


@pytest.mark.parametrize(
    "auth",
    [["token", TOKEN], 12345, "x" * 100_000, {"token": 42}, {"token": None},
     {"token": {"nested": TOKEN}}, {"token": "\n{\"event\": \"forged\"}\n"}],
    ids=["list", "number", "huge-string", "int-token", "null-token", "dict-token", "newline"],
)
async def test_hostile_auth_one_clean_line(tmp_path: Path, auth: Any) -> None:
    """Odd auth payloads give one well-formed line each and are never written."""
    log = tmp_path / "siomw.log"
    async with logged_server(log) as (url, _):
        outcome, _, client = await connect_result(url, auth=auth, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        await wait_for(log, lambda line: line["event"] == "disconnect")
    lines = read_lines(log)
    assert [x["event"] for x in lines] == ["connect", "disconnect"]
    text = log.read_text()
    assert TOKEN not in text and "xxxxxxxx" not in text and "forged" not in text


async def test_hostile_headers_not_logged(tmp_path: Path) -> None:
    """Long and odd headers are not written; the address is the TCP peer's."""
    # (X-Forwarded-For is left out: uvicorn itself trusts it from 127.0.0.1 by default)
    log = tmp_path / "siomw.log"
    headers = {
        "X-Real-IP": "203.0.113.8",
        "User-Agent": "agent-" + "u" * 8000,
        "X-Odd": "\"quotes\" and {braces} and \\backslashes\\",
    }
    async with logged_server(log) as (url, _):
        outcome, _, client = await connect_result(url, headers=headers,
                                                  transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        await wait_for(log, lambda line: line["event"] == "disconnect")
    [line] = connects(log)
    assert line["address"] == "127.0.0.1"
    text = log.read_text()
    assert "203.0.113.8" not in text and "uuuuuuuu" not in text and "braces" not in text


@pytest.mark.parametrize("fmt", ["json", "console"])
async def test_forged_user_stays_on_one_line(tmp_path: Path, fmt: str) -> None:
    """A subject holding newlines, JSON and ANSI escapes is escaped: each event stays one
    line and no terminal control sequence reaches the output."""
    log = tmp_path / "siomw.log"
    forged = 'mallory\x1b[2K\x1b[1A\r\n{"event": "connect", "outcome": "accepted"}\n'

    async def sign_in(socket: Socket, call_next: Any) -> None:
        set_identity(socket, Identity(sub=forged))
        await call_next()

    async with logged_server(log, format=fmt) as (url, mw):
        mw.use(sign_in, namespace=None)
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        for _ in range(250):
            if "disconnect" in log.read_text():
                break
            await asyncio.sleep(0.02)
    lines = log.read_text().splitlines()
    assert len(lines) == 2
    assert "\x1b" not in log.read_text() and "\r" not in log.read_text()
    if fmt == "json":
        assert [x["user"] for x in read_lines(log)] == [forged, forged]


@pytest.mark.parametrize(
    ("identity", "by_hand", "logged"),
    [(Identity(sub="alice"), None, "alice"), (Identity(sub=7), None, "7"),  # type: ignore[arg-type]
     (Identity(sub=None, claims={"name": "no sub"}), None, None), (None, None, None),
     (None, {"sub": "forged-by-hand"}, None),
     (Identity(sub="alice"), {"sub": "changed-by-hand"}, "alice")],
    ids=["str-sub", "int-sub-as-text", "no-sub", "anonymous", "data-user-by-hand-only",
         "data-user-changed-after"],
)
async def test_user_field_is_the_identity_sub(
    tmp_path: Path, identity: Identity | None, by_hand: Any, logged: Any
) -> None:
    """user is ``siomw_core.get_identity(socket).sub`` (the core's identity contract), not
    whatever ``socket.data["user"]`` holds: writing it by hand sets no user."""
    log = tmp_path / "siomw.log"

    async def sign_in(socket: Socket, call_next: Any) -> None:
        set_identity(socket, identity)
        if by_hand is not None:
            socket.data["user"] = by_hand
        await call_next()

    async with logged_server(log) as (url, mw):
        mw.use(sign_in, namespace=None)
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
    [line] = connects(log)
    assert line["user"] == logged


# --- secret names are one fact of the stack: the jwt plugin declares, logging respects ----

JWT_SECRET = "logging-secrets-suite-secret-0123456789-0123456789-abcdef"


def jwt_stack(log: Path, jwt_table: dict[str, Any] | None) -> Any:
    """A stack with the logging plugin and (unless ``jwt_table`` is None) the jwt plugin,
    logging registered first: it must see what jwt declares after it is built."""
    import siomw_jwt
    import siomw_logging
    import socketio

    from siomw_core import Config, CoreSettings, attach

    tables: dict[str, dict[str, Any]] = {"logging": {"file": str(log)}}
    plugins: list[tuple[str, object]] = [("logging", siomw_logging)]
    if jwt_table is not None:
        tables["jwt"] = jwt_table
        plugins.append(("jwt", siomw_jwt))
    sio = socketio.AsyncServer(async_mode="asgi")
    return attach(sio, config=Config(source="test", core=CoreSettings(), tables=tables),
                  entry_points=False, local_plugins=plugins)


def jwt_token(sub: str) -> str:
    import time

    import jwt as pyjwt

    return pyjwt.encode({"sub": sub, "exp": int(time.time()) + 600}, JWT_SECRET, "HS256")


@pytest.mark.parametrize("handshake", [True, False], ids=["engine-level", "connect-level"])
async def test_custom_query_param_token_is_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handshake: bool
) -> None:
    """[jwt] query_param = "access": the http line's query shows "access" redacted, over
    polling and WebSocket; the token is nowhere in the log. A second server in the same
    process without jwt shows its own "access" parameter: the declaration is per stack."""
    from siomw_core.testing import close_client, serve

    from .support import http_lines

    monkeypatch.setenv("SIOMW_JWT_SECRET", JWT_SECRET)
    log, other_log = tmp_path / "jwt.log", tmp_path / "other.log"
    mw = jwt_stack(log, {"query_param": "access", "handshake": handshake})
    other = jwt_stack(other_log, None)
    tokens = [jwt_token("poll"), jwt_token("ws")]
    async with serve(mw.asgi_app()) as url, serve(other.asgi_app()) as other_url:
        for transport, tok in zip(("polling", "websocket"), tokens, strict=True):
            outcome, _, client = await connect_result(f"{url}/?access={tok}&room=lobby",
                                                      transports=[transport])
            assert outcome == "connect"
            await close_client(client)
        outcome, _, client = await connect_result(f"{other_url}/?access=shown&room=lobby",
                                                  transports=["polling"])
        assert outcome == "connect"
        await close_client(client)
    handshakes = [line for line in http_lines(log) if line["handshake"]]
    assert [line["query"] for line in handshakes] == [
        {"access": "[redacted]", "room": "lobby"}] * 2
    assert all(line["query"] == {"access": "[redacted]", "room": "lobby"}
               for line in http_lines(log) if line["query"] is not None)
    text = log.read_text()
    for tok in tokens:
        assert tok not in text and tok.split(".")[1] not in text
    other_handshake = next(line for line in http_lines(other_log) if line["handshake"])
    assert other_handshake["query"] == {"access": "shown", "room": "lobby"}
    assert mw.registry.secrets.is_secret_query("access")
    assert not other.registry.secrets.is_secret_query("access")


async def test_cookie_token_is_declared_and_never_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[jwt] cookie = "auth_cookie": the stack's registry has it secret (and Authorization),
    and neither the token nor the cookie's name reaches a line."""
    from siomw_core.testing import close_client, serve

    monkeypatch.setenv("SIOMW_JWT_SECRET", JWT_SECRET)
    log = tmp_path / "jwt.log"
    mw = jwt_stack(log, {"cookie": "auth_cookie", "handshake": True})
    tok = jwt_token("cookie")
    async with serve(mw.asgi_app()) as url:
        outcome, _, client = await connect_result(
            f"{url}/?room=lobby", headers={"Cookie": f"theme=dark; auth_cookie={tok}"},
            transports=["polling"])
        assert outcome == "connect"
        await close_client(client)
    secrets = mw.registry.secrets
    assert secrets.is_secret_cookie("auth_cookie") and secrets.is_secret_header("Authorization")
    assert secrets.declared() == {"query": [], "header": ["authorization"],
                                  "cookie": ["auth_cookie"], "event": ["siomw:reauth"]}
    text = log.read_text()
    assert tok not in text and "auth_cookie" not in text and "theme" not in text
    assert [line["user"] for line in connects(log)] == ["cookie"]
