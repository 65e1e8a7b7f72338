"""Parsing a ``Cookie`` request header: the one parser every level and plugin uses.

Browsers send ``name=value`` pairs joined by ``"; "`` (RFC 6265 §4.2.1, §5.4). Servers meet
headers that stray from the grammar (a name with a space, a pair without ``=``, a value
with a comma): :class:`http.cookies.SimpleCookie` then gives up on the whole header, so one
bad cookie set by some other site on the same domain would hide the token cookie. This
parser reads each pair on its own, the way browsers and Starlette's ``cookie_parser`` do:
split on ``;``, split each piece at its first ``=``, strip spaces, unquote.
"""

from __future__ import annotations

import re

__all__ = ["parse_cookies"]

# Python's SimpleCookie writes a value that needs quoting as "..." with \" \\ and \ooo
# (octal) escapes; Starlette reads them back with the same rule (http.cookies._unquote)
_ESCAPE = re.compile(r"\\(?:([0-3][0-7][0-7])|(.))", re.DOTALL)


def _unquote(value: str) -> str:
    """``"a\\054b"`` gives ``a,b``; a value not wrapped in double quotes is kept as it is."""
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    return _ESCAPE.sub(
        lambda m: chr(int(m.group(1), 8)) if m.group(1) else m.group(2), value[1:-1]
    )


def parse_cookies(header: str | None) -> dict[str, str]:
    """The cookies of a ``Cookie`` header value as ``{name: value}``.

    Args:
        header: the header's value (repeated headers already joined with ``"; "``, as
            :attr:`siomw_core.Request.headers` does), or None.

    Returns:
        One entry per pair; a malformed pair never hides the others. A piece without
        ``=`` is a value with an empty name (Firefox and Chrome send ``document.cookie =
        "x"`` that way); empty pieces are skipped. Names and values are stripped of
        spaces and tabs; a value in double quotes is unquoted (with Python's
        ``SimpleCookie`` escapes). When a name repeats, the first one wins: RFC 6265
        §5.4 step 2 has the browser send the cookie with the longest path first.
        Values are not percent-decoded (RFC 6265 gives them no encoding).
    """
    cookies: dict[str, str] = {}
    if not header:
        return cookies
    for piece in header.split(";"):
        name, sep, value = piece.partition("=")
        if not sep:
            name, value = "", name
        name, value = name.strip(" \t"), value.strip(" \t")
        if (name or value) and name not in cookies:
            cookies[name] = _unquote(value)
    return cookies
