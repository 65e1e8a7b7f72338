"""What of an engine request's query string the ``http`` line may show.

The raw query string is never logged. The ``query`` field holds the parameters the
application's client added (socket.io-client's ``query`` option, or a query on the connect
URL), without Engine.IO's own (:data:`siomw_core.ENGINE_QUERY_PARAMS`: ``EIO``,
``transport``, ``sid``, logged as fields; ``t``, a cache-buster; protocol v3's ``j``, ``b64``),
with the value of every secret parameter replaced by ``"[redacted]"``: which
ones is the core's one fact (:mod:`siomw_core.secrets`): the built-in token-like names, what
the stack's plugins declared (the jwt plugin's ``query_param``), the ``redact_params`` option.
Sizes are bounded so that a hostile client cannot make long lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from siomw_core import ENGINE_QUERY_PARAMS, Secrets, current_secrets

__all__ = [
    "MAX_LENGTH",
    "MAX_PARAMS",
    "REDACTED",
    "QueryView",
]

#: the replacement of a secret value
REDACTED = "[redacted]"
#: at most this many parameters are shown; ``"..."`` maps to how many were left out
MAX_PARAMS = 16
#: names and values are cut to this many characters (``"..."`` appended)
MAX_LENGTH = 128


def _cut(text: str) -> str:
    return text if len(text) <= MAX_LENGTH else text[:MAX_LENGTH] + "..."


class QueryView:
    """Builds the ``query`` field from a parsed query (``request.query``).

    Args:
        extra: more secret parameter names (the ``redact_params`` option), compared as
            the core compares declared query names (a :class:`siomw_core.Secrets` holds
            them, as ``ArgsView`` holds ``event_redact``): case-insensitively, ``-`` read
            as ``_``, camelCase as snake_case (``access_code`` redacts ``?accessCode=``).
        secrets: the registry of secret names to follow (default
            :func:`siomw_core.current_secrets`: built inside the plugin's
            ``siomw_middlewares``, that is the stack's). It is asked per request, so names
            declared by plugins built after this one (the jwt plugin's ``query_param``)
            count.
    """

    __slots__ = ("_extra", "_secrets")

    def __init__(self, extra: Iterable[str] = (), secrets: Secrets | None = None) -> None:
        self._extra = Secrets()
        self._extra.declare(query=list(extra))
        self._secrets = secrets if secrets is not None else current_secrets()

    def is_secret(self, name: str) -> bool:
        """Whether ``name``'s value must be replaced by :data:`REDACTED`."""
        return self._secrets.is_secret_query(name) or self._extra.is_secret_query(name)

    def __call__(self, query: Mapping[str, str]) -> dict[str, str] | None:
        """``{name: value or "[redacted]"}`` of the non-engine parameters; None when none.

        ``query`` is the request's parsed query (last value of a repeated name wins, as in
        ``Request.query``). Beyond :data:`MAX_PARAMS` parameters the rest are counted under
        ``"..."``; names and values longer than :data:`MAX_LENGTH` are cut.
        """
        if len(query) <= len(ENGINE_QUERY_PARAMS) and query.keys() <= ENGINE_QUERY_PARAMS:
            return None  # the common case: nothing but Engine.IO's own
        shown: dict[str, str] = {}
        left_out = 0
        for name, value in query.items():
            if name in ENGINE_QUERY_PARAMS:
                continue
            if len(shown) == MAX_PARAMS:
                left_out += 1
                continue
            shown[_cut(name)] = REDACTED if self.is_secret(name) else _cut(value)
        if left_out:
            shown["..."] = f"{left_out} more"
        return shown or None
