"""Hostile and odd input: auth payloads, tokens, headers and signed claims of every shape end
in a connect or an RFC 6750 refusal, never in internal_error, and never echo the token."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from collections.abc import Coroutine
from typing import Any

import pytest
import siomw_jwt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siomw_core import CoreSettings, Handshake, Middleware, Refusal, Socket
from siomw_core.testing import connect_result
from tests.plugins.jwt.helpers import SECRET, TABLE, jwt_server, refusal, token

MISSING = refusal("Authentication required", "invalid_request", "missing_token")
NOT_STRING = refusal("Token must be a string", "invalid_request", "token_not_string")
BAD_HEADER = refusal("Authorization header is not a valid Bearer credential",
                     "invalid_request", "bad_authorization_header")
TOO_LARGE = refusal("Token too large", "invalid_token", "too_large")
MALFORMED = refusal("Token is malformed", "invalid_token", "malformed")


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ([1, 2], MISSING),  # auth that is not an object carries no token
        (42, MISSING),
        ("a-bare-string", MISSING),
        ({"token": None}, MISSING),
        ({"token": 42}, NOT_STRING),
        ({"token": True}, NOT_STRING),
        ({"token": ["a.b.c"]}, NOT_STRING),
        ({"token": {"nested": {"deep": [1, {"token": "x"}]}}}, NOT_STRING),
        ({"token": "x" * 8193}, TOO_LARGE),
        ({"token": "x" * 200_000}, TOO_LARGE),
        ({"token": "é.é.é"}, MALFORMED),
        ({"token": "\ud800.\udfff.x"}, MALFORMED),  # lone surrogates survive JSON
        ({"token": "a.b.c"}, MALFORMED),
        ({"token": "...."}, MALFORMED),
        ({"token": "onlyonesegment"}, MALFORMED),
    ],
    ids=lambda v: repr(v)[:30],
)
async def test_odd_auth_payloads(auth: Any, expected: dict[str, Any]) -> None:
    """Odd auth payloads get invalid_request or invalid_token, never internal_error."""
    async with jwt_server(namespaces=("/", "/public")) as (url, sessions):
        outcome, data, _ = await connect_result(url, auth=auth)
        assert (outcome, data) == ("connect_error", expected)
        if expected is not MISSING:  # a presented, broken credential is refused on /public too
            _, data, _ = await connect_result(url, auth=auth, namespace="/public")
            assert data == expected
    assert sessions == []


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Basic dXNlcjpwYXNz", MISSING),  # another scheme: no authentication (RFC 6750 §3.1)
        ("Token abc", MISSING),
        ("Bearerabc", MISSING),
        ("Bearer", BAD_HEADER),
        ("Bearer ", BAD_HEADER),
        ("Bearer a b", BAD_HEADER),
        ("Bearer a,Bearer b", BAD_HEADER),
        ("Bearer a\"b", BAD_HEADER),
        ("Bearer " + "x" * 7000, TOO_LARGE),  # with max_token_bytes = 6000 below
        ("Bearer a.b.c", MALFORMED),
    ],
    ids=lambda v: repr(v)[:30],
)
async def test_odd_authorization_headers(header: str, expected: dict[str, Any]) -> None:
    """Authorization headers that are not one Bearer b64token (RFC 6750 §2.1) are refused."""
    # the WebSocket upgrade's parser (websockets) caps a header line at 8 KiB: stay below it
    async with jwt_server({**TABLE, "max_token_bytes": 6000}, namespaces=("/",)) as (url, _):
        outcome, data, _ = await connect_result(url, headers={"Authorization": header})
        assert (outcome, data) == ("connect_error", expected)


async def test_bearer_with_several_spaces_is_accepted() -> None:
    """RFC 6750 §2.1 allows 1*SP between Bearer and the token."""
    async with jwt_server(namespaces=("/",)) as (url, _):
        outcome, _, client = await connect_result(
            url, headers={"Authorization": f"Bearer   {token()}"}
        )
        assert outcome == "connect"
        await client.disconnect()


# --- property tests: the middleware driven directly with the core's context objects --------

CODES = {"invalid_request", "invalid_token", "insufficient_scope"}


@functools.cache
def spec() -> Middleware:
    """The middleware as the plugin builds it for TABLE (the secret is in the environment)."""
    [built] = siomw_jwt.siomw_middlewares(config=siomw_jwt.JwtOptions(**TABLE),
                                          settings=CoreSettings())
    return built


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


def drive(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that never suspends (the middleware with an immediate call_next)."""
    try:
        coro.send(None)
    except StopIteration:
        return
    raise AssertionError("the middleware suspended")


