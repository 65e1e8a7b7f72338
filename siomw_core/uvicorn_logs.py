"""Secrets kept out of uvicorn's own log lines under ``siomw serve``.

uvicorn writes request targets and headers in several places, each a way for a credential
to reach a log file:

- its access log (``uvicorn.access``, INFO): ``GET /socket.io/?EIO=4&access=<token>``;
- its WebSocket lines (``uvicorn.error``, INFO, access log on or off):
  ``"WebSocket /socket.io/?...&access=<token>" [accepted]``;
- at ``--log-level debug``, the ``websockets`` library's handshake (``< GET /...?access=...``,
  ``< Cookie: jwt=...``, ``< Authorization: Bearer ...``, ``> Set-Cookie: ...``) and every
  frame it reads or writes (``< TEXT '40{"token":"..."}' [..]``: the application's data);
- at ``--log-level trace``, uvicorn's ASGI message log (``uvicorn.asgi``): each scope with
  its ``query_string`` and raw ``headers``.

:class:`SecretsFilter` rewrites such records before any handler sees them, with the core's
one list of secret names (:class:`siomw_core.secrets.Secrets`: the built-in names and what
the stack's plugins declared, such as the jwt plugin's ``query_param`` and ``cookie``):
the value of a secret query parameter (``access=[redacted]``), of a secret header, of a
secret cookie inside a ``Cookie`` header; a WebSocket frame's payload (its size kept); and,
wherever it stands, anything shaped like a JWT (``eyJ...``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from urllib.parse import unquote

from .secrets import Secrets

__all__ = ["AIOHTTP_LOGGERS", "GUNICORN_LOGGERS", "REDACTED", "UVICORN_LOGGERS", "SecretsFilter",
           "install"]

REDACTED = "[redacted]"
_BLANK = " \t"
#: the loggers uvicorn (and the websockets library, given uvicorn's logger) write to
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi",
                   "websockets", "websockets.server", "websockets.protocol")

# a query parameter: after "?" or "&", or first in an ASGI scope's query_string b'...'
_QUERY = re.compile(r"""(?P<lead>[?&]|'query_string': b['"])(?P<name>[^=&\s'"#\x1b]+)="""
                    r"""(?P<value>[^&\s'"#\x1b]*)""")
# a header line of the websockets library: "< Name: value" / "> Name: value"
_HEADER_LINE = re.compile(r"^(?P<lead>[<>] )(?P<name>[!#$%&'*+.^_`|~0-9A-Za-z-]+): "
                          r"(?P<value>.*)$", re.DOTALL)
# a header of an ASGI scope or message: (b'name', b'value')
_HEADER_PAIR = re.compile(r"""\(b(?P<q1>['"])(?P<name>[^'"]*)(?P=q1), b(?P<q2>['"])"""
                          r"""(?P<value>.*?)(?P=q2)\)""")
# a WebSocket frame as websockets prints it: "< TEXT '...' [12 bytes]"
_FRAME = re.compile(r"^(?P<lead>[<>] (?:TEXT|BINARY|CONT)) .*?(?P<size> \[\d+ bytes[^\]]*\])?$",
                    re.DOTALL)
# a compact JWS (or its start, when a line is cut): base64url of '{"' is "eyJ"
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){0,2}")


class SecretsFilter(logging.Filter):
    """A filter for uvicorn's loggers that redacts secrets in each record (see the module).

    Args:
        secrets: the registries to ask (each served stack's ``registry.secrets``); a name
            secret in any of them is redacted.

    It always passes the record (returns True), rewritten: ``msg`` becomes the redacted line
    and ``args`` empty, except for uvicorn's access log records, whose formatter reads
    ``args`` (client, method, path, HTTP version, status): their path is redacted in place.
    """

    def __init__(self, secrets: Iterable[Secrets]) -> None:
        super().__init__()
        self.secrets: Sequence[Secrets] = list(secrets) or [Secrets()]

    def _any(self, kind: str, name: str) -> bool:
        return any(getattr(s, kind)(name) for s in self.secrets)

    def redact(self, text: str) -> str:
        """``text`` with every secret it holds replaced by ``[redacted]``."""
        header = _HEADER_LINE.match(text)
        if header:
            value = self._header_value(header["name"], header["value"])
            text = f"{header['lead']}{header['name']}: {value}"
        frame = _FRAME.match(text)
        if frame:
            text = f"{frame['lead']} {REDACTED}{frame['size'] or ''}"
        text = _HEADER_PAIR.sub(self._pair, text)
        text = _QUERY.sub(self._query, text)
        return _JWT.sub(REDACTED, text)

    def _header_value(self, name: str, value: str) -> str:
        if name.lower() == "cookie":  # keep the names: which cookie came is worth seeing
            return "; ".join(self._cookie(piece) for piece in value.split(";"))
        return REDACTED if self._any("is_secret_header", name) else value

    def _cookie(self, piece: str) -> str:
        name, sep, _value = piece.partition("=")
        if sep and not self._any("is_secret_cookie", name.strip(_BLANK)):
            return piece.strip(_BLANK)
        return f"{name.strip(_BLANK)}={REDACTED}" if sep else REDACTED

    def _pair(self, match: re.Match[str]) -> str:
        name, value = match["name"], match["value"]
        shown = self._header_value(name, value)
        q1, q2 = match["q1"], match["q2"]
        return f"(b{q1}{name}{q1}, b{q2}{shown}{q2})"

    def _query(self, match: re.Match[str]) -> str:
        name = unquote(match["name"])
        if not self._any("is_secret_query", name):
            return match.group(0)
        return f"{match['lead']}{match['name']}={REDACTED}"

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` (see the class); always True."""
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            record.args = tuple(self.redact(a) if isinstance(a, str) else a
                                for a in record.args)
            return True
        try:
            text = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: logging reports it itself
            return True
        shown = self.redact(text)
        if shown != text:
            record.msg, record.args = shown, ()
            record.__dict__.pop("color_message", None)  # uvicorn's coloured copy of msg
        return True


#: the loggers of gunicorn (its error log and its access log) and of aiohttp's server
GUNICORN_LOGGERS = ("gunicorn", "gunicorn.error", "gunicorn.access")
AIOHTTP_LOGGERS = ("aiohttp", "aiohttp.access", "aiohttp.server", "aiohttp.web",
                   "aiohttp.websocket")


def install(secrets: Iterable[Secrets],
            loggers: Sequence[str] = UVICORN_LOGGERS) -> SecretsFilter:
    """Put one :class:`SecretsFilter` on every logger of ``loggers`` (default
    :data:`UVICORN_LOGGERS`; :data:`GUNICORN_LOGGERS` and :data:`AIOHTTP_LOGGERS` for the
    other servers), replacing one installed before; returns it. A logger's filters see the
    records logged to that logger only, so each of them gets it; handlers further up see the
    rewritten record."""
    chosen = SecretsFilter(secrets)
    for name in loggers:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, SecretsFilter)]:
            logger.removeFilter(old)
        logger.addFilter(chosen)
    return chosen
