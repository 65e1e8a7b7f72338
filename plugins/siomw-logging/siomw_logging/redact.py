"""What of an engine request's query string the ``http`` line may show.

The raw query string is never logged. The ``query`` field holds the parameters the
application's client added (socket.io-client's ``query`` option, or a query on the connect
URL), without Engine.IO's own (``EIO``, ``transport``, ``sid``: logged as fields; ``t``: a
cache-buster), with the value of every token-like parameter replaced by ``"[redacted]"``.
Sizes are bounded so that a hostile client cannot make long lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = [
    "ENGINE_PARAMS",
    "MAX_LENGTH",
    "MAX_PARAMS",
    "REDACTED",
    "SECRET_PARAMS",
    "SECRET_SUFFIXES",
    "QueryView",
]

#: the replacement of a token-like value
REDACTED = "[redacted]"
#: parameter names (lower case, ``-`` read as ``_``) whose values are never logged
SECRET_PARAMS = frozenset({
    "token", "access_token", "auth", "jwt", "key", "apikey", "api_key", "password",
    "secret",
})
#: ... nor those of names ending so (``refresh_token``, ``client_secret``, ``x_api_key``)
SECRET_SUFFIXES = ("_token", "_secret", "_password", "_key", "_jwt")
#: Engine.IO's own parameters (protocol revision, transport, session, cache-buster)
ENGINE_PARAMS = frozenset({"EIO", "transport", "sid", "t"})
#: at most this many parameters are shown; ``"..."`` maps to how many were left out
MAX_PARAMS = 16
#: names and values are cut to this many characters (``"..."`` appended)
MAX_LENGTH = 128


def _cut(text: str) -> str:
    return text if len(text) <= MAX_LENGTH else text[:MAX_LENGTH] + "..."


class QueryView:
    """Builds the ``query`` field from a parsed query (``request.query``).

    Args:
        extra: more secret parameter names (the ``redact_params`` option).
    """

    __slots__ = ("_secret",)

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self._secret = SECRET_PARAMS | {self.normal(name) for name in extra}

    @staticmethod
    def normal(name: str) -> str:
        """The form names are compared in: lower case, ``-`` read as ``_``."""
        return name.lower().replace("-", "_")

    def is_secret(self, name: str) -> bool:
        """Whether ``name``'s value must be replaced by :data:`REDACTED`."""
        normal = self.normal(name)
        return normal in self._secret or normal.endswith(SECRET_SUFFIXES)

    def __call__(self, query: Mapping[str, str]) -> dict[str, str] | None:
        """``{name: value or "[redacted]"}`` of the non-engine parameters; None when none.

        ``query`` is the request's parsed query (last value of a repeated name wins, as in
        ``Request.query``). Beyond :data:`MAX_PARAMS` parameters the rest are counted under
        ``"..."``; names and values longer than :data:`MAX_LENGTH` are cut.
        """
        if len(query) <= len(ENGINE_PARAMS) and query.keys() <= ENGINE_PARAMS:
            return None  # the common case: nothing but Engine.IO's own
        shown: dict[str, str] = {}
        left_out = 0
        for name, value in query.items():
            if name in ENGINE_PARAMS:
                continue
            if len(shown) == MAX_PARAMS:
                left_out += 1
                continue
            shown[_cut(name)] = REDACTED if self.is_secret(name) else _cut(value)
        if left_out:
            shown["..."] = f"{left_out} more"
        return shown or None
