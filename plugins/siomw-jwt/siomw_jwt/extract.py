"""Finding the token: ``auth.token`` (connect level only), ``Authorization: Bearer``, then the
configured query parameter and cookie, in that order; the first one present wins."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from siomw_core import Handshake, Request, parse_cookies

from .refusals import invalid_request

__all__ = ["TokenSource", "auth_token", "bearer_token", "cookie_value"]

# RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive
# (RFC 9110 §11.1)
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*)")


def auth_token(auth: Mapping[str, Any]) -> str | None:
    """The token of the CONNECT packet's ``auth`` payload, or None when it carries none.

    A token of ``None`` or ``""`` counts as none (a JS client's ``localStorage.getItem``
    gives null).

    Raises:
        Refusal: ``invalid_request``/``token_not_string`` when ``auth["token"]`` is set and
            not a string.
    """
    if "token" not in auth:
        return None
    token = auth["token"]
    if type(token) is str:  # a str subclass could carry behaviour; JSON never makes one
        return token or None
    if token is None:
        return None
    raise invalid_request("token_not_string")


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization`` header value, or None when there is no header or it
    names another scheme (Basic, Digest, ...: RFC 6750 §3.1, no authentication).

    Raises:
        Refusal: ``invalid_request``/``bad_authorization_header`` when the header says Bearer
            but does not carry one ``b64token`` (repeated headers, joined by ``,``, land here
            too: RFC 6750 §3.1 refuses repeated credentials).
    """
    if header is None:
        return None
    header = header.strip(" \t")
    if header[:6].lower() != "bearer" or (len(header) > 6 and header[6] not in " \t"):
        return None
    match = _BEARER.fullmatch(header)
    if match is None:
        raise invalid_request("bad_authorization_header")
    return match.group(1)


def cookie_value(header: str | None, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header (RFC 6265 §5.4), parsed by the
    core's :func:`siomw_core.parse_cookies` (as :attr:`siomw_core.Request.cookies`: a
    malformed pair elsewhere in the header does not hide it); None when absent or empty."""
    return parse_cookies(header).get(name) or None


class TokenSource:
    """The places a request may carry its token, fixed by the configuration.

    Args:
        query_param: the query parameter to read (RFC 6750 §2.3), or None.
        cookie: the cookie to read, or None.
    """

    __slots__ = ("cookie", "query_param")

    def __init__(self, query_param: str | None, cookie: str | None) -> None:
        self.query_param = query_param
        self.cookie = cookie

    def of_handshake(self, handshake: Handshake) -> str | None:
        """The token of the engine handshake behind a connection (``Authorization``, then the
        query parameter, then the cookie), or None; ``auth`` is read by :func:`auth_token`.

        Raises:
            Refusal: see :func:`bearer_token`.
        """
        return self._lookup(handshake)

    def of_request(self, request: Request) -> str | None:
        """The token of an engine request, looked up as :meth:`of_handshake` does.

        Raises:
            Refusal: see :func:`bearer_token`.
        """
        return self._lookup(request)

    def _lookup(self, view: Handshake | Request) -> str | None:
        """The lookup both views share: they expose ``headers``, ``query``, ``cookies``."""
        token = bearer_token(view.headers.get("authorization"))
        if token is not None:
            return token
        if self.query_param is not None:
            token = view.query.get(self.query_param)
            if token:
                return token
        if self.cookie is not None:
            return view.cookies.get(self.cookie) or None
        return None
