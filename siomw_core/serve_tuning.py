"""What ``siomw serve`` sets in the process it serves from, for speed; each one switchable.

A plain ``uvicorn app`` leaves these at the interpreter's and uvicorn's defaults. Each
setting is an environment variable read when ``siomw serve`` starts (and by the processes
of ``--workers``/``--reload``, which inherit the environment); docs/serving.md gives each
one's measured effect.

- ``SIOMW_GC_FREEZE`` (default ``1``): once the server started, ``gc.collect()`` then
  ``gc.freeze()`` (Python 3.7+): the objects of the imports and of the stack (about
  125 000 in a served app) move to the permanent generation, so the cyclic GC's full
  collections no longer walk them. Objects made later are collected as before; nothing
  frozen is freed (they live for the whole process anyway). ``0``: off.
- ``SIOMW_GC_THRESHOLD`` (default ``10000``): the cyclic GC's first-generation threshold
  (``gc.set_threshold(n, ...)``; CPython's default is 700, raised to 2000 in 3.13), so
  that young collections run less often under a connection storm; the older generations'
  thresholds stay as they are. ``0``: the interpreter's own. At most
  :data:`GC_THRESHOLD_MAX` (``gc.set_threshold`` takes a C ``int``).
- ``SIOMW_WS_PER_MESSAGE_DEFLATE`` (default ``0``; uvicorn's ``ws_per_message_deflate``,
  ``True`` in plain uvicorn): WebSocket per-message compression (RFC 7692), which
  engine.io clients offer (the ``ws`` package in Node, browsers) and which costs CPU on
  every frame both ways; Engine.IO frames are short. ``1``: on, as plain uvicorn. uvicorn
  only: aiohttp's and gunicorn's WebSockets (python-engineio's drivers, simple-websocket)
  always take the extension when the client offers it, and cannot switch it off.

Raises of :func:`tuning`: :class:`TuningError`, one line naming the variable.
"""

from __future__ import annotations

import ctypes
import gc
import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ENV", "GC_THRESHOLD_MAX", "Tuning", "TuningError", "tuning"]

#: the largest threshold ``gc.set_threshold`` takes: it parses a C ``int`` (2**31 - 1 on
#: every platform CPython supports); a larger one raises OverflowError
GC_THRESHOLD_MAX = 2 ** (8 * ctypes.sizeof(ctypes.c_int) - 1) - 1

#: the variables, by setting
ENV = {
    "gc_freeze": "SIOMW_GC_FREEZE",
    "gc_threshold": "SIOMW_GC_THRESHOLD",
    "ws_per_message_deflate": "SIOMW_WS_PER_MESSAGE_DEFLATE",
}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class TuningError(ValueError):
    """A tuning variable holds a value it cannot take (the message names it)."""


@dataclass(frozen=True)
class Tuning:
    """The settings (see the module).

    Attributes:
        gc_freeze: freeze the GC's generations once the server started.
        gc_threshold: the first generation's threshold (None: the interpreter's).
        ws_per_message_deflate: uvicorn's WebSocket per-message deflate.
    """

    gc_freeze: bool = True
    gc_threshold: int | None = 10_000
    ws_per_message_deflate: bool = False

    def at_start(self) -> None:
        """Before the application is built: the GC's threshold."""
        if self.gc_threshold is not None:
            gc.set_threshold(self.gc_threshold, *gc.get_threshold()[1:])

    def after_startup(self) -> None:
        """Once the server listens (the application and the stack are built): the freeze."""
        if self.gc_freeze:
            gc.collect()
            gc.freeze()


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise TuningError(f"{name}: expected 1 or 0 (true/false); found {raw!r}")


def tuning(environ: Mapping[str, str] | None = None) -> Tuning:
    """The settings in ``environ`` (default ``os.environ``); unset variables take the
    defaults of :class:`Tuning`.

    Raises:
        TuningError: a value that is not a flag (``1``/``0``, ``true``/``false``) or, for
            ``SIOMW_GC_THRESHOLD``, not a whole number from 0 to :data:`GC_THRESHOLD_MAX`.
    """
    env = os.environ if environ is None else environ
    threshold: int | None = Tuning.gc_threshold
    raw = env.get(ENV["gc_threshold"], "").strip()
    if raw:
        if not (raw.isascii() and raw.isdigit()) or int(raw) > GC_THRESHOLD_MAX:
            raise TuningError(f"{ENV['gc_threshold']}: expected a whole number from 0 to "
                              f"{GC_THRESHOLD_MAX} (0: the interpreter's threshold); found "
                              f"{raw!r}")
        threshold = int(raw) or None
    return Tuning(
        gc_freeze=_flag(env, ENV["gc_freeze"], Tuning.gc_freeze),
        gc_threshold=threshold,
        ws_per_message_deflate=_flag(env, ENV["ws_per_message_deflate"],
                                     Tuning.ws_per_message_deflate),
    )
