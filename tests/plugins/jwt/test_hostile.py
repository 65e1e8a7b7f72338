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
from siomw_jwt.decoder import _DETAILS

from siomw_core import CoreSettings, Handshake, Middleware, Refusal, Socket
from siomw_core.adapters.asgi_http import scope_request
from siomw_core.runtime import AsyncRuntime
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
    """The connect middleware as the plugin builds it for TABLE (the secret is in the
    environment); the event member comes after it."""
    built, event = siomw_jwt.siomw_middlewares(config=siomw_jwt.JwtOptions(**TABLE),
                                               settings=CoreSettings(), runtime=AsyncRuntime())
    assert (built.level, event.level) == ("connect", "event")
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


def run_member(func: Any, subject: Any) -> Refusal | None:
    """Run a member once with an immediate call_next; return its refusal, if any."""
    called = []

    async def call_next() -> None:
        called.append(True)

    try:
        coro = func(subject, call_next)
        assert isinstance(coro, Coroutine)
        drive(coro)
    except Refusal as refusal:
        assert not called
        return refusal
    assert called == [True]
    return None


def outcome(auth: Any, header: str | None = None, namespace: str = "/") -> Refusal | dict[str, Any]:
    """Run the jwt middleware once; return the refusal, or the claims it stored."""
    headers = [] if header is None else [(b"authorization", header.encode("latin-1"))]
    environ = {"asgi.scope": {"headers": headers, "client": ("127.0.0.1", 1)}}
    socket = Socket("sid", namespace, Handshake(environ, auth), "eio", None)
    result = run_member(spec().func, socket)
    return dict(socket.data) if result is None else result


#: every fixed string a refusal is made of: a "token" that happens to be one of its words
#: (hypothesis finds "invalid_") is not an echo
VOCABULARY = json.dumps([
    [m, d, e] for _, d, m in _DETAILS for e in ("invalid_token", "invalid_request")
]) + json.dumps([
    MISSING, NOT_STRING, BAD_HEADER, TOO_LARGE, MALFORMED, "insufficient_scope",
    "missing_scope", "Insufficient scope", "missing_claim", "claim", "exp", "aud", "iss",
    'WWW-Authenticate Bearer realm="socket.io" error="" error_description="" scope="admin"',
])


def check_refusal(result: Refusal | dict[str, Any], presented: str | None) -> None:
    if isinstance(result, Refusal):
        assert result.code in CODES
        text = json.dumps(result.payload())  # JSON-ready for the CONNECT_ERROR packet
        text += json.dumps(result.headers)  # the engine level's WWW-Authenticate
        if presented is not None and len(presented) >= 8 and presented not in VOCABULARY:
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


# --- the jwt-handshake engine member driven directly with the core's Request ----------------

@functools.cache
def handshake_members() -> tuple[Middleware, Middleware]:
    """(jwt-handshake, jwt) for TABLE with a query parameter and a cookie configured."""
    options = siomw_jwt.JwtOptions(**TABLE, handshake=True, query_param="access_token",
                                   cookie="jwt")
    engine, connect, event = siomw_jwt.siomw_middlewares(config=options,
                                                         settings=CoreSettings(),
                                                         runtime=AsyncRuntime())
    assert (engine.level, connect.level, event.level) == ("engine", "connect", "event")
    return engine, connect


def handshake_scope(headers: list[tuple[bytes, bytes]], query: bytes) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": "/socket.io/", "headers": headers,
            "query_string": query, "client": ("127.0.0.1", 1)}


def engine_outcome(headers: list[tuple[bytes, bytes]], query: bytes) -> Refusal | dict[str, Any]:
    """Run jwt-handshake on one handshake request; return the refusal, or request.state."""
    request = scope_request(handshake_scope(headers, query))
    result = run_member(handshake_members()[0].func, request)
    return dict(request.state) if result is None else result


