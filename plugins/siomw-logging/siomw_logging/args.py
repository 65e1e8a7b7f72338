"""The ``args`` field of an ``event`` line: a redacted, bounded copy of an event's arguments.

It is written only with ``event_args = true``, and never for an event whose arguments carry
credentials (a name declared with ``siomw_core.declare_secret(event=...)``: jwt's
``siomw:reauth``): its ``args`` field is ``"[redacted]"``, whatever the arguments' shape.
The copy is new: the event's own arguments
(``event.args``, what the handler receives) are read, never changed. What it shows:

- the value of every object key that names a secret is ``"[redacted]"``, at every depth
  (objects inside lists inside objects): which names is the core's one fact,
  :meth:`siomw_core.Secrets.is_secret_name` (``password``, ``token``, ``secret``,
  ``authorization``, ``cookie``, ``api_key``, ``accessToken``, ... and the names the stack's
  plugins declared), plus the ``event_redact`` option;
- binary data (``bytes``, Socket.IO binary attachments) as ``"<bytes N>"``, N its length;
- strings (values and keys) clipped to ``event_arg_max`` characters, followed by
  ``"... (N characters)"``;
- at most :data:`MAX_ITEMS` entries of a list or object (then ``"... N more"``), containers
  below :data:`MAX_DEPTH` levels as ``"<list of N>"`` / ``"<object of N>"``, and at most
  :data:`MAX_VALUES` values in all (the rest ``"<...>"``), so that a 1 MB or deeply nested
  argument costs little and makes a short line;
- numbers, booleans and null as they are (a non-finite float as its text, ``"nan"``, since
  JSON has no such number); any other Python object as ``"<TypeName>"``, never its repr.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from siomw_core import Secrets, current_secrets

__all__ = ["MAX_DEPTH", "MAX_ITEMS", "MAX_VALUES", "REDACTED", "ArgsView"]

#: the replacement of a secret value
REDACTED = "[redacted]"
#: lists and objects nested deeper than this are summarised (the argument list is depth 0)
MAX_DEPTH = 8
#: at most this many entries of one list or object are shown
MAX_ITEMS = 32
#: at most this many values (containers included) are shown per event
MAX_VALUES = 512
# key names cached for their secret check (names repeat from event to event)
_CACHE_SIZE = 4096
_CACHE_KEY_MAX = 128


class _Budget:
    """The values left to show for one event (one per call: nothing shared between events)."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = MAX_VALUES


class ArgsView:
    """Builds the ``args`` field from an event's arguments; see the module's docstring.

    Args:
        max_length: strings are clipped to this many characters (``event_arg_max``).
        extra: more key names whose values are secret (``event_redact``), compared as the
            core compares them.
        secrets: the registry of secret names (default :func:`siomw_core.current_secrets`,
            the stack's when built in ``siomw_middlewares``); declarations made later by
            plugins built after this one count, until a name's answer is cached.
    """

    __slots__ = ("_cache", "_extra", "_max", "_secrets")

    def __init__(self, *, max_length: int = 256, extra: Iterable[str] = (),
                 secrets: Secrets | None = None) -> None:
        self._max = max_length
        self._secrets = secrets if secrets is not None else current_secrets()
        self._extra = Secrets()
        self._extra.declare(query=list(extra))
        self._cache: dict[str, bool] = {}

    def is_secret_event(self, name: str) -> bool:
        """Whether event ``name``'s arguments carry credentials (declared by a plugin with
        ``declare_secret(event=...)``, e.g. jwt's ``siomw:reauth``): its ``args`` field is
        :data:`REDACTED` whatever the arguments' shape (asked per event, not cached, so
        that a plugin built after this one counts)."""
        return self._secrets.is_secret_event(name)

    def is_secret(self, key: str) -> bool:
        """Whether the value under object key ``key`` is shown as :data:`REDACTED`."""
        known = self._cache.get(key)
        if known is not None:
            return known
        secret = self._secrets.is_secret_name(key) or self._extra.is_secret_name(key)
        if len(key) <= _CACHE_KEY_MAX and len(self._cache) < _CACHE_SIZE:
            self._cache[key] = secret
        return secret

    def __call__(self, args: Sequence[Any]) -> list[Any]:
        """The shown copy of ``args`` (the event's argument list), a new list."""
        shown = self._show(list(args) if not isinstance(args, list) else args, 0, _Budget())
        return shown if isinstance(shown, list) else [shown]

    def _clip(self, text: str) -> str:
        if len(text) <= self._max:
            return text
        return f"{text[:self._max]}... ({len(text)} characters)"

    def _show(self, value: Any, depth: int, budget: _Budget) -> Any:
        if budget.left <= 0:
            return "<...>"
        budget.left -= 1
        kind = type(value)
        if kind is str:  # exact types first: JSON's, as python-socketio decodes them
            return value if len(value) <= self._max else self._clip(value)
        if kind is int or kind is bool or value is None:
            return value
        if kind is dict:
            return (self._object(value, depth, budget) if depth < MAX_DEPTH
                    else f"<object of {len(value)}>")
        if isinstance(value, bool | int):
            return value
        if isinstance(value, str):
            return self._clip(value)
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)
        if isinstance(value, bytes | bytearray | memoryview):
            return f"<bytes {len(value)}>"
        if isinstance(value, Mapping):
            if depth >= MAX_DEPTH:
                return f"<object of {len(value)}>"
            return self._object(value, depth, budget)
        if isinstance(value, list | tuple):
            if depth >= MAX_DEPTH:
                return f"<list of {len(value)}>"
            items = [self._show(item, depth + 1, budget) for item in value[:MAX_ITEMS]]
            if len(value) > MAX_ITEMS:
                items.append(f"... {len(value) - MAX_ITEMS} more")
            return items
        return f"<{type(value).__name__}>"

    def _object(self, value: Mapping[Any, Any], depth: int, budget: _Budget) -> dict[str, Any]:
        shown: dict[str, Any] = {}
        for count, (key, item) in enumerate(value.items()):
            if count == MAX_ITEMS:
                shown["..."] = f"{len(value) - MAX_ITEMS} more"
                break
            name = key if isinstance(key, str) else str(key) if isinstance(
                key, int | float | bool) or key is None else f"<{type(key).__name__}>"
            if self.is_secret(name):
                shown[self._clip(name)] = REDACTED
                budget.left -= 1
            else:
                shown[self._clip(name)] = self._show(item, depth + 1, budget)
        return shown
