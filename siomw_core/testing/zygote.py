"""A process that imports the servers' libraries once and forks each test server from there.

Starting ``siomw serve`` afresh costs its imports (siomw, python-socketio, uvicorn, gunicorn,
aiohttp, Flask: one to three seconds on a loaded machine) per server; a test suite starts
hundreds. The zygote imports them once, then, for each request on its standard input (one
JSON line ``{"argv", "env", "cwd", "log"}``), forks a child that takes that environment,
working directory and log file and runs ``siomw <argv>``; it answers ``{"pid": N}``. Its
children are reaped by the kernel (``SIGCHLD`` ignored). It exits at the end of its input.

Only libraries are imported beforehand, never a plugin or an application: those are
imported in the child, with the test's environment, as ``siomw serve`` would. The zygote
starts no thread, so forking it is safe (POSIX only; elsewhere, or with
``SIOMW_TESTING_FORK=0``, each server is a process of its own).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from typing import IO, Any

__all__ = ["PRELOAD", "Forked", "Zygote", "enabled", "main"]

#: imported before the first fork (any one missing is skipped)
PRELOAD = ("siomw_core", "siomw_core.cli", "siomw_core.serving", "siomw_core.serve_command",
           "siomw_core.uvicorn_serve", "siomw_core.gunicorn_serve", "siomw_core.aiohttp_serve",
           "socketio", "engineio", "uvicorn", "uvicorn.main", "gunicorn.app.base",
           "gunicorn.arbiter", "gunicorn.workers.gthread", "aiohttp.web", "flask",
           "flask_socketio", "simple_websocket", "websockets", "pydantic", "limits", "jwt",
           "cryptography")


def enabled() -> bool:
    """Whether test servers are forked from a zygote (POSIX, ``SIOMW_TESTING_FORK`` not 0)."""
    return hasattr(os, "fork") and os.environ.get("SIOMW_TESTING_FORK", "1") != "0"


def _child(request: dict[str, Any]) -> None:
    """In the forked child: become the server ``request`` describes; never returns."""
    code: Any = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # gunicorn reaps its own workers
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        extra = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
        sys.path[:0] = [p for p in extra if p not in sys.path]
        with contextlib.suppress(AttributeError, ValueError):
            sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        sys.argv = ["siomw", *request["argv"]]
        from siomw_core.cli import main as siomw

        try:
            siomw(list(request["argv"]))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 1)


def main() -> None:
    """The zygote's loop (``python -c "from siomw_core.testing.zygote import main; main()"``)."""
    for name in PRELOAD:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reaped by the kernel
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        print(json.dumps({"pid": pid}), flush=True)


class Forked:
    """A server forked by the zygote, with the parts of ``subprocess.Popen`` tests use
    (its exit status is not known: the kernel reaps it; ``returncode`` is -1 then)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """None while it runs, else -1."""
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = -1
        return self.returncode

    def terminate(self) -> None:
        """SIGTERM."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for it to exit.

        Raises:
            subprocess.TimeoutExpired: still running after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
            time.sleep(0.02)
        return -1


class Zygote:
    """The zygote process, started on first use, one per test process."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def _started(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            env = {k: v for k, v in os.environ.items() if not k.startswith("SIOMW_")}
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
            self._proc = subprocess.Popen(
                [sys.executable, "-c", "from siomw_core.testing.zygote import main; main()"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
            self._read(self._proc.stdout)
        return self._proc

    @staticmethod
    def _read(stream: IO[str] | None) -> dict[str, Any]:
        line = stream.readline() if stream is not None else ""
        if not line:
            raise RuntimeError("the siomw test-server zygote exited")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def fork(self, argv: list[str], env: dict[str, str], cwd: str, log: str) -> Forked:
        """A child running ``siomw <argv>`` with ``env`` in ``cwd``, its output to ``log``.

        Raises:
            RuntimeError: the zygote exited.
        """
        with self._lock:
            proc = self._started()
            assert proc.stdin is not None
            proc.stdin.write(json.dumps({"argv": argv, "env": env, "cwd": cwd,
                                         "log": log}) + "\n")
            proc.stdin.flush()
            return Forked(int(self._read(proc.stdout)["pid"]))

    def close(self) -> None:
        """End the zygote (its end of input); its children are stopped apart."""
        if self._proc is not None and self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None
