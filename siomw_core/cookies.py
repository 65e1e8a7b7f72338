"""Parsing a ``Cookie`` request header: the one parser every level and plugin uses.

Browsers send ``name=value`` pairs joined by ``"; "`` (RFC 6265 §4.2.1, §5.4). Servers meet
headers that stray from the grammar (a name with a space, a pair without ``=``, a value
with a comma): :class:`http.cookies.SimpleCookie` then gives up on the whole header, so one
bad cookie set by some other site on the same domain would hide the token cookie. This
parser reads each pair on its own, the way browsers and Starlette's ``cookie_parser`` do:
split on ``;``, split each piece at its first ``=``, strip spaces, unquote. A name is kept as
sent (``b c``, with its space, as browsers and Starlette keep it); a piece with no name (no
``=``, or nothing before it) is skipped: a cookie must have a name (RFC 6265 §5.2 steps 1
and 5 ignore a nameless ``Set-Cookie``).
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
        One entry per named pair, a pair outside RFC 6265's grammar never hiding the
        others: each ``;``-separated piece is split at its first ``=``, its name and value
        stripped of spaces and tabs. A name is kept as sent, even one the grammar forbids
        (``"a=1; b c=2; tok=3"`` gives ``{"a": "1", "b c": "2", "tok": "3"}``); a piece
        with no name is skipped: empty pieces, pieces without ``=`` (``lone``; Firefox and
        Chrome send ``document.cookie = "x"`` that way) and pieces with nothing before it
        (``=x``), as RFC 6265 §5.2 steps 1 and 5 ignore a nameless cookie
        (``"a=1;;  =x; c"`` gives ``{"a": "1"}``). A value in double quotes is unquoted
        (with Python's ``SimpleCookie`` escapes). When a name repeats, the first one wins:
        RFC 6265 §5.4 step 2 has the browser send the cookie with the longest path first.
        Values are not percent-decoded (RFC 6265 gives them no encoding).
    """
    cookies: dict[str, str] = {}
    if not header:
        return cookies
    for piece in header.split(";"):
        name, sep, value = piece.partition("=")
        name = name.strip(" \t")
        if sep and name and name not in cookies:  # nameless: RFC 6265 §5.2 steps 1, 5
            cookies[name] = _unquote(value.strip(" \t"))
    return cookies
