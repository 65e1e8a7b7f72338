"""Finding the token of a connection: ``handshake.auth["token"]``, then ``Authorization``."""

from __future__ import annotations

import re

from siomw_core import Handshake

from .refusals import invalid_request

__all__ = ["token_of"]

# RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive
# (RFC 9110 §11.1)
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*)")


def token_of(handshake: Handshake) -> str | None:
    """The token the client presented, or None when it presented none.

    ``auth["token"]`` wins over the header. A token of ``None`` or ``""`` counts as none (a
    JS client's ``localStorage.getItem`` gives null), and so does an ``Authorization`` header
    of another scheme (RFC 6750 §3.1: an unsupported method is no authentication).

    Raises:
        Refusal: ``invalid_request`` when ``auth["token"]`` is not a string
            (``token_not_string``), or the header says Bearer but does not carry one
            ``b64token`` (``bad_authorization_header``; repeated headers, joined by ``,``,
            land here too: RFC 6750 §3.1 refuses repeated credentials).
    """
    auth = handshake.auth
    if "token" in auth:
        token = auth["token"]
        if type(token) is str:  # a str subclass could carry behaviour; JSON never makes one
            if token:
                return token
        elif token is not None:
            raise invalid_request("token_not_string")
    header = handshake.headers.get("authorization")
    if header is None:
        return None
    header = header.strip(" \t")
    if header[:6].lower() != "bearer" or (len(header) > 6 and header[6] not in " \t"):
        return None  # another scheme (Basic, Digest, ...): not ours to judge
    match = _BEARER.fullmatch(header)
    if match is None:
        raise invalid_request("bad_authorization_header")
    return match.group(1)
