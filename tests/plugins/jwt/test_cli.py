"""``siomw token`` and ``issue_token``: tokens the configured server accepts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import click
import jwt
import pytest
import siomw_jwt
from click.testing import CliRunner

from siomw_core import ConfigError
from siomw_core.cli import CliState
from siomw_core.testing import connect_result
from tests.plugins.jwt.helpers import AUDIENCE, ISSUER, SECRET, TABLE, jwt_server

CONFIG = f"""
plugins = ["jwt"]

[jwt]
audience = "{AUDIENCE}"
issuer = "{ISSUER}"

[jwt.namespaces."/admin"]
scopes = ["admin"]
"""


@pytest.fixture
def config_file(tmp_path: Path) -> str:
    path = tmp_path / "siomw.toml"
    path.write_text(CONFIG)
    return str(path)


def siomw_group() -> click.Group:
    """A ``siomw``-like group holding only what the plugin registers (plus --config)."""

    @click.group()
    @click.option("--config", "config_path", default=None)
    @click.pass_context
    def group(ctx: click.Context, config_path: str | None) -> None:
        ctx.obj = CliState(config_path)

    siomw_jwt.siomw_register_commands(cli=group)
    return group


def test_issue_token_claims() -> None:
    """issue_token signs sub, iat, exp (now + ttl), scope, aud and iss with the first HS alg."""
    options = siomw_jwt.JwtOptions(algorithms=["HS384", "HS256"], **TABLE)
    tok = siomw_jwt.issue_token(options, "alice", ["chat", "admin", "chat"], ttl=60)
    assert jwt.get_unverified_header(tok)["alg"] == "HS384"
    got = jwt.decode(tok, SECRET, algorithms=["HS384"], audience=AUDIENCE, issuer=ISSUER)
    assert got["sub"] == "alice"
    assert got["scope"] == "chat admin"
    assert got["exp"] - got["iat"] == 60
    assert abs(got["iat"] - time.time()) < 5


def test_issue_token_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No HS* algorithm, no secret, or a non-positive ttl: ConfigError naming the key."""
    options = siomw_jwt.JwtOptions(algorithms=["RS256"], public_key_file="k.pem")
    with pytest.raises(ConfigError, match=r"algorithms: .* has no HS\* algorithm"):
        siomw_jwt.issue_token(options, "alice")
    with pytest.raises(ConfigError, match="ttl: expected a positive number of seconds"):
        siomw_jwt.issue_token(siomw_jwt.JwtOptions(), "alice", ttl=0)
    monkeypatch.delenv("SIOMW_JWT_SECRET")
    with pytest.raises(ConfigError, match="secret_env: environment variable 'SIOMW_JWT_SECRET'"):
        siomw_jwt.issue_token(siomw_jwt.JwtOptions(), "alice")


async def test_token_command_output_is_accepted(config_file: str) -> None:
    """`siomw token --sub alice --scope admin --ttl 120` prints a token /admin accepts."""
    result = CliRunner().invoke(
        siomw_group(),
        ["--config", config_file, "token", "--sub", "alice", "--scope", "admin", "--ttl", "120"],
    )
    assert result.exit_code == 0, result.output
    tok = result.output.strip()
    claims = jwt.decode(tok, SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)
    assert (claims["sub"], claims["scope"]) == ("alice", "admin")
    assert claims["exp"] - claims["iat"] == 120
    async with jwt_server() as (url, sessions):
        outcome, _, client = await connect_result(url, auth={"token": tok}, namespace="/admin")
        assert outcome == "connect"
        await client.disconnect()
    assert sessions[0][1]["user"] == claims


def test_token_command_errors(
    config_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clear errors: a bad ttl, a missing secret, an asymmetric-only configuration."""
    group = siomw_group()
    result = CliRunner().invoke(group, ["--config", config_file, "token", "--sub", "a",
                                        "--ttl", "0"])
    assert result.exit_code == 2
    assert "Invalid value for '--ttl'" in result.output
    monkeypatch.delenv("SIOMW_JWT_SECRET")
    result = CliRunner().invoke(group, ["--config", config_file, "token", "--sub", "a"])
    assert result.exit_code == 1
    assert "[jwt]: secret_env: environment variable 'SIOMW_JWT_SECRET' is not set" in result.output

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = tmp_path / "ec.pem"
    pem.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    asym = tmp_path / "asym.toml"
    asym.write_text(f'plugins = ["jwt"]\n[jwt]\nalgorithms = ["ES256"]\n'
                    f'public_key_file = "{pem}"\n')
    result = CliRunner().invoke(siomw_group(), ["--config", str(asym), "token", "--sub", "a"])
    assert result.exit_code == 1
    assert "[jwt] algorithms: ['ES256'] has no HS* algorithm" in result.output


def test_siomw_token_subprocess(config_file: str) -> None:
    """The installed `siomw` script finds the command through the plugin's entry point."""
    script = Path(sys.executable).with_name("siomw")
    if not script.exists():
        pytest.skip("the siomw script is not installed beside this python")
    env = {**os.environ, "SIOMW_JWT_SECRET": SECRET}
    proc = subprocess.run(
        [str(script), "--config", config_file, "token", "--sub", "bob", "--scope", "chat"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    claims = jwt.decode(proc.stdout.strip(), SECRET, algorithms=["HS256"], audience=AUDIENCE,
                        issuer=ISSUER)
    assert (claims["sub"], claims["scope"]) == ("bob", "chat")
    assert SECRET not in proc.stdout + proc.stderr
