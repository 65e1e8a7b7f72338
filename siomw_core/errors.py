"""The exceptions of siomw: the refusal a middleware raises, and the errors of setup."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from typing import Any

from socketio.exceptions import ConnectionRefusedError as SioConnectionRefusedError

log = logging.getLogger("siomw")

__all__ = [
    "CLIENT_GONE",
    "ConfigError",
    "OrderingError",
    "PluginLoadError",
    "Refusal",
    "as_refusal",
    "exiting",
    "internal_error",
    "invalid_event",
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


#: ``data.code`` of the (unsent) refusal of a connection attempt whose client left before
#: it was answered; members further out (a logger) see it as a Refusal like any other
CLIENT_GONE = "client_gone"


def internal_error() -> Refusal:
    """The refusal sent when a middleware or handler raised: code ``internal_error``.

    The exception itself is logged on the server and never reaches the client.
    """
    return Refusal("Internal server error", {"code": "internal_error"}, status=500)


def invalid_event() -> Refusal:
    """The refusal of an incoming event whose name is not a string or is reserved
    (``connect``, ``disconnect``: Socket.IO's parser rejects them, socket.io-parser
    ``isPayloadValid``; python-socketio would call the connect handler): code
    ``invalid_event``."""
    return Refusal("Invalid event name", {"code": "invalid_event"}, status=400)


def middleware_timeout() -> Refusal:
    """The refusal sent when a chain passed its deadline: code ``middleware_timeout``."""
    return Refusal("Middleware timeout", {"code": "middleware_timeout"}, status=503)


#: python-socketio's message for a built-in ``ConnectionRefusedError`` raised without one
#: (``socketio/async_server.py`` ``_handle_connect``)
BUILTIN_REFUSED = "Connection refused by server"


def as_refusal(exc: BaseException) -> Refusal | None:
    """The refusal ``exc`` stands for, or None when it is a failure (``internal_error``).

    One rule for middlewares and connect handlers alike, the way python-socketio 5.18 reads
    a connect handler's exceptions (``socketio/exceptions.py``):

    - a :class:`Refusal` is itself;
    - ``socketio.exceptions.ConnectionRefusedError(*args)``: its ``error_args``, i.e.
      message ``str(args[0])`` (default ``"Connection rejected by server"``), data
      ``args[1]``, or ``args[1:]`` as a list (what the client receives) when there are more;
    - the built-in ``ConnectionRefusedError(*args)`` raised by code: the same reading of the
      arguments it was given (``ConnectionRefusedError("multi", 1, 2)``: data ``[1, 2]``;
      default message ``"Connection refused by server"``; python-socketio drops a message
      given to it, siomw keeps it). Python's ``OSError`` itself loses the fourth of four or
      five arguments outside Windows (its ``winerror``): for three or four data items use
      :class:`Refusal` or python-socketio's exception;
    - a built-in ``ConnectionRefusedError`` carrying an ``errno`` (``[Errno 111] Connect call
      failed``: a backend the middleware reached for is down) is a failure: None, so that
      it is logged with its traceback and its text never reaches the client.

    The HTTP status of such a refusal is Refusal's default, 403.
    """
    if isinstance(exc, Refusal):
        return exc
    if isinstance(exc, SioConnectionRefusedError):
        args = exc.error_args
        data = args.get("data")
        return Refusal(args["message"], list(data) if isinstance(data, tuple) else data)
    if isinstance(exc, ConnectionRefusedError) and not isinstance(exc.errno, int):
        args = _builtin_args(exc)
        if not args:
            return Refusal(BUILTIN_REFUSED)
        rest = args[1:]
        return Refusal(str(args[0]), None if not rest else rest[0] if len(rest) == 1
                       else list(rest))
    return None


def _builtin_args(exc: OSError) -> tuple[Any, ...]:
    """The arguments an ``OSError`` was raised with. Given 3 to 5 arguments, Python reads
    them as ``(errno, strerror, filename, winerror, filename2)`` and keeps only the first two
    in ``args``: the others are taken back from ``filename`` and ``filename2`` (the fourth,
    Windows' error code, is dropped by Python elsewhere: it reads as None)."""
    args = exc.args
    if len(args) == 2 and (exc.filename is not None or exc.filename2 is not None):
        args = (*args, exc.filename)
        if exc.filename2 is not None:
            args = (*args, getattr(exc, "winerror", None), exc.filename2)
    return args


class ConfigError(ValueError):
    """A configuration value is wrong; the message names file, table, key, expected, found."""


class OrderingError(ValueError):
    """Chain members cannot be ordered: a cycle (named in the message) or, in strict mode,
    a ``before``/``after`` reference to a middleware that is not in the chain."""


class PluginLoadError(RuntimeError):
    """A plugin failed to import or to build its middlewares while ``strict = true``."""


_EXITING: dict[tuple[type[BaseException], type[Exception] | None], type[BaseException]] = {}


def exiting(exc: Exception) -> BaseException:
    """``exc`` as an instance of a subclass of both its class and ``SystemExit``.

    Python ends an uncaught ``SystemExit`` by printing its ``code`` (not a traceback), in
    the main process and in multiprocessing children (uvicorn's ``--reload`` and
    ``--workers``) alike: the one way to a one-line startup error under a server siomw does
    not control.

    Under gunicorn (its arbiter is imported: a worker importing the application) the
    subclass is of ``gunicorn.errors.AppImportError`` instead: a ``SystemExit`` would end
    the worker with status 1, which gunicorn answers by booting another, for ever; an
    ``AppImportError`` is printed as its one line and stops gunicorn ("App failed to load",
    status 4). ``except ConfigError`` catches either.
    """
    kind = type(exc)
    gunicorn = _gunicorn_app_error()
    key = (kind, gunicorn)
    exiting = _EXITING.get(key)
    if exiting is None:
        extra = gunicorn if gunicorn is not None else SystemExit
        exiting = type(kind.__name__, (kind, extra), {"__module__": kind.__module__})
        _EXITING[key] = exiting
    message = f"siomw: {exc}"
    if gunicorn is not None:
        return exiting(message)
    out = exiting(*exc.args)
    out.code = message  # type: ignore[attr-defined]
    return out


def _gunicorn_app_error() -> type[Exception] | None:
    """gunicorn's ``AppImportError`` when this process runs under gunicorn, else None."""
    if "gunicorn.arbiter" not in sys.modules:
        return None
    errors = sys.modules.get("gunicorn.errors")
    found = getattr(errors, "AppImportError", None)
    return found if isinstance(found, type) else None
