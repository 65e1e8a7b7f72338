"""What ``siomw serve`` and ``siomw chain`` serve: APP imported, its siomw stacks found.

APP is ``module:attribute`` naming a ``socketio.AsyncServer``, a ``socketio.ASGIApp``, the
app ``mw.asgi_app()`` returned, or any ASGI application (FastAPI, Starlette) that holds one
of those, mounted or as ``other_asgi_app``. :func:`build` finds every Socket.IO server in it,
attaches siomw where the module did not, puts the engine chain in front of each
``socketio.ASGIApp`` that lacks it, and says what it found. APP may also be of another kind
(:mod:`siomw_core.serve_kinds`): an aiohttp application, a WSGI application of a sync
``socketio.Server``, a Flask app with Flask-SocketIO; :attr:`Served.kind` says which.

uvicorn's ``--reload`` and ``--workers`` import the application in other processes, from an
import string: :func:`create_app` is that factory (``siomw_core.serving:create_app``); it
rebuilds the stack from the environment variables the command line set (:data:`APP_ENV`,
``SIOMW_CONFIG``, ``SIOMW_TRUSTED_PROXIES``).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import sysconfig
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import socketio

from .adapters.asgi_http import EngineApp
from .adapters.lifecycle_seams import LifespanApp
from .config import Config, load_config
from .errors import ConfigError, OrderingError, PluginLoadError
from .serve_kinds import KindError, non_asgi

if TYPE_CHECKING:
    from .server import Siomw

__all__ = [
    "APP_ENV",
    "ServeError",
    "Served",
    "build",
    "create_app",
    "error_line",
    "import_target",
]

#: APP as given to ``siomw serve`` (empty: the demo), for :func:`create_app`
APP_ENV = "SIOMW_SERVE_APP"

_STARTUP_ERRORS = (ConfigError, OrderingError, PluginLoadError)


class ServeError(Exception):
    """APP cannot be served; the message is one line.

    Attributes:
        usage: the APP argument itself is wrong (malformed, no such module or attribute,
            not an application): a usage error (exit status 2) rather than a failure (1).
    """

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass
class Served:
    """The result of :func:`build`.

    Attributes:
        app: the application to serve: ASGI (kind ``asgi``), an ``aiohttp.web.Application``
            (``aiohttp``) or a WSGI callable (``threading``, ``gevent``).
        stacks: the siomw stack of each Socket.IO server found, in the order found.
        found: one line per server found: where, and what was done with it.
        kind: ``asgi``, ``aiohttp``, ``threading`` or ``gevent`` (the server's async_mode).
        sio: the Socket.IO servers found (one per stack, and those left without one).
    """

    app: Any
    stacks: list[Siomw] = field(default_factory=list)
    found: list[str] = field(default_factory=list)
    kind: str = "asgi"
    sio: list[Any] = field(default_factory=list)


def error_line(exc: BaseException) -> str:
    """``file:line: Type: message`` for an exception raised while importing a module.

    The place is the syntax error's, or the innermost frame outside the standard library
    and installed packages (the application's own line, not ``os.environ.__getitem__``);
    paths under the working directory are shown relative to it.
    """
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{_short(exc.filename)}:{exc.lineno}: {type(exc).__name__}: {exc.msg}"
    frames = traceback.extract_tb(exc.__traceback__)
    libraries = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    own = [f for f in frames if not f.filename.startswith("<")
           and not any(f.filename.startswith(lib + os.sep) for lib in libraries)]
    chosen = own or frames
    where = f"{_short(chosen[-1].filename)}:{chosen[-1].lineno}: " if chosen else ""
    return f"{where}{type(exc).__name__}: {exc}"


def _short(filename: str) -> str:
    path = Path(filename)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return filename


def import_target(ref: str) -> Any:
    """The object ``module:attribute`` names (the working directory is importable).

    Raises:
        ServeError: malformed (usage), no such module or attribute (usage), or importing the
            module raised: one line naming the file and line (:func:`error_line`); a siomw
            startup error raised by the module's ``attach()`` is its own message.
    """
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ServeError(f"expected module:attribute, got {ref!r}", usage=True)
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except _STARTUP_ERRORS as exc:  # its attach() failed: that message says it all
        raise ServeError(str(exc)) from None
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == module_name or module_name.startswith(missing + "."):
            raise ServeError(f"cannot import {module_name!r}: {exc}", usage=True) from None
        raise ServeError(f"importing {module_name!r} failed: {error_line(exc)}") from None
    except (Exception, SystemExit) as exc:  # the module's own error: its line, no traceback
        raise ServeError(f"importing {module_name!r} failed: {error_line(exc)}") from None
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ServeError(f"module {module_name!r} has no attribute {attr!r}",
                             usage=True) from None
    return target


@dataclass
class _Found:
    sio: socketio.AsyncServer
    obj: Any  # the EngineApp or socketio.ASGIApp
    path: str  # the engine path as clients request it, mount prefixes included
    parent: Any = None  # what holds obj in attribute ``attr`` (None: APP itself)
    attr: str = ""


# attributes through which ASGI applications reach the applications they route to:
# Starlette/FastAPI (router, routes, Mount.app, middleware .app), socketio.ASGIApp
_CHILDREN = ("app", "other_asgi_app", "router", "routes", "middleware_stack")


def _find(target: Any) -> list[_Found]:
    found: list[_Found] = []
    seen: set[int] = set()

    def walk(obj: Any, prefix: str, parent: Any, attr: str, depth: int) -> None:
        if obj is None or id(obj) in seen or depth > 16:
            return
        seen.add(id(obj))
        if isinstance(obj, EngineApp):
            found.append(_Found(obj.sio, obj, prefix + obj.engine_path, parent, attr))
            walk(getattr(obj.app, "other_asgi_app", None), prefix, obj.app, "other_asgi_app",
                 depth + 1)
            return
        if isinstance(obj, socketio.ASGIApp):
            path = obj.engineio_path or "/"
            found.append(_Found(obj.engineio_server, obj, prefix + path, parent, attr))
            walk(obj.other_asgi_app, prefix, obj, "other_asgi_app", depth + 1)
            return
        try:
            members = vars(obj)
        except TypeError:
            return
        mount = members.get("path") if "app" in members else None
        inner = prefix + mount if isinstance(mount, str) else prefix  # Starlette's Mount
        for name in _CHILDREN:
            child = members.get(name)
            if isinstance(child, list | tuple):
                for item in child:
                    walk(item, inner, None, "", depth + 1)
            else:
                walk(child, inner, obj, name, depth + 1)

    walk(target, "", None, "", 0)
    return found


def build(ref: str | None, config: Config) -> Served:
    """The application to serve for APP ``ref`` (None: the bundled demo); python-socketio's
    and python-engineio's own log handlers are dropped (:func:`one_handler`).

    A server the module attached itself (``siomw_core.attach(sio)``) keeps its stack;
    others get ``Siomw(sio, config=config)``. A ``socketio.ASGIApp`` found without the
    engine chain is replaced where it was found by ``mw.wrap(it)``; a ``mw.asgi_app()`` is
    served as is.

    Raises:
        ServeError: APP cannot be imported, or holds no Socket.IO server.
        ConfigError, OrderingError, PluginLoadError: a stack cannot be built.
    """
    try:
        return _build(ref, config)
    finally:
        one_handler()


#: seconds a stopping server gives the requests in flight, on every server ``siomw serve``
#: runs (gunicorn's ``graceful_timeout``, uvicorn's ``timeout_graceful_shutdown``,
#: aiohttp's ``shutdown_timeout``; theirs are 30 s, none and 60 s): a long-poll
#: python-engineio holds open answers only at the next ping (25 s), and each WebSocket is a
#: request that lasts as long as its client stays
GRACEFUL_TIMEOUT = 5

#: the loggers python-socketio and python-engineio give a bare StreamHandler of their own
#: when the application passes no ``logger`` (``base_server``: default_logger)
LIBRARY_LOGGERS = ("socketio.server", "engineio.server")


def one_handler() -> None:
    """Once the root logger has a handler (``siomw serve`` set it up), remove the bare
    ``StreamHandler`` python-socketio and python-engineio add to their own loggers when a
    server is made: their records propagate to the root too, and every line would be
    printed twice, once without a format."""
    if not logging.root.handlers:
        return
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler and handler.formatter is None:
                logger.removeHandler(handler)


def _build(ref: str | None, config: Config) -> Served:
    from . import demo
    from .server import Siomw

    def stack_of(sio: socketio.AsyncServer) -> Siomw:
        stack: Siomw | None = getattr(sio, "_siomw_stack", None)
        return stack if stack is not None else Siomw(sio, config=config)

    if ref is None:
        stack = Siomw(demo.create_server(), config=demo.demo_config(config))
        stack.check()
        return Served(demo.demo_asgi_app(stack), [stack], ["the bundled demo at /socket.io/"])
    target = import_target(ref)
    try:
        other = non_asgi(ref, target)
    except KindError as exc:
        raise ServeError(str(exc), usage=exc.usage) from None
    if other is not None:
        existing: Siomw | None = getattr(other.sio, "_siomw_stack", None)
        if existing is not None:
            stack, line = existing, f"{other.found}: the module's siomw stack"
        else:
            stack, line = Siomw(other.sio, config=config), f"{other.found}: siomw attached"
        line += other.finish()
        stack.check()
        return Served(other.app, [stack], [line], other.kind, [other.sio])
    if isinstance(target, socketio.AsyncServer):
        stack = stack_of(target)
        stack.check()
        return Served(stack.asgi_app(), [stack],
                      [f"{ref} is a socketio.AsyncServer: serving mw.asgi_app() at /socket.io/"],
                      sio=[target])
    found = _find(target) if callable(target) else []
    if not found:
        what = type(target).__name__
        kinds = ("a python-socketio server (AsyncServer or Server), a socketio.ASGIApp or "
                 "socketio.WSGIApp, a Flask app with Flask-SocketIO, an aiohttp application "
                 "with a server attached")
        raise ServeError(
            f"{ref} is a {what}, not {kinds}, nor an ASGI application holding one (looked "
            f"through its routes, mounts, middleware and other_asgi_app)" if callable(target)
            else f"{ref} is a {what}, not {kinds}", usage=True)
    served = target
    stacks: list[Siomw] = []
    lines: list[str] = []
    for item in found:
        stack = stack_of(item.sio)
        if stack not in stacks:
            stacks.append(stack)
        if isinstance(item.obj, EngineApp):
            lines.append(f"mw.asgi_app() at {item.path}: served as is")
            continue
        wrapped = stack.wrap(item.obj)
        if item.parent is None:
            served = wrapped
        else:
            setattr(item.parent, item.attr, wrapped)
        lines.append(f"socketio.ASGIApp at {item.path}: the engine chain put in front of it")
    for stack in stacks:
        stack.check()
    if any(item.parent is not None for item in found) and not isinstance(served, LifespanApp):
        # mounted (FastAPI, Starlette): the framework does not pass its lifespan on, so the
        # plugins' startup and shutdown hooks ride on the application's own
        served = LifespanApp(served, [stack.lifecycle for stack in stacks])
    return Served(served, stacks, lines, sio=[item.sio for item in found])


class _Format(logging.Formatter):
    """``LEVEL message``, the logger's name put in front only when the message does not
    already start with it: siomw's messages read ``siomw: ...`` (``WARNING siomw: --workers
    2: ...``), another library's ``WARNING asyncio: ...``."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = record.message
        if not text.startswith(record.name.partition(".")[0] + ":"):
            text = f"{record.name}: {text}"
        return f"{record.levelname} {text}"


def setup_logging(level: str | None) -> None:
    """siomw's own log lines (warnings, errors) on stderr, one form: ``LEVEL siomw:
    message`` (see :class:`_Format`); ``debug`` and ``trace`` are DEBUG, the default INFO."""
    numeric = logging.DEBUG if level in ("debug", "trace") else getattr(
        logging, (level or "info").upper(), logging.INFO)
    handler = logging.StreamHandler()
    handler.setFormatter(_Format())
    logging.basicConfig(level=numeric, handlers=[handler])


def create_app() -> Any:
    """The uvicorn app factory of ``siomw serve --reload`` / ``--workers N``.

    Builds what :func:`build` builds for ``$SIOMW_SERVE_APP`` with the configuration of
    ``$SIOMW_CONFIG`` (set by the command line). A failure prints one line and ends the
    process with status 1 (uvicorn's reloader waits for the next change).
    """
    setup_logging(os.environ.get("SIOMW_LOG_LEVEL") or None)
    from . import uvicorn_logs

    try:
        # check=False: the registry reports every problem, as the command line does
        served = build(os.environ.get(APP_ENV) or None, load_config(None, check=False))
    except (ServeError, *_STARTUP_ERRORS) as exc:
        print(f"siomw: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    # this process's uvicorn logging is configured already: redact its lines (as serve does)
    uvicorn_logs.install(stack.registry.secrets for stack in served.stacks)
    from .serve_tuning import TuningError, tuning

    try:  # the command line checked the variables already: a failure here is a race
        tuned = tuning()
    except TuningError as exc:
        print(f"siomw: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    tuned.at_start()
    tuned.after_startup()  # the app is built; uvicorn's own startup adds little
    return served.app
