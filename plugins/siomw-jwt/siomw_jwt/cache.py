"""A bounded cache of verified tokens: a client that reconnects with the token it already
presented (a reconnect storm, a page reload, one connection per namespace) is not decoded
again.

The rules (issue 10's, each tested in ``tests/plugins/jwt/test_cache.py``):

- keyed by the whole compact token (header, payload and signature: a token differing in
  any character is another key, so it is decoded and verified);
- bounded: at most :data:`SIZE` tokens, the least recently used one dropped first;
- never outlives ``exp``: an entry is used only while ``time.time() < exp`` (stricter than
  the decode, which allows ``leeway`` more); a token without ``exp`` is never cached;
- dropped when the keys change: the decoder's ``generation`` (a
  :class:`~siomw_jwt.jwks.JwksDecoder`'s key set counts its refreshes) is compared on
  every lookup, and a changed one empties the cache; a :class:`~siomw_jwt.decoder.TokenDecoder`'s
  key is read once at startup and never changes;
- only successful decodes are cached (a refusal is decided again each time), and the
  revocation check runs on every use, cached or not (``siomw_jwt.decoder.verifier``).

A hit returns claims equal to a decode's and of their own (the payload's JSON parsed again:
a handler that changes its claims changes nobody else's), in about a tenth of a decode's time
(HS256: 21 us per decode, measured in process).
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["SIZE", "VerifiedTokens"]

#: the most tokens held (about 1 KB each: the token and its claims' JSON)
SIZE = 1024


class VerifiedTokens:
    """The cache (see the module).

    Args:
        generation: returns the decoder's key generation (None: keys that never change).
        size: the most tokens held.
    """

    __slots__ = ("_entries", "_generation", "_seen", "size")

    def __init__(self, generation: Callable[[], object] | None = None, size: int = SIZE) -> None:
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._generation = generation
        self._seen = generation() if generation is not None else None
        self.size = size

    def __len__(self) -> int:
        return len(self._entries)

    def _current(self) -> None:
        if self._generation is not None:
            now = self._generation()
            if now != self._seen:  # the keys changed: nothing verified before stands
                self._seen = now
                self._entries.clear()

    def get(self, token: str) -> dict[str, Any] | None:
        """The claims ``token`` was verified with, as a new dict, or None (not cached, its
        ``exp`` reached, or the keys changed since)."""
        self._current()
        entry = self._entries.get(token)
        if entry is None:
            return None
        exp, payload = entry
        if time.time() >= exp:
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        claims: dict[str, Any] = json.loads(payload)
        return claims

    def put(self, token: str, claims: dict[str, Any]) -> None:
        """Remember ``claims``, just verified for ``token``, until their ``exp`` (a token
        without a numeric ``exp`` is not kept)."""
        exp = claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            return
        try:
            payload = json.dumps(claims)
        except (TypeError, ValueError):  # claims PyJWT parsed are JSON: defensive only
            return
        self._current()
        entries = self._entries
        entries[token] = (float(exp), payload)
        entries.move_to_end(token)
        while len(entries) > self.size:
            entries.popitem(last=False)
