"""The server kinds of the interop suite: each example app of ``docs/examples/kinds``
started as a real subprocess, the way its integration page says to run it, on a free port of
127.0.0.1, in that folder (its ``siomw.toml`` beside it).

What the harness adds to the documented command is only where to listen (``--port``,
``--bind``, ``-P``) and, for uvicorn, ``--no-proxy-headers`` (siomw's ``trusted_proxies``
decides, not uvicorn); the environment holds the jwt secret and
``SIOMW_TRUSTED_PROXIES=127.0.0.1``, so that each test speaks for its own client address
(``X-Forwarded-For``) and has budgets of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent
KINDS_DIR = REPO / "docs" / "examples" / "kinds"
SECRET = "a-secret-of-at-least-32-bytes-for-hs256!"


@dataclass(frozen=True)
class Kind:
    """One server kind: its example app, the command its page documents, where the engine
    answers (``path``), and how the harness tells that command where to listen."""

    name: str
    page: str  # docs/integrations/<page>
    app: str  # file in docs/examples/kinds
    command: str  # as documented, run in docs/examples/kinds
    listen: str  # appended, with {port}
    path: str = "/socket.io/"
    serve: str | None = None  # the page's `siomw serve APP` line, if it has one


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("asgi", "uvicorn.md", "asgi_app.py", "uvicorn asgi_app:app",
         "--host 127.0.0.1 --port {port} --no-proxy-headers", serve="siomw serve asgi_app:app"),
    Kind("starlette", "starlette.md", "starlette_app.py", "uvicorn starlette_app:app",
         "--host 127.0.0.1 --port {port} --no-proxy-headers", path="/realtime/socket.io/",
         serve="siomw serve starlette_app:app"),
    Kind("fastapi", "starlette.md", "fastapi_app.py", "uvicorn fastapi_app:app",
         "--host 127.0.0.1 --port {port} --no-proxy-headers", path="/realtime/socket.io/",
         serve="siomw serve fastapi_app:app"),
    Kind("asgiapp", "starlette.md", "starlette_other_app.py", "uvicorn starlette_other_app:app",
         "--host 127.0.0.1 --port {port} --no-proxy-headers",
         serve="siomw serve starlette_other_app:app"),
    Kind("aiohttp", "aiohttp.md", "aiohttp_app.py",
         "python -m aiohttp.web -H 127.0.0.1 -P 8080 aiohttp_app:init", "",
         serve="siomw serve aiohttp_app:app"),
    Kind("wsgi-threading", "wsgi.md", "wsgi_app.py",
         "gunicorn -w 1 --threads 100 wsgi_app:app", "--bind 127.0.0.1:{port}",
         serve="siomw serve wsgi_app:app"),
    Kind("gevent", "wsgi.md", "gevent_app.py", "gunicorn -k gevent -w 1 gevent_app:app",
         "--bind 127.0.0.1:{port}", serve="siomw serve gevent_app:app"),
    Kind("flask-gevent", "flask-socketio.md", "flask_app.py",
         "gunicorn -k gevent -w 1 flask_app:app", "--bind 127.0.0.1:{port}",
         serve="siomw serve flask_app:app"),
    Kind("flask-threading", "flask-socketio.md", "flask_threads_app.py",
         "gunicorn -w 1 --threads 100 flask_threads_app:app", "--bind 127.0.0.1:{port}",
         serve="siomw serve flask_threads_app:app"),
    Kind("flask-run", "flask-socketio.md", "flask_app.py", "flask --app flask_app run",
         "--host 127.0.0.1 --port {port}"),
)}


@dataclass
class Served:
    """A running example app: its base URL, engine path and the file its output goes to."""

    kind: Kind
    url: str
    log: Path
    proc: subprocess.Popen[bytes]

    def lines(self) -> list[dict[str, Any]]:
        """The JSON lines the app wrote so far (the logging plugin's), others skipped."""
        found = []
        for raw in self.log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                line = json.loads(raw)
                if isinstance(line, dict):
                    found.append(line)
        return found

    def wait_line(self, **match: Any) -> dict[str, Any]:
        """The first JSON line with every ``match`` item, waiting (at most 10 s) for it.

        Raises:
            AssertionError: no such line, with the output so far.
        """
        for _ in range(200):
            for line in self.lines():
                if all(line.get(k) == v for k, v in match.items()):
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no line {match} in the output of {self.kind.name}:\n"
                             + self.log.read_text(errors="replace")[-4000:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: how each kind is started: its server's own command, and `siomw serve APP` where the page
#: shows one; ids such as "asgi" and "asgi+serve"
RUNS: list[tuple[str, Kind, bool]] = [
    (f"{k.name}+serve" if serve else k.name, k, serve)
    for k in KINDS.values() for serve in (False, True) if not serve or k.serve]


def argv(kind: Kind, port: int, serve: bool = False) -> list[str]:
    """The documented command with the harness' listening options (the page's own port,
    if it names one, replaced); with ``serve``, the page's ``siomw serve APP`` line and
    ``--port``."""
    if serve:
        assert kind.serve is not None
        return [*shlex.split(kind.serve), "--port", str(port)]
    words = shlex.split(kind.command)
    if "-P" in words:
        words[words.index("-P") + 1] = str(port)
    words += shlex.split(kind.listen.format(port=port))
    if words[0] == "python":
        words[0] = sys.executable
    return words


def environment() -> dict[str, str]:
    """A new shell's environment: this virtualenv first on PATH, the jwt secret, the test
    client (127.0.0.1) trusted as a proxy; no other SIOMW_* variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIOMW_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["SIOMW_JWT_SECRET"] = SECRET
    env["SIOMW_TRUSTED_PROXIES"] = "127.0.0.1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextlib.contextmanager
def serve_kind(kind: Kind, log: Path, serve: bool = False) -> Iterator[Served]:
    """Start ``kind``'s app (with ``siomw serve`` if ``serve``); yield it once its port
    accepts connections (at most 30 s).

    Raises:
        RuntimeError: the server exited or did not listen in time (its output attached).
    """
    port = free_port()
    words = argv(kind, port, serve)
    command = shlex.join(words)
    with log.open("wb") as out:
        proc = subprocess.Popen(words, cwd=KINDS_DIR, env=environment(),
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError(f"{kind.name}: {command} exited {proc.returncode}:\n"
                                   + log.read_text(errors="replace")[-4000:])
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"{kind.name}: {command} not listening on {port} after 30 s:\n"
                               + log.read_text(errors="replace")[-4000:])
        yield Served(kind, f"http://127.0.0.1:{port}", log, proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(3)  # open connections: no need to drain them
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
