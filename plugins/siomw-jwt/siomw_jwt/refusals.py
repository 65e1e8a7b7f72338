"""The refusals of the jwt plugin, with RFC 6750 §3.1 error codes in ``data["code"]``.

One refusal serves both levels: at the connect level the client gets ``{"message", "data"}``
as CONNECT_ERROR; at the engine level (the ``jwt-handshake`` member) the same body comes
with the HTTP ``status`` and the ``WWW-Authenticate`` challenge of RFC 6750 §3:

- no token presented: 401 ``Bearer realm="socket.io"``, without an error attribute (§3.1:
  "If the request lacks any authentication information ... SHOULD NOT include an error code");
- a malformed request: 400 ``Bearer error="invalid_request", error_description="..."``;
- a token presented and refused: 401 ``Bearer error="invalid_token", error_description="..."``;
- a token lacking a scope: 403 ``Bearer error="insufficient_scope", scope="..."``.

Payloads and challenges never carry the token or any part of it: ``error_description`` is
the refusal's fixed message (ASCII without quotes or backslashes, as §3 requires).
"""

from __future__ import annotations

from collections.abc import Mapping

from siomw_core import Refusal

__all__ = [
    "INSUFFICIENT_SCOPE",
    "INVALID_REQUEST",
    "INVALID_TOKEN",
    "REALM",
    "insufficient_scope",
    "invalid_request",
    "invalid_token",
]

INVALID_REQUEST = "invalid_request"
INVALID_TOKEN = "invalid_token"
INSUFFICIENT_SCOPE = "insufficient_scope"
#: the protection space named in the challenge of a request without a token (RFC 6750 §3)
REALM = "socket.io"

_REQUEST_MESSAGES = {
    "missing_token": "Authentication required",
    "token_not_string": "Token must be a string",
    "bad_authorization_header": "Authorization header is not a valid Bearer credential",
}
_NO_TOKEN_CHALLENGE = {"WWW-Authenticate": f'Bearer realm="{REALM}"'}


def _challenge(code: str, message: str) -> dict[str, str]:
    return {"WWW-Authenticate": f'Bearer error="{code}", error_description="{message}"'}


def invalid_request(detail: str) -> Refusal:
    """No usable token in the request (RFC 6750 §3.1 ``invalid_request``).

    ``detail``: ``missing_token`` (no token anywhere the configuration looks; RFC 6750 §3.1
    treats an unsupported scheme such as ``Basic`` as no authentication): HTTP 401 with the
    bare ``realm`` challenge; ``token_not_string`` (``auth.token`` is a list, a number, an
    object...) and ``bad_authorization_header`` (Bearer with no token or with characters
    outside RFC 6750 §2.1 ``b64token``): HTTP 400, a malformed request.
    """
    message = _REQUEST_MESSAGES[detail]
    if detail == "missing_token":
        return Refusal(message, {"code": INVALID_REQUEST, "detail": detail}, status=401,
                       headers=_NO_TOKEN_CHALLENGE)
    return Refusal(message, {"code": INVALID_REQUEST, "detail": detail}, status=400,
                   headers=_challenge(INVALID_REQUEST, message))


def invalid_token(message: str, detail: str, extra: Mapping[str, str] | None = None) -> Refusal:
    """The token was refused (RFC 6750 §3.1 ``invalid_token``), HTTP 401.

    Data: ``{"code": "invalid_token", "detail": detail, **extra}``; see
    :func:`siomw_jwt.decoder.failure_detail` for the details, plus ``too_large``
    (longer than ``max_token_bytes``) and ``malformed`` (not ASCII: a compact JWS never is).
    """
    data = {"code": INVALID_TOKEN, "detail": detail}
    if extra:
        data.update(extra)
    return Refusal(message, data, status=401, headers=_challenge(INVALID_TOKEN, message))


def insufficient_scope(scope: str) -> Refusal:
    """The token lacks a required scope (RFC 6750 §3.1), HTTP 403.

    Data: ``{"code": "insufficient_scope", "detail": "missing_scope", "scope": scope}`` where
    ``scope`` is the space-separated list of required scopes (RFC 6750 §3).
    """
    return Refusal(
        "Insufficient scope",
        {"code": INSUFFICIENT_SCOPE, "detail": "missing_scope", "scope": scope},
        status=403,
        headers={"WWW-Authenticate": f'Bearer error="{INSUFFICIENT_SCOPE}", scope="{scope}"'},
    )
