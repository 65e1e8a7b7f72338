"""docs/plugins/jwt.md's JWKS and revocation examples run as written: the tomls (the JWKS
URL pointed at a loopback provider through the documented environment override, the Redis
prefix made the test's own the same way), the providers' URL table, and the shell lines of
``siomw token`` / ``siomw token revoke``."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis
import siomw_jwt
import socketio
from siomw_jwt.options import jwks_url_problem

from siomw_core import attach, load_config
from siomw_core.testing import connect_result, serve
from tests.docs_js import run_siomw
from tests.plugins.jwt.jwks_helpers import SigningKey, provider

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "docs" / "examples"
PAGE = (REPO / "docs" / "plugins" / "jwt.md").read_text()


def served_app(config: Any) -> Any:
    sio = socketio.AsyncServer(async_mode="asgi")
    attach(sio, config=config, entry_points=False, local_plugins=[("jwt", siomw_jwt)])
    return socketio.ASGIApp(sio)


def test_provider_table() -> None:
    """Every jwks_url of the providers' table is https and accepted as a jwks_url; the
    example toml's URL is the Auth0 row's."""
    section = PAGE.split("## Keys from the identity provider: JWKS", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`https://" in
            line]
    providers = {row.split("|")[1].strip().split(" ")[0]: re.findall(r"`(https://[^`]+)`", row)
                 for row in rows}
    assert sorted(providers) == ["Amazon", "Auth0", "Keycloak", "Microsoft", "Okta"]
    for urls in providers.values():
        assert len(urls) == 2  # jwks_url, issuer
        assert jwks_url_problem(urls[0]) is None
    options = load_config(EXAMPLES / "jwt_jwks_siomw.toml", environ={}).table("jwt")
    assert [options["jwks_url"], options["issuer"]] == providers["Auth0"]


async def test_jwks_example() -> None:
    """jwt_jwks_siomw.toml, its jwks_url set to a loopback provider with
    SIOMW_JWT__JWKS_URL: a token of the published key with the toml's iss and aud connects;
    one of another issuer is refused."""
    key = SigningKey("2024-rotation")
    with provider() as idp:
        idp.publish(key.jwk())
        config = load_config(EXAMPLES / "jwt_jwks_siomw.toml",
                             environ={"SIOMW_JWT__JWKS_URL": idp.url})
        table = config.table("jwt")
        good = key.token(aud=table["audience"], iss=table["issuer"])
        async with serve(served_app(config)) as url:
            outcome, _, client = await connect_result(url, auth={"token": good})
            assert outcome == "connect"
            await client.disconnect()
            outcome, data, _ = await connect_result(url, auth={"token": key.token(
                aud=table["audience"], iss="https://elsewhere.example/")})
            assert data["data"]["detail"] == "invalid_issuer"
        assert idp.hits == 1


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"siomw:test:{uuid.uuid4().hex}:"
    yield name
    store = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    keys = list(store.scan_iter(match=name + "*"))
    if keys:
        store.delete(*keys)
    store.close()


async def test_revocation_example(tmp_path: Path, prefix: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's shell lines, run in a directory holding jwt_revocation_siomw.toml as
    siomw.toml (SIOMW_JWT__REVOCATION_PREFIX set to the test's own prefix): the token of
    session-42 is refused once revoked, a fresh `siomw token` (random jti) connects, and the
    two revocations expire after revocation_ttl and --ttl seconds."""
    shutil.copy(EXAMPLES / "jwt_revocation_siomw.toml", tmp_path / "siomw.toml")
    monkeypatch.setenv("SIOMW_JWT__REVOCATION_PREFIX", prefix)
    monkeypatch.setenv("SIOMW_PLUGINS", "jwt")
    section = PAGE.split("\n## Revocation\n", 1)[1].split("\n## ", 1)[0]
    script = section.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [re.split(r"\s+#", line)[0].strip() for line in script.strip().splitlines()]
    assert lines[0] == 'TOKEN="$(siomw token --config siomw.toml --sub alice --jti session-42)"'
    tok = await run_siomw(*lines[0][len('TOKEN="$(siomw '):-len(')"')].split(), cwd=tmp_path)
    for line in lines[1:]:
        assert line.startswith("siomw token revoke ")
        await run_siomw(*line.split()[1:], cwd=tmp_path)
    assert jwt.decode(tok, options={"verify_signature": False})["jti"] == "session-42"
    store = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    ttls: list[Any] = [store.ttl(prefix + "session-42"), store.ttl(prefix + "session-43")]
    store.close()
    assert 3500 < ttls[0] <= 3600 and 500 < ttls[1] <= 600
    fresh = await run_siomw("token", "--config", "siomw.toml", "--sub", "bob", cwd=tmp_path)
    config = load_config(tmp_path / "siomw.toml")
    async with serve(served_app(config)) as url:
        _, data, _ = await connect_result(url, auth={"token": tok})
        assert data == {"message": "Token revoked",
                        "data": {"code": "invalid_token", "detail": "revoked"}}
        outcome, _, client = await connect_result(url, auth={"token": fresh})
        assert outcome == "connect"
        await client.disconnect()
