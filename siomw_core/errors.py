"""The exceptions of siomw: the refusal a middleware raises, and the errors of setup."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("siomw")

__all__ = [
    "ConfigError",
    "OrderingError",
    "PluginLoadError",
    "Refusal",
    "internal_error",
    "middleware_timeout",
]


class Refusal(Exception):
    """Refuse what a middleware guards: a connection, an event or an HTTP request.

    It is Node's ``next(err)``: at the connect level the client receives a CONNECT_ERROR
    packet whose payload is ``{"message": message, "data": data}`` (the ``data`` key is left
    out when ``data`` is None, as ``JSON.stringify`` drops an undefined ``err.data``), so the JS
    client's ``connect_error`` handler gets ``err.message`` and ``err.data`` (Socket.IO protocol
    v5, CONNECT_ERROR). At the engine level ``status`` (an HTTP status code) and ``headers``
    shape the HTTP response.

    Args:
        message: human-readable reason, sent to the client as ``err.message``.
        data: any JSON-serialisable value, sent as ``err.data``; siomw's own refusals put a
            machine-readable ``{"code": ...}`` here.
        status: HTTP status for engine-level refusals (default 403).
        headers: extra HTTP response headers for engine-level refusals.

    ``data`` that JSON cannot carry (an arbitrary object, a set) is
    logged and replaced by the ``internal_error`` refusal's, so that outer middlewares, the
    log and the client all see what is actually sent.
    """

    def __init__(
        self,
        message: str,
        data: Any = None,
        *,
        status: int = 403,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = str(message)
        self.data = data
        self.status = status
        self.headers = dict(headers or {})
        if data is not None and not isinstance(data, str | int | float | bool):
            try:  # what the client gets must survive JSON; learn it here, not when sending
                json.dumps(data)
            except (TypeError, ValueError):
                log.error("siomw: refusal data %r is not JSON-serialisable; sending "
                          "internal_error instead", data)
                self.message, self.data, self.status = (
                    "Internal server error", {"code": "internal_error"}, 500)

    @property
    def code(self) -> str | None:
        """``data["code"]`` when ``data`` is a mapping that has one, else None."""
        if isinstance(self.data, Mapping):
            code = self.data.get("code")
            return code if isinstance(code, str) else None
        return None

    def payload(self) -> dict[str, Any]:
        """The CONNECT_ERROR payload: ``{"message": str}`` plus ``"data"`` when it is set."""
        if self.data is None:
            return {"message": self.message}
        return {"message": self.message, "data": self.data}

    def __repr__(self) -> str:
        return f"Refusal({self.message!r}, {self.data!r})"


def internal_error() -> Refusal:
    """The refusal sent when a middleware or handler raised: code ``internal_error``.

    The exception itself is logged on the server and never reaches the client.
    """
    return Refusal("Internal server error", {"code": "internal_error"}, status=500)


def middleware_timeout() -> Refusal:
    """The refusal sent when a chain passed its deadline: code ``middleware_timeout``."""
    return Refusal("Middleware timeout", {"code": "middleware_timeout"}, status=503)


class ConfigError(ValueError):
    """A configuration value is wrong; the message names file, table, key, expected, found."""


class OrderingError(ValueError):
    """Chain members cannot be ordered: a cycle (named in the message) or, in strict mode,
    a ``before``/``after`` reference to a middleware that is not in the chain."""


class PluginLoadError(RuntimeError):
    """A plugin failed to import or to build its middlewares while ``strict = true``."""