def outcome(auth: Any, header: str | None = None, namespace: str = "/") -> Refusal | dict[str, Any]:
    """Run the jwt middleware once; return the refusal, or the claims it stored."""
    headers = [] if header is None else [(b"authorization", header.encode("latin-1"))]
    environ = {"asgi.scope": {"headers": headers, "client": ("127.0.0.1", 1)}}
    socket = Socket("sid", namespace, Handshake(environ, auth), "eio", None)
    called = []

    async def call_next() -> None:
        called.append(True)

    try:
        coro = spec().func(socket, call_next)
        assert isinstance(coro, Coroutine)
        drive(coro)
    except Refusal as refusal:
        assert not called
        return refusal
    assert called == [True]
    return dict(socket.data)


def check_refusal(result: Refusal | dict[str, Any], presented: str | None) -> None:
    if isinstance(result, Refusal):
        assert result.code in CODES
        text = json.dumps(result.payload())  # JSON-ready for the CONNECT_ERROR packet
        if presented is not None and len(presented) >= 8:
            assert presented not in text  # the token is never echoed


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hs256(header: Any, payload: Any, secret: str = SECRET) -> str:
    """A token signed with the right secret whatever its header and payload are."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(auth=st.one_of(json_values, st.fixed_dictionaries({"token": json_values})))
def test_any_auth_payload_is_refused_cleanly(auth: Any) -> None:
    """Any JSON auth payload ends in invalid_request/invalid_token, nothing else."""
    result = outcome(auth)
    assert isinstance(result, Refusal)
    check_refusal(result, None)


@settings(max_examples=300, deadline=None)
@given(tok=st.text(max_size=300) | st.text(alphabet="AZaz09-_.=+/ ", max_size=300))
def test_any_token_string_is_refused_cleanly(tok: str) -> None:
    """Any token string that is not a signed JWT is refused, and never echoed."""
    result = outcome({"token": tok})
    assert isinstance(result, Refusal)
    check_refusal(result, tok)


@settings(max_examples=300, deadline=None)
@given(index=st.integers(min_value=0), char=st.sampled_from(list("AQgw-_.=/+ x")))
def test_mutated_tokens(index: int, char: str) -> None:
    """A valid token with one character changed is accepted only if it still verifies."""
    good = token(scope="admin")
    index %= len(good)
    bad = good[:index] + char + good[index + 1:]
    result = outcome({"token": bad})
    check_refusal(result, bad)
    if bad != good and isinstance(result, dict):
        # base64url has spare bits in a segment's last character: the same bytes decode
        assert result["user"]["sub"] == "alice"


@settings(max_examples=400, deadline=None)
@given(
    header=st.dictionaries(
        st.sampled_from(["kid", "crit", "b64", "typ", "cty", "jku", "x5u", "zip"]), json_values,
        max_size=3,
    ),
    alg=st.sampled_from(["HS256", "HS384", "none", "RS256", "hs256", "", None, 1, ["HS256"]]),
    payload=st.one_of(
        json_values,
        st.dictionaries(
            st.sampled_from(["exp", "nbf", "iat", "aud", "iss", "sub", "jti", "scope", "scopes"]),
            json_values,
        ),
    ),
    namespace=st.sampled_from(["/", "/admin", "/public"]),
)
def test_signed_tokens_with_any_header_and_claims(
    header: dict[str, Any], alg: Any, payload: Any, namespace: str
) -> None:
    """Tokens signed with the right key but odd headers and claims never raise anything but
    an RFC 6750 refusal; the claims of an accepted one are stored as they are."""
    tok = hs256({**header, "alg": alg}, payload)
    result = outcome({"token": tok}, namespace=namespace)
    check_refusal(result, tok)
    if isinstance(result, dict):
        assert result == {"user": payload}
        assert alg == "HS256"


@settings(max_examples=300, deadline=None)
@given(header=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=200))
def test_any_authorization_header(header: str) -> None:
    """Any Authorization header value (latin-1, as HTTP carries it) is refused cleanly."""
    result = outcome({}, header=header)
    assert isinstance(result, Refusal)
    check_refusal(result, None)
