"""``[jwt] revocation``: revoked ``jti`` values in the real local Redis (127.0.0.1:6379, a key
prefix of each test's own, deleted after), refused at connect and at a connected socket's
next event, on both server kinds, with python-socketio and JS clients; ``siomw token
revoke``; the failure policy against a Redis that is not there."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from tests.conftest import requires_js
from tests.jsclient import js_outcome
from tests.plugins.jwt.events_helpers import client, events_server, recorder
from tests.plugins.jwt.helpers import AUDIENCE, ISSUER, TABLE, jwt_server, refusal, token
from tests.plugins.jwt.test_cli import siomw_group
from tests.plugins.kinds import KINDS, connect_outcome

REDIS = "redis://127.0.0.1:6379/0"
REVOKED = refusal("Token revoked", "invalid_token", "revoked")
UNAVAILABLE = refusal("Token revocation check unavailable", "temporarily_unavailable",
                      "revocation_unavailable")


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted after."""
    name = f"siomw:test:{uuid.uuid4().hex}:"
    yield name
    client = redis.Redis.from_url(REDIS)
    keys = list(client.scan_iter(match=name + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def table(prefix: str, **extra: Any) -> dict[str, Any]:
    return {**TABLE, "revocation": REDIS, "revocation_prefix": prefix, **extra}


def revoke(prefix: str, tmp_path: Path, jti: str, *args: str) -> str:
    """``siomw token revoke JTI ARGS`` with a siomw.toml naming the test's Redis prefix."""
    path = tmp_path / "siomw.toml"
    path.write_text(f'plugins = ["jwt"]\n\n[jwt]\naudience = "{AUDIENCE}"\n'
                    f'issuer = "{ISSUER}"\nrevocation = "{REDIS}"\n'
                    f'revocation_prefix = "{prefix}"\nrevocation_ttl = 7200\n')
    result = CliRunner().invoke(siomw_group(), ["--config", str(path), "token", "revoke",
                                                jti, *args])
    assert result.exit_code == 0, result.output
    return result.output.strip()


@pytest.mark.parametrize("kind", KINDS)
async def test_revoked_at_connect(kind: str, prefix: str, tmp_path: Path) -> None:
    """A token whose jti was revoked with ``siomw token revoke`` is refused at connect
    (invalid_token/revoked); other jtis and tokens without jti connect. The revocation is
    kept for revocation_ttl seconds (--ttl overrides)."""
    assert revoke(prefix, tmp_path, "t-revoked") == "revoked jti 't-revoked' for 7200 s"
    assert revoke(prefix, tmp_path, "t-short", "--ttl", "120") == \
        "revoked jti 't-short' for 120 s"
    store = redis.Redis.from_url(REDIS)
    ttls: list[Any] = [store.ttl(prefix + "t-revoked"), store.ttl(prefix + "t-short")]
    assert 7100 < ttls[0] <= 7200
    assert 0 < ttls[1] <= 120
    store.close()
    async with jwt_server(table(prefix), kind=kind) as (url, _):
        for jti in ("t-revoked", "t-short"):
            assert await connect_outcome(kind, url, auth={"token": token(jti=jti)}) == (
                "connect_error", REVOKED)
        assert await connect_outcome(kind, url, auth={"token": token(jti="t-ok")}) == (
            "connect", None)
        assert await connect_outcome(kind, url, auth={"token": token()}) == ("connect", None)


@pytest.mark.parametrize("kind", KINDS)
async def test_revoked_at_next_event(kind: str, prefix: str, tmp_path: Path) -> None:
    """A connected socket whose token is revoked has its next event refused
    (invalid_token/revoked, with an ack and without); it stays connected, and another
    socket is unaffected."""
    async with events_server(table(prefix), kind=kind) as app:
        async with client(app.url, token(jti="t-1"), kind=kind) as sock, \
                client(app.url, token(jti="t-2"), kind=kind) as other:
            errors = recorder(sock, "siomw:error")
            assert await sock.call("echo", 1, timeout=5) == [1]
            revoke(prefix, tmp_path, "t-1")
            assert await sock.call("echo", 2, timeout=5) == {"error": REVOKED}
            await sock.emit("echo", 3)
            assert await asyncio.wait_for(errors.get(), 5) == {"event": "echo", **REVOKED}
            assert await other.call("echo", 4, timeout=5) == [4]
            assert sock.connected
    assert [name for name, _ in app.calls] == ["echo", "echo"]


@requires_js
async def test_revoked_js(prefix: str, tmp_path: Path) -> None:
    """The JS client gets the CONNECT_ERROR payload for a revoked token."""
    revoke(prefix, tmp_path, "t-js")
    async with jwt_server(table(prefix)) as (url, _):
        obs = await js_outcome(url, auth={"token": token(jti="t-js")})
        assert obs["event"] == "connect_error"
        assert {"message": obs["message"], "data": obs["data"]} == REVOKED
        assert (await js_outcome(url, auth={"token": token(jti="t-other")}))["event"] == \
            "connect"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("policy", ["closed", "open"])
async def test_store_down(kind: str, policy: str, prefix: str,
                          caplog: pytest.LogCaptureFixture) -> None:
    """Redis not there: "closed" refuses temporarily_unavailable, "open" accepts; one
    warning for the outage whatever the number of tokens."""
    caplog.set_level(logging.WARNING, logger="siomw.jwt")
    down = f"redis://127.0.0.1:{closed_port()}/0"
    cfg = table(prefix, revocation=down, revocation_on_error=policy)
    async with jwt_server(cfg, kind=kind) as (url, _):
        for n in range(3):
            got = await connect_outcome(kind, url, auth={"token": token(jti=f"t-{n}")})
            assert got == (("connect", None) if policy == "open"
                           else ("connect_error", UNAVAILABLE))
    warned = [r.getMessage() for r in caplog.records if "does not answer" in r.getMessage()]
    assert len(warned) == 1, warned
    assert warned[0].startswith(f"siomw: [jwt] revocation {down} does not answer")


def test_revoke_needs_revocation(tmp_path: Path) -> None:
    """``siomw token revoke`` without [jwt] revocation says what to set."""
    path = tmp_path / "siomw.toml"
    path.write_text('plugins = ["jwt"]\n')
    result = CliRunner().invoke(siomw_group(), ["--config", str(path), "token", "revoke", "x"])
    assert result.exit_code == 1
    assert "[jwt] revocation: not set; expected a Redis URL" in result.output


async def test_shutdown_releases_the_client(prefix: str, tmp_path: Path) -> None:
    """``await mw.shutdown()`` closes the revocation client's connections; a later lookup
    (the stack started again) opens new ones."""
    from tests.plugins.jwt.events_helpers import build
    from tests.plugins.kinds import served

    sio, mw, _ = build(table(prefix), "async")
    revoke(prefix, tmp_path, "t-gone")
    async with served(sio) as url:
        assert await connect_outcome("async", url, auth={"token": token(jti="t-gone")}) == (
            "connect_error", REVOKED)
        await mw.shutdown()
        assert await connect_outcome("async", url, auth={"token": token(jti="t-gone")}) == (
            "connect_error", REVOKED)
        assert await connect_outcome("async", url, auth={"token": token(jti="t-ok")}) == (
            "connect", None)
