"""``jwks_file``, the key options' errors (one line each, at startup) and the cache rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import siomw_jwt
import socketio
from jwt.algorithms import RSAAlgorithm
from siomw_jwt.jwks import cache_seconds, parse_jwks

from siomw_core import Config, ConfigError, CoreSettings, attach
from tests.plugins.jwt.helpers import TABLE, jwt_server, refusal
from tests.plugins.jwt.jwks_helpers import SigningKey
from tests.plugins.kinds import KINDS, connect_outcome


@pytest.fixture(scope="module")
def key_a() -> SigningKey:
    return SigningKey("key-a")


def startup_error(table: dict[str, Any]) -> str:
    sio = socketio.AsyncServer(async_mode="asgi")
    config = Config(source="siomw.toml", core=CoreSettings(), tables={"jwt": table})
    with pytest.raises(ConfigError) as info:
        attach(sio, config=config, entry_points=False, local_plugins=[("jwt", siomw_jwt)])
    return str(info.value)


@pytest.mark.parametrize("kind", KINDS)
async def test_jwks_file(kind: str, tmp_path: Path, key_a: SigningKey) -> None:
    """A JWK Set file: its key verifies tokens naming its kid; another kid is unknown."""
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [key_a.jwk()]}))
    table = {**TABLE, "algorithms": ["RS256"], "jwks_file": str(path)}
    async with jwt_server(table, kind=kind) as (url, _):
        assert await connect_outcome(kind, url, auth={"token": key_a.token()}) == (
            "connect", None)
        assert await connect_outcome(kind, url, auth={"token": key_a.token(kid="x")}) == (
            "connect_error", refusal("Token key is not known", "invalid_token", "unknown_key"))


def test_startup_errors(tmp_path: Path, key_a: SigningKey) -> None:
    """Each wrong key configuration stops startup with one line naming the option."""
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert startup_error({"algorithms": ["RS256"], "jwks_file": str(bad)}) == (
        f"siomw.toml: [jwt]: jwks_file: {str(bad)!r}: not JSON (Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1))")
    private = tmp_path / "private.json"
    jwk = json.loads(RSAAlgorithm.to_jwk(key_a.private))
    private.write_text(json.dumps({"keys": [{**jwk, "kid": "p"}]}))
    assert startup_error({"algorithms": ["RS256"], "jwks_file": str(private)}) == (
        f"siomw.toml: [jwt]: jwks_file: {str(private)!r}: no key usable with RS256 (kid 'p': "
        "a private key (a key set publishes public keys))")
    assert "expected asymmetric algorithms" in startup_error({"jwks_file": str(bad)})
    assert startup_error({"algorithms": ["RS256"], "jwks_file": str(bad),
                          "jwks_url": "https://idp.example/jwks"}) == (
        "siomw.toml: [jwt]: jwks_file: set together with jwks_url; expected one of them")
    assert startup_error({"algorithms": ["RS256"], "jwks_url": "http://idp.example/jwks"}
                         ).startswith("siomw.toml: [jwt] jwks_url: expected an https:// URL")
    assert startup_error({"algorithms": ["RS256"], "jwks_min_ttl": 600, "jwks_max_ttl": 60,
                          "jwks_file": str(bad)}).startswith(
        "siomw.toml: [jwt] jwks_max_ttl: expected jwks_max_ttl >= jwks_min_ttl")


def test_parse_and_cache_rules(key_a: SigningKey) -> None:
    """Keys for encryption, of a disallowed alg or not parseable are left out; Cache-Control
    max-age is bounded by jwks_min_ttl/jwks_max_ttl."""
    doc = {"keys": [key_a.jwk(), {**key_a.jwk(kid="enc"), "use": "enc"},
                    {**key_a.jwk(kid="rs512"), "alg": "RS512"}, {"kty": "RSA", "kid": "junk"}]}
    assert list(parse_jwks(json.dumps(doc).encode(), ["RS256"], "test")) == ["key-a"]
    with pytest.raises(ValueError, match='not a JWK Set'):
        parse_jwks(b"[]", ["RS256"], "test")
    assert cache_seconds("public, max-age=15", 60, 86400) == 60
    assert cache_seconds("max-age=7200, must-revalidate", 60, 86400) == 7200
    assert cache_seconds("max-age=999999", 60, 86400) == 86400
    assert cache_seconds(None, 60, 86400) == 60
    assert cache_seconds("no-store", 0, 86400) == 0
