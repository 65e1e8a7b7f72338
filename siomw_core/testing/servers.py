"""Real servers of every kind for tests, each in a process of its own on 127.0.0.1.

A server is ``siomw serve APP --port 0`` (``python -m`` siomw's CLI, this interpreter), the
way a user serves it: uvicorn (``"asgi"``), aiohttp's runner (``"aiohttp"``), gunicorn's
gthread worker for a sync ``socketio.Server`` (``"threading"``), gunicorn's gevent worker
(``"gevent"``), and a Flask-SocketIO app under gunicorn's gthread worker (``"flask"``). APP is
the kind's default app (:mod:`siomw_core.testing.apps`) unless the test names its own. The
config is a ``siomw.toml`` written from a dict (or a file of the test's), passed as
``SIOMW_CONFIG``; the allow-list of plugins is ``SIOMW_PLUGINS``; no other ``SIOMW_*``
variable of the test's environment leaks in. A process of its own per server is what lets
gevent patch the standard library, and keeps each server's plugins' state to itself; on
POSIX it is forked from a process that imported the libraries once
(:mod:`siomw_core.testing.zygote`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from . import clients, zygote
from .apps import LOCAL_PLUGINS_ENV
from .arguments import BadArgument, MissingConfigFile, check_config, check_plugin_names
from .outcomes import Outcome
from .zygote import Forked, Zygote

__all__ = ["KINDS", "Kind", "Server", "ServerError", "available_kinds", "missing", "reap",
           "start"]


@dataclass(frozen=True)
class Kind:
    """A server kind: the modules it needs and the extra of siomw-core that brings them."""

    name: str
    needs: tuple[str, ...]
    extra: str


#: every kind, in the order tests are parametrised
KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("asgi", ("uvicorn",), "testing"),
    Kind("aiohttp", ("aiohttp",), "aiohttp"),
    Kind("threading", ("gunicorn",), "wsgi"),
    Kind("gevent", ("gunicorn", "gevent"), "gevent"),
    Kind("flask", ("flask_socketio", "gunicorn"), "flask"),
)}

#: seconds a server is given to listen (a loaded CI machine imports slowly)
START_TIMEOUT = 60.0
_LISTENING = re.compile(r"siomw: listening on (http\S+)")


class ServerError(RuntimeError):
    """A server did not start: the message holds its command and the end of its output
    (a config error is one line there, naming the file, table and key)."""


def missing(kind: str) -> list[str]:
    """The modules ``kind`` needs that are not installed (empty: it can run).

    Raises:
        KeyError: no such kind.
    """
    return [name for name in KINDS[kind].needs if importlib.util.find_spec(name) is None]


def available_kinds() -> list[str]:
    """The kinds whose packages are installed, in :data:`KINDS` order."""
    return [name for name in KINDS if not missing(name)]


def _plugin_ref(item: object) -> str:
    """``module[:qualname]`` an in-code plugin is imported by in the server's process."""
    if isinstance(item, ModuleType):
        return item.__name__
    module, qualname = getattr(item, "__module__", None), getattr(item, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise BadArgument("plugins", f"plugin {item!r}: an in-code plugin must be a module "
                          "or an object defined at the top level of an importable module (the "
                          "server runs in a process of its own and imports it)")
    return f"{module}:{qualname}"


def split_plugins(plugins: Sequence[object]) -> tuple[list[str], dict[str, str]]:
    """Names for the allow-list, and the in-code plugins as ``{name: "module:attr"}``.

    An item is an installed plugin's name, a ``(name, module_or_object)`` pair, or a module
    (named by the last part of its dotted name).

    Raises:
        BadArgument: (a TypeError) a str for the whole list, an item of another shape, or
            an object the server cannot import.
    """
    if isinstance(plugins, (str, bytes)) or not isinstance(plugins, Sequence):
        raise BadArgument("plugins", f"expected a list of plugins, got {plugins!r}")
    names: list[str] = []
    local: dict[str, str] = {}
    for item in plugins:
        if isinstance(item, str):
            names.append(item)
            continue
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            name, target = item
        elif isinstance(item, ModuleType):
            name, target = item.__name__.rpartition(".")[2], item
        else:
            raise BadArgument("plugins", f"expected a name, a (name, plugin) pair or a "
                                         f"module, got {item!r}")
        local[name] = _plugin_ref(target)
        names.append(name)
    return names, local


def write_config(config: Mapping[str, Any] | str | os.PathLike[str] | None,
                 directory: Path) -> Path | None:
    """The config file of a server: ``config`` written as ``directory/siomw.toml`` when it is
    a dict (``{"ratelimit": {"connect": "2/minute"}, "strict": True}``), the path itself when
    it is one, None without one (the embedded defaults).

    Raises:
        MissingConfigFile: (a FileNotFoundError) a path that does not exist.
        BadArgument: (a TypeError) not a dict, or a value TOML cannot hold (None, a set,
            bytes, an object, a key that is not a str), naming its key path.
        ImportError: tomli-w is not installed.
    """
    if config is None:
        return None
    if isinstance(config, (str, os.PathLike)):
        path = Path(config).resolve()
        if not path.is_file():
            raise MissingConfigFile("config", f"no such file: {path}")
        return path
    check_config(config)
    try:
        import tomli_w  # the testing extra brings it
    except ImportError:
        raise ImportError("a config dict is written as siomw.toml with tomli-w: pip install "
                          "'siomw-core[testing]' (or pass the path of a siomw.toml)") from None

    path = directory / "siomw.toml"
    path.write_text(tomli_w.dumps(dict(config)))
    return path


class Server:
    """A running server: its base URL, kind and output, and the clients that meet it.

    Attributes:
        kind: ``"asgi"``, ``"aiohttp"``, ``"threading"``, ``"gevent"`` or ``"flask"``.
        url: ``http://127.0.0.1:PORT``.
        log: the file its standard output and error go to.
        config: the config file it was started with (None: embedded defaults).
    """

    def __init__(self, kind: str, url: str, log: Path, config: Path | None,
                 proc: subprocess.Popen[bytes] | Forked) -> None:
        self.kind = kind
        self.url = url
        self.log = log
        self.config = config
        self.proc = proc

    def __repr__(self) -> str:
        return f"<siomw {self.kind} server at {self.url}>"

    def connect(self, *, auth: Any = None, namespace: str = "/",
                headers: dict[str, str] | None = None, transport: str | None = "websocket",
                timeout: float = 5) -> Outcome:
        """One connection attempt of a python-socketio client (closed after): see
        :func:`siomw_core.testing.clients.connect`."""
        return clients.connect(self.url, auth=auth, namespace=namespace, headers=headers,
                               transport=transport, timeout=timeout)

    @contextmanager
    def client(self, *, auth: Any = None, namespace: str = "/",
               headers: dict[str, str] | None = None, transport: str | None = "websocket",
               timeout: float = 5) -> Iterator[clients.Client]:
        """A connected python-socketio client (``with server.client() as client``),
        disconnected after.

        Raises:
            AssertionError: the connection was refused.
        """
        with clients.connected(self.url, auth=auth, namespace=namespace, headers=headers,
                               transport=transport, timeout=timeout) as client:
            yield client

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                body: str | bytes | None = None, timeout: float = 5) -> Outcome:
        """One HTTP request (the engine level): see
        :func:`siomw_core.testing.clients.request`."""
        return clients.request(self.url, method, path, headers=headers, body=body,
                               timeout=timeout)

    def output(self) -> str:
        """What the server printed so far (standard output and error)."""
        return self.log.read_text(errors="replace")

    def lines(self) -> list[dict[str, Any]]:
        """The JSON objects among its output lines (the logging plugin's, say)."""
        found = []
        for raw in self.output().splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict):
                found.append(line)
        return found

    def wait_line(self, timeout: float = 10, **match: Any) -> dict[str, Any]:
        """The first JSON line holding every ``match`` item, waiting at most ``timeout``
        seconds for it (a server writes its line after it answers).

        Raises:
            AssertionError: none, with the end of the output.
        """
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines():
                if all(line.get(key) == value for key, value in match.items()):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no line with {match} in the output of the {self.kind} "
                                     f"server:\n{self.output()[-4000:]}")
            time.sleep(0.05)

    @property
    def running(self) -> bool:
        """Whether its process is still running."""
        return self.proc.poll() is None

    def stop(self, wait: bool = True) -> None:
        """Stop it: SIGTERM, then, with ``wait``, its exit awaited (killed after 5 s);
        without, :func:`reap` awaits it later (the next test need not wait for gunicorn's
        graceful stop). Stopping twice is fine."""
        if self.proc.poll() is None:
            self.proc.terminate()
            if not wait:
                _stopping.append(self.proc)
                return
            _finish(self.proc)


