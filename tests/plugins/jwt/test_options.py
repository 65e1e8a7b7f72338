"""The [jwt] table: defaults, and startup errors that name table, key, expected and found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import siomw_jwt
import socketio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from siomw_core import Config, ConfigError, CoreSettings, Siomw, attach
from tests.plugins.jwt.helpers import SECRET


def build(table: dict[str, Any], *, strict: bool = False) -> Siomw:
    sio = socketio.AsyncServer(async_mode="asgi")
    config = Config(source="siomw.toml", core=CoreSettings(strict=strict), tables={"jwt": table})
    return attach(sio, config=config, entry_points=False, local_plugins=[("jwt", siomw_jwt)])


def startup_error(table: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        build(table)
    return str(info.value)


def test_defaults() -> None:
    """Embedded defaults: HS256 from $SIOMW_JWT_SECRET, exp required, no leeway, 8 KiB cap."""
    options = siomw_jwt.JwtOptions()
    assert options.algorithms == ["HS256"]
    assert options.secret_env == "SIOMW_JWT_SECRET"
    assert options.require == ["exp"]
    assert (options.audience, options.issuer, options.leeway) == (None, None, 0)
    assert options.max_token_bytes == 8192
    assert options.namespaces == {}


def test_middleware_spec() -> None:
    """One connect middleware named jwt, priority 1000, guarding every namespace."""
    mw = build({})
    [spec] = mw.registry.middlewares("connect")
    assert (spec.name, spec.level, spec.priority, spec.namespaces, spec.plugin) == (
        "jwt", "connect", 1000, None, "jwt"
    )


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"algorithms": ["HS256", "RS256"]},
         "siomw.toml: [jwt] algorithms: expected algorithms that do not mix symmetric (HS*) "
         "and asymmetric ones"),
        ({"algorithms": ["none"]}, "[jwt] algorithms: expected an allow-list without 'none'"),
        ({"algorithms": ["HS256", "None"]}, "[jwt] algorithms: expected an allow-list without"),
        ({"algorithms": []}, "[jwt] algorithms: expected a non-empty list of algorithms; "
                             "found [] (list)"),
        ({"algorithms": ["HS257"]}, "[jwt] algorithms: expected algorithms among ES256"),
        ({"algorithms": "HS256"}, "[jwt] algorithms: expected Input should be a valid list"),
        ({"secrett": "x"}, "siomw.toml: [jwt] secrett: unknown key; expected a known key ("),
        ({"leeway": "soon"}, "[jwt] leeway: expected Input should be a valid number"),
        ({"leeway": -1}, "[jwt] leeway: expected Input should be greater than or equal to 0"),
        ({"max_token_bytes": 0}, "[jwt] max_token_bytes: expected Input should be greater"),
        ({"namespaces": {"/admin": {"scopez": ["admin"]}}},
         "[jwt] namespaces.\"/admin\".scopez: unknown key"),
        ({"namespaces": {"/admin": {"anonymous": "maybe"}}},
         "[jwt] namespaces.\"/admin\".anonymous: expected Input should be a valid boolean"),
        ({"namespaces": {"admin": {"scopes": ["admin"]}}},
         '[jwt] namespaces: expected namespace names starting with "/"'),
        ({"namespaces": {"/admin": {"scopes": ["two words"]}}},
         "[jwt] namespaces.\"/admin\".scopes: expected scope names without spaces"),
        ({"secret_env": ""}, "[jwt] secret_env: expected the name of an environment variable"),
        ({"require": [""]}, "[jwt] require: expected non-empty claim names"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_table_names_table_key_expected_found(table: dict[str, Any], expected: str) -> None:
    """A table that does not validate stops startup with a message naming table and key."""
    assert expected in startup_error(table)


def test_missing_secret_env_stops_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset or empty secret variable is a startup error (never a skipped plugin), even
    without strict mode."""
    monkeypatch.delenv("SIOMW_JWT_SECRET")
    assert startup_error({}) == (
        "siomw.toml: [jwt]: secret_env: environment variable 'SIOMW_JWT_SECRET' is not set; "
        "expected the HMAC secret for HS256"
    )
    monkeypatch.setenv("MY_SECRET", "")
    assert "environment variable 'MY_SECRET' is empty" in startup_error({"secret_env": "MY_SECRET"})


