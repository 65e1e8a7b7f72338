"""The refusals of the jwt plugin, with RFC 6750 §3.1 error codes in ``data["code"]``.

Payloads never carry the token or any part of it. ``status`` and the ``WWW-Authenticate``
header follow RFC 6750 §3 for the day the same refusal is raised at the engine level.
"""

from __future__ import annotations

from collections.abc import Mapping

from siomw_core import Refusal

__all__ = [
    "INSUFFICIENT_SCOPE",
    "INVALID_REQUEST",
    "INVALID_TOKEN",
    "insufficient_scope",
    "invalid_request",
    "invalid_token",
]

INVALID_REQUEST = "invalid_request"
INVALID_TOKEN = "invalid_token"
INSUFFICIENT_SCOPE = "insufficient_scope"

_REQUEST_MESSAGES = {
    "missing_token": "Authentication required",
    "token_not_string": "Token must be a string",
    "bad_authorization_header": "Authorization header is not a valid Bearer credential",
}


def invalid_request(detail: str) -> Refusal:
    """No usable token in the request (RFC 6750 §3.1 ``invalid_request``), HTTP 401.

    ``detail``: ``missing_token`` (no token and no ``Authorization: Bearer``; RFC 6750 §3.1
    treats an unsupported scheme such as ``Basic`` as no authentication), ``token_not_string``
    (``auth.token`` is a list, a number, an object...), ``bad_authorization_header`` (Bearer
    with no token or with characters outside RFC 6750 §2.1 ``b64token``).
    """
    return Refusal(
        _REQUEST_MESSAGES[detail],
        {"code": INVALID_REQUEST, "detail": detail},
        status=401,
        headers={"WWW-Authenticate": f'Bearer error="{INVALID_REQUEST}"'},
    )


def invalid_token(message: str, detail: str, extra: Mapping[str, str] | None = None) -> Refusal:
    """The token was refused (RFC 6750 §3.1 ``invalid_token``), HTTP 401.

    Data: ``{"code": "invalid_token", "detail": detail, **extra}``; see
    :func:`siomw_jwt.decoder.failure_detail` for the details, plus ``too_large``
    (longer than ``max_token_bytes``) and ``malformed`` (not ASCII: a compact JWS never is).
    """
    data = {"code": INVALID_TOKEN, "detail": detail}
    if extra:
        data.update(extra)
    return Refusal(
        message,
        data,
        status=401,
        headers={"WWW-Authenticate": f'Bearer error="{INVALID_TOKEN}"'},
    )


def insufficient_scope(scope: str) -> Refusal:
    """The token lacks a scope the namespace requires (RFC 6750 §3.1), HTTP 403.

    Data: ``{"code": "insufficient_scope", "detail": "missing_scope", "scope": scope}`` where
    ``scope`` is the space-separated list of scopes the namespace requires (RFC 6750 §3).
    """
    return Refusal(
        "Insufficient scope",
        {"code": INSUFFICIENT_SCOPE, "detail": "missing_scope", "scope": scope},
        status=403,
        headers={"WWW-Authenticate": f'Bearer error="{INSUFFICIENT_SCOPE}", scope="{scope}"'},
    )
