"""The jwt middleware against real servers, with python-socketio's client and the JS client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from siomw_core.testing import connect_result
from tests.conftest import requires_js
from tests.jsclient import js_outcome
from tests.plugins.jwt.helpers import (
    ISSUER,
    NAMESPACES,
    SECRET,
    TABLE,
    claims,
    jwt_server,
    refusal,
    token,
    unsigned_token,
)
from tests.plugins.kinds import KINDS, connect_outcome


def now() -> int:
    """The current time: computed per use, so that a long suite does not age the tokens."""
    return int(time.time())


# (id, auth, namespace, expected CONNECT_ERROR payload); auth is built lazily (fresh times)
REFUSALS: list[tuple[str, Callable[[], Any], str, dict[str, Any]]] = [
    ("no_token", lambda: None, "/",
     refusal("Authentication required", "invalid_request", "missing_token")),
    ("empty_token", lambda: {"token": ""}, "/",
     refusal("Authentication required", "invalid_request", "missing_token")),
    ("expired", lambda: {"token": token(exp=now() - 10)}, "/",
     refusal("Token expired", "invalid_token", "expired")),
    ("not_yet_valid", lambda: {"token": token(nbf=now() + 600)}, "/",
     refusal("Token not yet valid", "invalid_token", "immature")),
    ("alg_none", lambda: {"token": unsigned_token()}, "/",
     refusal("Token algorithm is not allowed", "invalid_token", "algorithm_not_allowed")),
    ("alg_not_in_allow_list", lambda: {"token": token(algorithm="HS512")}, "/",
     refusal("Token algorithm is not allowed", "invalid_token", "algorithm_not_allowed")),
    ("bad_signature", lambda: {"token": token(key="another-secret-of-32-bytes-or-more!!")}, "/",
     refusal("Token signature is invalid", "invalid_token", "bad_signature")),
    ("malformed", lambda: {"token": "not-a.jwt"}, "/",
     refusal("Token is malformed", "invalid_token", "malformed")),
    ("wrong_audience", lambda: {"token": token(aud="someone-else")}, "/",
     refusal("Token audience is not accepted", "invalid_token", "invalid_audience")),
    ("wrong_issuer", lambda: {"token": token(iss="https://evil.test")}, "/",
     refusal("Token issuer is not accepted", "invalid_token", "invalid_issuer")),
    ("missing_exp", lambda: {"token": token(exp=None)}, "/",
     refusal("Token is missing a required claim", "invalid_token", "missing_claim", claim="exp")),
    ("insufficient_scope", lambda: {"token": token(scope="chat read")}, "/admin",
     refusal("Insufficient scope", "insufficient_scope", "missing_scope", scope="admin")),
    ("no_token_admin", lambda: None, "/admin",
     refusal("Authentication required", "invalid_request", "missing_token")),
    ("anonymous_ns_invalid_token", lambda: {"token": token(exp=now() - 10)}, "/public",
     refusal("Token expired", "invalid_token", "expired")),
]
IDS = [case[0] for case in REFUSALS]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("case", "auth", "namespace", "expected"), REFUSALS, ids=IDS)
async def test_refusals_python_client(
    case: str, auth: Callable[[], Any], namespace: str, expected: dict[str, Any], kind: str
) -> None:
    """Each failure reaches the python client as CONNECT_ERROR with its RFC 6750
    code/detail, on both server kinds (each with its python client)."""
    async with jwt_server(kind=kind) as (url, sessions):
        outcome, data = await connect_outcome(kind, url, auth=auth(), namespace=namespace,
                                              transports=["polling", "websocket"])
        assert (outcome, data) == ("connect_error", expected)
        assert sessions == []  # the connect handler never ran


@requires_js
@pytest.mark.parametrize("kind", KINDS)
async def test_refusals_js_client(kind: str) -> None:
    """The JS client shows each refusal as err.message and err.data, and does not retry
    (all cases against one server, four node processes at a time)."""
    limit = asyncio.Semaphore(4)

    async def run(auth: Callable[[], Any], namespace: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"namespace": namespace}
        sent = auth()
        if sent is not None:
            spec["auth"] = sent
        async with limit:
            return await js_outcome(url, **spec)

    async with jwt_server(kind=kind) as (url, sessions):
        seen = await asyncio.gather(*(run(auth, ns) for _, auth, ns, _ in REFUSALS))
    got = {case: obs for (case, *_), obs in zip(REFUSALS, seen, strict=True)}
    want = {
        case: {"event": "connect_error", "message": expected["message"], "active": False,
               "data": expected["data"]}
        for case, _, _, expected in REFUSALS
    }
    assert got == want
    assert sessions == []


@pytest.mark.parametrize("kind", KINDS)
async def test_valid_token_in_auth_stores_claims(kind: str) -> None:
    """A valid token in auth connects; the handler reads its claims from the session
    (both server kinds)."""
    sent = claims(scope="chat admin")
    async with jwt_server(kind=kind) as (url, sessions):
        for namespace in NAMESPACES:
            outcome, data = await connect_outcome(
                kind, url, auth={"token": jwt.encode(sent, SECRET)}, namespace=namespace)
            assert (outcome, data) == ("connect", None)
    assert sessions == [(ns, {"user": sent}) for ns in NAMESPACES]


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
async def test_valid_token_in_authorization_header(scheme: str) -> None:
    """Authorization: Bearer (scheme in any case) works when auth has no token."""
    tok = token(scope="admin")
    async with jwt_server() as (url, sessions):
        outcome, _, client = await connect_result(
            url, headers={"Authorization": f"{scheme} {tok}"}, namespace="/admin"
        )
        assert outcome == "connect"
        await client.disconnect()
    assert sessions[0][0] == "/admin"
    assert sessions[0][1]["user"]["sub"] == "alice"


async def test_auth_token_wins_over_header() -> None:
    """With both, auth.token is the one verified (an expired auth token refuses)."""
    async with jwt_server() as (url, _):
        outcome, data, _ = await connect_result(
            url, auth={"token": token(exp=now() - 10)},
            headers={"Authorization": f"Bearer {token()}"},
        )
        assert data == refusal("Token expired", "invalid_token", "expired")
        outcome, data, client = await connect_result(
            url, auth={"token": token()},
            headers={"Authorization": f"Bearer {token(exp=now() - 10)}"},
        )
        assert outcome == "connect"
        await client.disconnect()


async def test_anonymous_namespace() -> None:
    """/public admits clients without a token (no user stored) and stores a valid one's claims;
    other namespaces still require a token."""
    async with jwt_server() as (url, sessions):
        outcome, _, client = await connect_result(url, namespace="/public")
        assert outcome == "connect"
        await client.disconnect()
        outcome, _, client = await connect_result(
            url, namespace="/public", auth={"token": token(sub="bob")}
        )
        assert outcome == "connect"
        await client.disconnect()
        outcome, data, _ = await connect_result(url, namespace="/")
        assert data == refusal("Authentication required", "invalid_request", "missing_token")
    assert sessions[0] == ("/public", {})
    assert sessions[1][1]["user"]["sub"] == "bob"


async def test_scopes_list_claim_and_all_required() -> None:
    """Scopes come from `scope` (space-separated) or `scopes` (list); all required ones count."""
    table = {**TABLE, "namespaces": {"/admin": {"scopes": ["admin", "audit"]}}}
    async with jwt_server(table) as (url, _):
        grants: list[tuple[dict[str, Any], bool]] = [
            ({"scope": "admin audit"}, True),
            ({"scopes": ["audit", "admin"]}, True),
            ({"scope": "admin", "scopes": ["audit"]}, True),
            ({"scope": "admin"}, False),
            ({"scope": ["admin", "audit"]}, False),  # scope must be a string
            ({"scopes": "admin audit"}, False),  # scopes must be a list
        ]
        for grant, ok in grants:
            outcome, data, client = await connect_result(
                url, namespace="/admin", auth={"token": token(**grant)}
            )
            if ok:
                assert outcome == "connect", grant
                await client.disconnect()
            else:
                assert data == refusal("Insufficient scope", "insufficient_scope",
                                       "missing_scope", scope="admin audit"), grant


async def test_leeway_and_issuer_list() -> None:
    """leeway accepts a token a little past exp; issuer may be a list of accepted values."""
    table = {"leeway": 30, "issuer": [ISSUER, "https://other.test"], "audience": TABLE["audience"]}
    async with jwt_server(table, namespaces=("/",)) as (url, _):
        for tok in (token(exp=now() - 5), token(iss="https://other.test")):
            outcome, _, client = await connect_result(url, auth={"token": tok})
            assert outcome == "connect"
            await client.disconnect()
        outcome, data, _ = await connect_result(url, auth={"token": token(exp=now() - 60)})
        assert data == refusal("Token expired", "invalid_token", "expired")


async def test_audience_configured_and_token_without_aud() -> None:
    """With `audience` set, a token without `aud` is missing a claim; without `audience`, a
    token that has one is refused (PyJWT's rule)."""
    async with jwt_server() as (url, _):
        _, data, _ = await connect_result(url, auth={"token": token(aud=None)})
        assert data == refusal("Token is missing a required claim", "invalid_token",
                               "missing_claim", claim="aud")
    async with jwt_server({}, namespaces=("/",)) as (url, _):
        _, data, _ = await connect_result(url, auth={"token": token(iss=None)})
        assert data == refusal("Token audience is not accepted", "invalid_token",
                               "invalid_audience")


@requires_js
async def test_js_client_valid_token_auth_and_header() -> None:
    """The JS client connects with auth.token, and with extraHeaders Authorization on polling
    (the handler sees the claims both times); a 9000-byte Bearer token is too_large."""
    tok = token(scope="admin")
    async with jwt_server() as (url, sessions):
        obs = await js_outcome(url, auth={"token": tok}, namespace="/admin")
        assert obs["event"] == "connect"
        obs = await js_outcome(url, extraHeaders={"Authorization": f"Bearer {tok}"},
                               transports=["polling"])
        assert obs["event"] == "connect"
        obs = await js_outcome(url, extraHeaders={"Authorization": "Bearer " + "x" * 9000},
                               transports=["polling"])
        assert (obs["message"], obs["data"]) == (
            "Token too large", {"code": "invalid_token", "detail": "too_large"}
        )
    # (leaving this block takes ~5 s: uvicorn waits for the polling clients' pending GETs)
    assert [(ns, s["user"]["sub"]) for ns, s in sessions] == [("/admin", "alice"), ("/", "alice")]