def connect_outcome(headers: list[tuple[bytes, bytes]], query: bytes) -> Refusal | dict[str, Any]:
    """Run the connect-level jwt (same options) on a CONNECT without auth whose handshake
    request had ``headers`` and ``query`` but passed no engine member; return the refusal
    or socket.data."""
    environ = {"asgi.scope": handshake_scope(headers, query),
               "QUERY_STRING": query.decode("latin-1")}
    socket = Socket("sid", "/", Handshake(environ, {}), "eio", None)
    result = run_member(handshake_members()[1].func, socket)
    return dict(socket.data) if result is None else result


def check_engine_refusal(result: Refusal | dict[str, Any], presented: str) -> None:
    """An RFC 6750 refusal with a matching status and challenge, never echoing input."""
    assert isinstance(result, Refusal)
    check_refusal(result, presented)
    challenge = result.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    expected_status = {"invalid_token": 401, "insufficient_scope": 403}.get(
        result.code or "", 401 if result.data["detail"] == "missing_token" else 400)
    assert result.status == expected_status
    if result.data["detail"] == "missing_token":
        assert challenge == 'Bearer realm="socket.io"'  # RFC 6750 §3.1: no error code
    else:
        assert f'error="{result.code}"' in challenge


latin1 = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=200)


@settings(max_examples=300, deadline=None)
@given(authorization=st.none() | latin1, cookie=st.none() | latin1,
       query=st.binary(max_size=200) | latin1.map(lambda s: s.encode("latin-1")))
def test_any_handshake_request_is_refused_cleanly(
    authorization: str | None, cookie: str | None, query: bytes
) -> None:
    """Any Authorization, Cookie and query string on a handshake ends in an RFC 6750 refusal
    with the matching status (400/401) and challenge; nothing reaches request.state."""
    headers = []
    if authorization is not None:
        headers.append((b"authorization", authorization.encode("latin-1")))
    if cookie is not None:
        headers.append((b"cookie", cookie.encode("latin-1")))
    result = engine_outcome(headers, query)
    presented = " ".join(filter(None, (authorization, cookie, query.decode("latin-1"))))
    check_engine_refusal(result, presented)


@settings(max_examples=200, deadline=None)
@given(where=st.sampled_from(["header", "query", "cookie"]),
       index=st.integers(min_value=0), char=st.sampled_from(list("AQgw-_.=x")))
def test_handshake_token_anywhere_verified_like_connect(where: str, index: int, char: str) -> None:
    """A token with one character changed, sent in the header, the query or the cookie, gets
    the same verdict and payload at the engine as at the connect level."""
    good = token(scope="admin")
    index %= len(good)
    tok = good[:index] + char + good[index + 1:]
    headers: list[tuple[bytes, bytes]] = []
    query = b"EIO=4&transport=polling"
    if where == "header":
        headers.append((b"authorization", f"Bearer {tok}".encode()))
    elif where == "query":
        query += f"&access_token={tok}".encode()
    else:
        headers.append((b"cookie", f"jwt={tok}".encode()))
    at_engine = engine_outcome(headers, query)
    at_connect = connect_outcome(headers, query)
    if isinstance(at_connect, Refusal):
        assert isinstance(at_engine, Refusal)
        assert at_engine.payload() == at_connect.payload()
        check_engine_refusal(at_engine, tok)
    else:
        assert isinstance(at_engine, dict)
        assert at_engine["jwt.claims"] == at_connect["user"]


def test_session_requests_pass_whatever_they_carry() -> None:
    """Requests with a sid are not handshakes: they pass even with a broken Authorization."""
    assert engine_outcome([(b"authorization", b"Bearer")], b"EIO=4&sid=abc") == {}
    assert engine_outcome([], b"EIO=4&transport=websocket&sid=abc") == {}


@pytest.mark.parametrize("exp", [True, 10**400, 10**12, -(10**12)])
async def test_time_claims_out_of_range_are_refused(exp: Any) -> None:
    """A signed exp that is a boolean or absurdly far away is not a NumericDate (RFC 7519 §2):
    refused with invalid_token, never accepted as "never expires"."""
    async with jwt_server() as (url, _):
        outcome, data, _ = await connect_result(url, auth={"token": token(exp=exp)})
    assert outcome == "connect_error"
    assert data["data"]["code"] == "invalid_token"
    assert data["data"]["detail"] in ("invalid_claim", "expired", "immature")
