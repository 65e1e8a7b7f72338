"""RS256 / ES256 / EdDSA with a PEM public key file, against a real server and client."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from siomw_core.testing import connect_result
from tests.conftest import requires_js
from tests.jsclient import js_outcome
from tests.plugins.jwt.helpers import TABLE, claims, jwt_server, refusal


def public_pem(key: Any) -> bytes:
    pem: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


async def test_rs256_accepts_and_refuses(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    """RS256 tokens signed by the private key connect; another key's signature, an HS256 token
    keyed with the public PEM (algorithm confusion) and PS256 (not allowed) are refused."""
    pem = tmp_path / "public.pem"
    pem.write_bytes(public_pem(rsa_key))
    table = {**TABLE, "algorithms": ["RS256"], "public_key_file": str(pem)}
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with jwt_server(table) as (url, sessions):
        outcome, _, client = await connect_result(
            url, auth={"token": jwt.encode(claims(), rsa_key, algorithm="RS256")}
        )
        assert outcome == "connect"
        await client.disconnect()
        cases = [
            (jwt.encode(claims(), other, algorithm="RS256"),
             refusal("Token signature is invalid", "invalid_token", "bad_signature")),
            # HMAC keyed with the public key: PyJWT refuses PEM as HMAC secret, and HS256 is
            # not in the allow-list anyway
            (_hs256_with_public_key(public_pem(rsa_key)),
             refusal("Token algorithm is not allowed", "invalid_token", "algorithm_not_allowed")),
            (jwt.encode(claims(), rsa_key, algorithm="PS256"),
             refusal("Token algorithm is not allowed", "invalid_token", "algorithm_not_allowed")),
        ]
        for tok, expected in cases:
            outcome, data, _ = await connect_result(url, auth={"token": tok})
            assert data == expected
    assert sessions[0][1]["user"]["sub"] == "alice"


def _hs256_with_public_key(pem: bytes) -> str:
    """The classic algorithm-confusion token, built by hand (PyJWT refuses to sign it)."""

    def b64(raw: bytes) -> bytes:
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    signing_input = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + b"." + b64(
        json.dumps(claims()).encode()
    )
    signature = hmac.new(pem, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + b64(signature)).decode()


@pytest.mark.parametrize("family", ["ES256", "EdDSA"])
async def test_ec_and_eddsa(tmp_path: Path, family: str) -> None:
    """ES256 (P-256) and EdDSA (Ed25519) public keys verify their tokens."""
    key: Any = (ec.generate_private_key(ec.SECP256R1()) if family == "ES256"
                else ed25519.Ed25519PrivateKey.generate())
    pem = tmp_path / "public.pem"
    pem.write_bytes(public_pem(key))
    table = {**TABLE, "algorithms": [family], "public_key_file": str(pem)}
    async with jwt_server(table, namespaces=("/",)) as (url, _):
        outcome, _, client = await connect_result(
            url, auth={"token": jwt.encode(claims(), key, algorithm=family)}
        )
        assert outcome == "connect"
        await client.disconnect()


@requires_js
async def test_rs256_js_client(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    """The JS client connects with an RS256 token and sees bad_signature for a forged one."""
    pem = tmp_path / "public.pem"
    pem.write_bytes(public_pem(rsa_key))
    table = {**TABLE, "algorithms": ["RS256"], "public_key_file": str(pem)}
    good = jwt.encode(claims(), rsa_key, algorithm="RS256")
    # the last base64url character of a 256-byte signature carries 2 bits: "A"/"Q" are canonical
    forged = good[:-6] + ("AAAAAA" if not good.endswith("AAAAAA") else "QQQQQQ")
    async with jwt_server(table) as (url, _):
        assert (await js_outcome(url, auth={"token": good}))["event"] == "connect"
        obs = await js_outcome(url, auth={"token": forged})
    assert obs["event"] == "connect_error"
    assert obs["message"] == "Token signature is invalid"
    assert obs["data"] == {"code": "invalid_token", "detail": "bad_signature"}
