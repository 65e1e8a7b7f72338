"""Real processes for the shared-limits and storage-failure tests: several server processes
of one application (:mod:`tests.plugins.ratelimit.shared_app`) on one storage, and a Redis
server of the test's own on a free loopback port (never the shared 6379)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import redis

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (bound to 0, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class OwnRedis:
    """A ``redis-server`` of the test's own on a free loopback port, without persistence,
    that the test may kill and start again on the same port."""

    def __init__(self, *extra: str, config: str | None = None) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        #: more ``redis-server`` arguments (``--unixsocket PATH``, ``--cluster-enabled yes``)
        self.extra = extra
        #: a config file's text, written beside and given first (``sentinel monitor ...``
        #: with ``--sentinel`` in ``extra``)
        self.config = config

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>``."""
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it and wait (at most 10 s) until it answers PING.

        Raises:
            RuntimeError: it did not answer.
        """
        command = ["redis-server"]
        if self.config is not None:
            path = Path(tempfile.mkdtemp(prefix="siomw-redis-")) / "redis.conf"
            path.write_text(self.config)
            command.append(str(path))
        command += ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--protected-mode", "no", *self.extra]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=tempfile.gettempdir())
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            for _ in range(200):
                with contextlib.suppress(redis.RedisError):
                    if client.ping():
                        return
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError(f"redis-server on port {self.port} did not answer PING")

    def kill(self) -> None:
        """SIGKILL it (no goodbye to its clients) and wait for it to end."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def clients(self) -> int:
        """``connected_clients`` of ``INFO clients``, this question's own connection not
        counted."""
        client = redis.Redis(port=self.port)
        try:
            info: dict[str, Any] = client.info("clients")  # type: ignore[assignment]
            return int(info["connected_clients"]) - 1
        finally:
            client.close()


@contextlib.contextmanager
def own_redis() -> Iterator[OwnRedis]:
    """An :class:`OwnRedis`, started, killed when the block ends."""
    server = OwnRedis()
    server.start()
    try:
        yield server
    finally:
        server.kill()


def write_config(directory: Path, table: dict[str, Any]) -> Path:
    """``siomw.toml`` in ``directory``: only the ratelimit plugin (the allow-list), its
    table from ``table`` (strings, numbers, booleans)."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ['plugins = ["ratelimit"]', "", "[ratelimit]"]
    lines += [f"{key} = {value(v)}" for key, v in table.items()]
    path = directory / "siomw.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Servers:
    """Server processes of :mod:`~tests.plugins.ratelimit.shared_app`, each on its own
    port: ``uvicorn`` (``kind = "async"``) or gunicorn's ``gthread`` workers (``"sync"``)."""

    def __init__(self, directory: Path, kind: str, count: int) -> None:
        self.directory = directory
        self.kind = kind
        self.ports = [free_port() for _ in range(count)]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs = [directory / f"server-{i}.log" for i in range(count)]

    @property
    def urls(self) -> list[str]:
        """Each process' base URL."""
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def _command(self, port: int) -> list[str]:
        if self.kind == "async":
            return [str(BIN / "uvicorn"), "tests.plugins.ratelimit.shared_app:app",
                    "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                    "--lifespan", "on"]
        return [str(BIN / "gunicorn"), "tests.plugins.ratelimit.shared_app:wsgi_app",
                "-k", "gthread", "--threads", "40", "-w", "1", "-b", f"127.0.0.1:{port}",
                "--log-level", "warning", "--graceful-timeout", "2"]

    async def start(self) -> None:
        """Start every process and wait (at most 20 s) until each answers HTTP outside
        the engine path (nothing counted).

        Raises:
            RuntimeError: one did not (its log in the message).
        """
        env = {**os.environ, "SIOMW_CONFIG": str(self.directory / "siomw.toml"),
               "SHARED_KIND": self.kind, "PYTHONPATH": str(ROOT)}
        for port, log in zip(self.ports, self.logs, strict=True):
            with log.open("wb") as out:
                self.procs.append(subprocess.Popen(self._command(port), env=env, cwd=ROOT,
                                                   stdout=out, stderr=subprocess.STDOUT))
        async with aiohttp.ClientSession() as session:
            for url, proc, log in zip(self.urls, self.procs, self.logs, strict=True):
                for _ in range(400):
                    if proc.poll() is not None:
                        break
                    with contextlib.suppress(aiohttp.ClientError, OSError):
                        async with session.get(url + "/up",
                                               timeout=aiohttp.ClientTimeout(total=1)):
                            break
                    await asyncio.sleep(0.05)
                else:
                    proc.kill()
                if proc.poll() is not None:
                    raise RuntimeError(f"server {url} did not start: {log.read_text()}")

    def stop(self) -> None:
        """SIGTERM every process and wait (at most 10 s each; SIGKILL after)."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def log_text(self, index: int) -> str:
        """What process ``index`` wrote (stdout and stderr)."""
        return self.logs[index].read_text(errors="replace")


@contextlib.asynccontextmanager
async def servers(directory: Path, table: dict[str, Any], *, kind: str = "async",
                  count: int = 3) -> AsyncIterator[Servers]:
    """``count`` processes of the shared app of ``kind``, configured by ``table``."""
    write_config(directory, table)
    group = Servers(directory, kind, count)
    try:
        await group.start()
        yield group
    finally:
        await asyncio.to_thread(group.stop)