#: servers told to stop whose exit is not awaited yet
_stopping: list[subprocess.Popen[bytes] | Forked] = []
#: where servers are forked from (zygote.enabled())
_zygote = Zygote()


def _finish(proc: subprocess.Popen[bytes] | Forked) -> None:
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def reap() -> None:
    """Await every server stopped with ``wait=False`` (killed 5 s after its SIGTERM), then
    end the zygote."""
    while _stopping:
        _finish(_stopping.pop())
    _zygote.close()


def environment(plugins: list[str] | None, local: dict[str, str], config: Path | None,
                env: Mapping[str, str] | None, strict: bool | None) -> dict[str, str]:
    """The server process' environment: the test's without its ``SIOMW_*`` variables, this
    interpreter's ``sys.path`` as ``PYTHONPATH`` (the test's modules import there too),
    then the config, allow-list, strictness, in-code plugins and ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SIOMW_")}
    base["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    base["PYTHONUNBUFFERED"] = "1"
    if config is not None:
        base["SIOMW_CONFIG"] = str(config)
    if plugins is not None:
        base["SIOMW_PLUGINS"] = ",".join(plugins)
    if strict is not None:
        base["SIOMW_STRICT"] = "true" if strict else "false"
    if local:
        base[LOCAL_PLUGINS_ENV] = json.dumps(local)
    base.update(env or {})
    return base


def _answers(url: str) -> bool:
    """Whether the server answers HTTP (``GET /``, outside the engine path: no chain runs,
    no budget is spent): gunicorn says it listens before its worker has imported APP."""
    try:
        clients.request(url, "GET", "/", timeout=2)
    except OSError:
        return False
    return True


def start(kind: str, directory: Path, *, app: str | None = None,
          plugins: Sequence[object] | None = None,
          config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
          env: Mapping[str, str] | None = None, strict: bool | None = True,
          args: Sequence[str] = ()) -> Server:
    """Start a server of ``kind`` in ``directory`` (its working directory, config and log)
    and return it once it listens.

    Args:
        kind: one of :data:`KINDS`.
        directory: an empty folder of the test's (``tmp_path``).
        app: ``module:attribute`` of the test's own application (a server of that kind
            with handlers of its own); default: the kind's default app.
        plugins: installed plugins' names, ``(name, plugin)`` pairs, modules: the
            allow-list. None: a dict config's ``plugins`` (none when it has no such key),
            a config file's own choice, none without a config.
        config: a dict written as ``siomw.toml``, a path, or None (embedded defaults).
        env: extra environment variables of the server (``SIOMW_JWT_SECRET``, say).
        strict: siomw's ``strict`` (default True: a plugin that fails to load fails the
            start instead of being reported and skipped); None: the config's.
        args: more options of ``siomw serve`` (``["--threads", "4"]``).

    Raises:
        ServerError: it exited, or did not listen within :data:`START_TIMEOUT` seconds.
        BadArgument: ``plugins`` or ``config`` cannot start a server: one line naming the
            argument and where in it (a plugin no one installed, a value TOML cannot hold).
        KeyError: no such kind.
    """
    if missing(kind):
        raise ServerError(f"kind {kind!r} needs {', '.join(missing(kind))}: pip install "
                          f"'siomw-core[{KINDS[kind].extra}]'")
    path = write_config(config, directory)
    argument, place = "plugins", "plugins"
    if plugins is None and isinstance(config, Mapping):
        plugins = config.get("plugins", [])
        argument, place = "config", "config['plugins']"
    names, local = split_plugins(plugins) if plugins is not None else (None, {})
    if names is not None:
        # the server would say "environment variable SIOMW_PLUGINS", which the test never set
        check_plugin_names(names, local, argument=argument, place=place)
    target = app or f"siomw_core.testing.apps:{kind}"
    argv = ["serve", target, "--host", "127.0.0.1", "--port", "0", *args]
    log = directory / f"server-{kind}.log"
    log.write_bytes(b"")
    environ = environment(names, local, path, env, strict)
    proc: subprocess.Popen[bytes] | Forked
    if zygote.enabled():
        proc = _zygote.fork(argv, environ, str(directory), str(log))
    else:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", "from siomw_core.cli import main; main()", *argv],
                cwd=directory, stdout=out, stderr=subprocess.STDOUT, env=environ)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        found = _LISTENING.search(log.read_text(errors="replace"))
        if found and _answers(found.group(1)):
            return Server(kind, found.group(1), log, path, proc)
        if proc.poll() is not None or time.monotonic() > deadline:
            code = proc.poll()
            what = ("exited" + (f" with status {code}" if code is not None and code >= 0
                                else "") if code is not None
                    else f"was not listening after {START_TIMEOUT:.0f} s")
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            tail = log.read_text(errors="replace")[-3000:].rstrip()
            raise ServerError(f"the {kind} server ({target}) {what}:\n{tail}")
        time.sleep(0.05)
