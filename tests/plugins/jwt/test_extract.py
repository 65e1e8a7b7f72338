"""Finding the token (``siomw_jwt.extract``): ``auth.token``, ``Authorization: Bearer``, the
query parameter and the cookie, with the exact refusal a malformed one gets.

Unit tests on the core's real views (``Request`` of an ASGI scope, ``Handshake`` of an
environ); the end-to-end paths with real clients are in ``test_connect.py`` and
``test_handshake.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from siomw_jwt.extract import TokenSource, auth_token, bearer_token, cookie_value

from siomw_core import Handshake, Refusal, Request
from siomw_core.adapters.asgi_http import scope_request

BAD_HEADER = "Authorization header is not a valid Bearer credential"


def assert_invalid_request(info: pytest.ExceptionInfo[Refusal], detail: str, message: str,
                           ) -> None:
    refusal = info.value
    assert refusal.message == message
    assert refusal.data == {"code": "invalid_request", "detail": detail}
    assert refusal.status == 400
    assert refusal.headers == {
        "WWW-Authenticate": f'Bearer error="invalid_request", error_description="{message}"'}


# auth.token --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"token": "a.b.c"}, "a.b.c"),
        ({"token": ""}, None),  # localStorage.getItem of nothing, sent as ""
        ({"token": None}, None),  # ... or as null
        ({}, None),
        ({"user": "x"}, None),
    ],
)
def test_auth_token(auth: dict[str, Any], expected: str | None) -> None:
    assert auth_token(auth) == expected


class _Str(str):
    pass


@pytest.mark.parametrize("token", [5, 1.5, True, ["a.b.c"], {"t": "a.b.c"}, _Str("a.b.c")])
def test_auth_token_not_a_string_is_invalid_request(token: Any) -> None:
    """A token that is not a JSON string is a malformed request (400), not "no token"."""
    with pytest.raises(Refusal) as info:
        auth_token({"token": token})
    assert_invalid_request(info, "token_not_string", "Token must be a string")


# Authorization ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer a.b.c", "a.b.c"),
        ("bearer a.b.c", "a.b.c"),  # the scheme is case-insensitive (RFC 9110 §11.1)
        ("BEARER a.b.c", "a.b.c"),
        ("BeArEr a.b.c", "a.b.c"),
        ("Bearer    a.b.c", "a.b.c"),  # 1*SP
        (" \tBearer a.b.c \t", "a.b.c"),  # optional whitespace around the field value
        ("Bearer AZaz09-._~+/", "AZaz09-._~+/"),  # every b64token character (RFC 6750 §2.1)
        ("Bearer abc==", "abc=="),  # trailing "=" padding
        (None, None),  # no header
        ("", None),
        ("Basic dXNlcjpwYXNz", None),  # another scheme: no authentication (§3.1)
        ("Beare", None),
        ("Bearerx", None),  # 7 characters: the scheme "Bearerx", not Bearer
        ("Bearer2 a.b.c", None),
        ("Bearerabc", None),
        ("BearerX a.b.c", None),
        ("XBearer a.b.c", None),  # the scheme "XBearer"
        ("\x0bBearer a.b.c", None),  # only SP and HTAB are optional whitespace (RFC 9110 §5.6.3)
    ],
)
def test_bearer_token(header: str | None, expected: str | None) -> None:
    assert bearer_token(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",  # the scheme and no token
        "Bearer ",
        "bearer \t",
        "Bearer\ta.b.c",  # RFC 6750 §2.1: 1*SP, a tab is not a separator
        "Bearer a b",
        "Bearer a.b.c, Bearer d.e.f",  # repeated headers joined with ","
        "Bearer a=b",  # "=" only as trailing padding
        "Bearer a.b.c!",
        "Bearer \u00e9",
    ],
)
def test_malformed_bearer_is_invalid_request(header: str) -> None:
    """A header that says Bearer but carries no single b64token: 400 invalid_request."""
    with pytest.raises(Refusal) as info:
        bearer_token(header)
    assert_invalid_request(info, "bad_authorization_header", BAD_HEADER)


# Cookie ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("jwt=a.b.c", "a.b.c"),
        ("a=1; jwt=a.b.c; b=2", "a.b.c"),
        ("a=1; b c=2; jwt=a.b.c", "a.b.c"),  # a malformed pair elsewhere hides nothing
        ("jwt=", None),  # empty: none
        ("a=1", None),
        ("", None),
        (None, None),
    ],
)
def test_cookie_value(header: str | None, expected: str | None) -> None:
    assert cookie_value(header, "jwt") == expected


# TokenSource -------------------------------------------------------------------------------
def _scope(query: str = "", **headers: str) -> dict[str, Any]:
    """An ASGI HTTP scope of an engine request with ``headers`` (``_`` in names as ``-``)."""
    return {
        "type": "http", "method": "GET", "path": "/socket.io/", "client": ("127.0.0.1", 5),
        "query_string": query.encode(),
        "headers": [(n.replace("_", "-").encode(), v.encode()) for n, v in headers.items()],
    }


def _views(query: str = "", **headers: str) -> tuple[Request, Handshake]:
    scope = _scope(query, **headers)
    environ = {"asgi.scope": scope, "QUERY_STRING": query}
    return scope_request(scope), Handshake(environ, {})


def both() -> TokenSource:
    """The query parameter ``access`` and the cookie ``jwt`` (built in each test: a
    module-level object would be built before mutmut switches a mutant on)."""
    return TokenSource(query_param="access", cookie="jwt")


@pytest.mark.parametrize(
    ("make", "query", "headers", "expected"),
    [
        # the header wins over the query parameter, which wins over the cookie
        (both, "EIO=4&access=q.q.q", {"authorization": "Bearer h.h.h", "cookie": "jwt=c.c.c"},
         "h.h.h"),
        (both, "EIO=4&access=q.q.q", {"cookie": "jwt=c.c.c"}, "q.q.q"),
        (both, "EIO=4&access=", {"cookie": "jwt=c.c.c"}, "c.c.c"),  # empty: the next place
        (both, "EIO=4", {"cookie": "a=1; jwt=c.c.c"}, "c.c.c"),
        (both, "EIO=4", {"authorization": "Basic eDp5", "cookie": "jwt=c.c.c"}, "c.c.c"),
        (both, "EIO=4", {"cookie": "jwt="}, None),
        (both, "EIO=4", {}, None),
        # places that are not configured are never read
        (lambda: TokenSource(None, None), "access=q.q.q", {"cookie": "jwt=c.c.c"}, None),
        (lambda: TokenSource(None, "jwt"), "access=q.q.q", {}, None),
        (lambda: TokenSource("access", None), "EIO=4", {"cookie": "jwt=c.c.c"}, None),
        (lambda: TokenSource("token", None), "access=q.q.q&token=t.t.t", {}, "t.t.t"),
        (lambda: TokenSource(None, None), "", {"authorization": "Bearer h.h.h"}, "h.h.h"),
    ],
)
def test_token_source(make: Callable[[], TokenSource], query: str, headers: dict[str, str],
                      expected: str | None) -> None:
    """Engine requests and handshakes look in the same places, in the same order."""
    source = make()
    request, handshake = _views(query, **headers)
    assert source.of_request(request) == expected
    assert source.of_handshake(handshake) == expected


def test_token_source_malformed_header_refuses_before_other_places() -> None:
    """A malformed Bearer header is refused even when the query carries a token."""
    request, handshake = _views("access=q.q.q", authorization="Bearer")
    source = both()
    with pytest.raises(Refusal) as info:
        source.of_request(request)
    assert_invalid_request(info, "bad_authorization_header", BAD_HEADER)
    with pytest.raises(Refusal) as info:
        source.of_handshake(handshake)
    assert_invalid_request(info, "bad_authorization_header", BAD_HEADER)


def test_token_source_attributes() -> None:
    source = both()
    assert (source.query_param, source.cookie) == ("access", "jwt")