def test_short_secret_refused_without_leaking_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret shorter than the hash (RFC 7518 §3.2) is refused; the message never shows it."""
    monkeypatch.setenv("SIOMW_JWT_SECRET", "short-secret-value")
    message = startup_error({})
    assert "[jwt]: secret_env: environment variable 'SIOMW_JWT_SECRET'" in message
    assert "below the minimum" in message
    assert "short-secret-value" not in message
    # 64 bytes suffice for HS512 as well
    monkeypatch.setenv("SIOMW_JWT_SECRET", SECRET)
    build({"algorithms": ["HS256", "HS384", "HS512"]})


def write_pem(path: Path, key: Any, private: bool = False) -> str:
    if private:
        data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    else:
        data = key.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    path.write_bytes(data)
    return str(path)


def test_key_file_errors(tmp_path: Path) -> None:
    """Asymmetric algorithms need a readable PEM public key fitting every listed algorithm."""
    assert startup_error({"algorithms": ["RS256"]}) == (
        "siomw.toml: [jwt]: public_key_file: missing; expected a PEM public key file for RS256 "
        "(or the identity provider's keys: jwks_url or jwks_file)"
    )
    missing = str(tmp_path / "absent.pem")
    assert startup_error({"algorithms": ["RS256"], "public_key_file": missing}) == (
        f"siomw.toml: [jwt]: public_key_file: cannot read {missing!r}: No such file or directory"
    )
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    assert "not a key for RS256" in startup_error(
        {"algorithms": ["RS256"], "public_key_file": str(garbage)}
    )
    ec_pem = write_pem(tmp_path / "ec.pem", ec.generate_private_key(ec.SECP256R1()))
    assert "not a key for RS256" in startup_error(
        {"algorithms": ["ES256", "RS256"], "public_key_file": ec_pem}
    )
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = write_pem(tmp_path / "private.pem", rsa_key, private=True)
    assert "holds a private key" in startup_error(
        {"algorithms": ["RS256"], "public_key_file": private}
    )
    assert "public_key_file: set, but algorithms are HMAC" in startup_error(
        {"public_key_file": write_pem(tmp_path / "rsa.pem", rsa_key)}
    )
    build({"algorithms": ["ES256"], "public_key_file": ec_pem})


def test_handshake_defaults_and_specs() -> None:
    """handshake is off by default (no engine member); on, jwt-handshake joins the engine
    chain at priority 1000, not for CORS preflight, and the connect member stays."""
    options = siomw_jwt.JwtOptions()
    assert (options.handshake, options.handshake_scopes) == (False, [])
    assert (options.query_param, options.cookie) == (None, None)
    assert build({}).registry.middlewares("engine") == []
    mw = build({"handshake": True, "handshake_scopes": ["chat"], "query_param": "token",
                "cookie": "jwt"})
    [engine] = mw.registry.middlewares("engine")
    assert (engine.name, engine.level, engine.priority, engine.preflight, engine.plugin) == (
        "jwt-handshake", "engine", 1000, False, "jwt"
    )
    assert [m.name for m in mw.registry.middlewares("connect")] == ["jwt"]
    assert [row["name"] for row in mw.describe()["engine"]] == ["jwt-handshake"]


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"handshake": "sometimes"},
         "siomw.toml: [jwt] handshake: expected Input should be a valid boolean"),
        ({"handshake_scopes": ["chat"]},
         "[jwt] handshake_scopes: expected no handshake_scopes unless handshake = true (they "
         "are checked on the engine handshake); found ['chat'] (list)"),
        ({"handshake": True, "handshake_scopes": ["two words"]},
         "[jwt] handshake_scopes: expected scope names without spaces"),
        ({"handshake": True, "handshake_scopes": "chat"},
         "[jwt] handshake_scopes: expected Input should be a valid list"),
        ({"query_param": "sid"},
         "[jwt] query_param: expected a name that is not an Engine.IO parameter (EIO, b64, j, "
         "sid, t, transport); found 'sid' (str)"),
        ({"query_param": "the token"},
         "[jwt] query_param: expected a parameter name of letters, digits and ._~-"),
        ({"query_param": ""}, "[jwt] query_param: expected a parameter name"),
        ({"cookie": "a;b"},
         "[jwt] cookie: expected a cookie name (an RFC 6265 §4.1.1 token); found 'a;b' (str)"),
        ({"cookie": 5}, "[jwt] cookie: expected Input should be a valid string; found 5 (int)"),
        ({"handshak": True}, "[jwt] handshak: unknown key; expected a known key ("),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_handshake_keys(table: dict[str, Any], expected: str) -> None:
    """Bad handshake, handshake_scopes, query_param and cookie values stop startup with a
    message naming table, key, expected and found."""
    assert expected in startup_error(table)
