"""The multi-process deployment of docs/production.md, started for real by tests/deploy.

:func:`deployment` starts two ``siomw serve`` processes (the ASGI or the sync kind, in
``docs/examples/production`` with its ``siomw.toml``), and nginx on a free loopback port with
the docs' ``nginx.conf`` (only its ports changed, :func:`nginx_config`), in a directory of its
own: pid, logs and temporary files there, never the system's. Each deployment has its own
Socket.IO channel on the local Redis (``SOCKETIO_CHANNEL``) and its own ratelimit key prefix.

nginx's sticky sessions hash the client's address (``hash $remote_addr consistent``): the
clients here bind addresses of their own in 127.0.0.0/8 (:data:`ADDRESSES`), so that the
balancer sees distinct clients and spreads them over the processes, as it does real ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import re
import shutil
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import jwt
import pytest
import redis

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = REPO / "docs" / "examples" / "production"
SIOMW = Path(sys.executable).with_name("siomw")
SECRET = "deploy-test-secret-of-at-least-32-bytes!"
REDIS_URL = "redis://127.0.0.1:6379/0"
#: client addresses: 127.0.0.0/8 is the loopback network, every address of it is local
ADDRESSES = [f"127.0.0.{i}" for i in range(2, 80)]
#: the APP each kind serves, as docs/production.md runs it
APPS = {"asgi": "asgi_app:sio", "wsgi": "wsgi_app:app"}
#: the same with a member holding sockets pending (tests/deploy/held_*.py)
HELD_APPS = {"asgi": "tests.deploy.held_asgi:sio", "wsgi": "tests.deploy.held_wsgi:app"}


def require(what: str, present: bool, how: str) -> None:
    """Fail (in CI: ``$CI`` set) or skip (elsewhere) a test that needs ``what``."""
    if present:
        return
    message = f"{what} is needed: {how}"
    if os.environ.get("CI"):
        pytest.fail(f"CI: {message}", pytrace=False)
    pytest.skip(message)


def redis_answers() -> bool:
    """A Redis server answers PING on 127.0.0.1:6379."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def nginx_binary() -> str | None:
    """nginx on PATH, or Debian's /usr/sbin/nginx (outside a non-root user's PATH)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    return found


def require_deployment() -> None:
    """What :func:`deployment` needs: nginx and the local Redis (fail in CI, else skip)."""
    require("nginx", nginx_binary() is not None,
            "apt-get install nginx (scripts/test.sh does when it is missing)")
    require("Redis on 127.0.0.1:6379", redis_answers(),
            "scripts/test.sh starts one when none answers")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def nginx_config(listen: int, backends: list[int], sticky: bool = True) -> str:
    """The docs' ``nginx.conf`` with this deployment's ports: nginx listens on 127.0.0.1:
    ``listen`` and balances over 127.0.0.1:``backends``; nothing else changes, except without
    its ``hash`` line when not ``sticky`` (nginx's default round robin, for the control)."""
    text = (PRODUCTION / "nginx.conf").read_text()
    if not sticky:
        text, hashes = re.subn(r"\n    hash \$remote_addr consistent;", "", text)
        assert hashes == 1, "docs/examples/production/nginx.conf changed shape"
    text, listens = re.subn(r"listen 80;", f"listen 127.0.0.1:{listen};", text)
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in backends)
    text, upstreams = re.subn(r"(    server 127\.0\.0\.1:\d+;\n)+", servers, text)
    assert listens == 1 and upstreams == 1, "docs/examples/production/nginx.conf changed shape"
    return text


def nginx_main(directory: Path, site: Path) -> str:
    """A main configuration of nginx's own running in ``directory`` and including ``site``
    in its ``http`` block (the place of Debian's ``conf.d/*.conf``)."""
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    temp = "\n".join(f"    {kind}_temp_path {directory / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"{user}daemon off;\nworker_processes 1;\npid {directory / 'nginx.pid'};\n"
            f"error_log {directory / 'error.log'} info;\n"
            f"events {{ worker_connections 512; }}\n"
            f"http {{\n    access_log {directory / 'access.log'};\n{temp}\n"
            f"    include {site};\n}}\n")


async def wait_listening(port: int, proc: asyncio.subprocess.Process, log: Path,
                         what: str) -> None:
    """Until something accepts on 127.0.0.1:``port`` (20 s at most); ``proc`` ending first
    fails with its log."""
    for _ in range(400):
        if proc.returncode is not None:
            raise AssertionError(f"{what} ended ({proc.returncode}):\n{log.read_text()}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port} within 20 s:\n{log.read_text()}")


async def engine_answers(url: str, log: Path) -> None:
    """Until a polling handshake on ``url`` answers 200 (the app is loaded; 20 s at most)."""
    async with aiohttp.ClientSession() as http:
        for _ in range(400):
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{url}/socket.io/?EIO=4&transport=polling") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} did not answer a handshake within 20 s:\n{log.read_text()}")


async def stop(proc: asyncio.subprocess.Process) -> None:
    """Terminate a process this harness started; killed if it lasts 10 s more (uvicorn
    waits for the long polls python-engineio still holds, up to the ping interval)."""
    if proc.returncode is None:
        proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), 10)
    except TimeoutError:
        proc.kill()
        await proc.wait()


@dataclass
class Deployment:
    """A running deployment: the balancer's URL, the processes' ports, its log files."""

    url: str
    kind: str
    ports: list[int]
    directory: Path
    channel: str
    prefix: str
    logs: list[Path] = field(default_factory=list)

    def log_text(self) -> str:
        """Every log of the deployment, each under its file name."""
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in self.logs
                         if p.exists())


def token(sub: str) -> str:
    """An HS256 token for ``sub`` that the docs' siomw.toml accepts (exp in 10 minutes)."""
    return jwt.encode({"sub": sub, "exp": int(time.time()) + 600}, SECRET, algorithm="HS256")


def environment(channel: str, prefix: str) -> dict[str, str]:
    """The processes' environment: the jwt secret, this deployment's channel and prefix."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIOMW_")}
    env.update(SIOMW_JWT_SECRET=SECRET, SOCKETIO_CHANNEL=channel, REDIS_URL=REDIS_URL,
               SIOMW_RATELIMIT__KEY_PREFIX=prefix,
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])))
    return env


@contextlib.asynccontextmanager
async def deployment(kind: str, tmp: Path, processes: int = 2, *, held: bool = False,
                     sticky: bool = True) -> AsyncIterator[Deployment]:
    """``processes`` ``siomw serve`` of ``kind`` (``asgi`` or ``wsgi``: :data:`APPS`, or
    :data:`HELD_APPS` when ``held``) behind nginx (``sticky``: see :func:`nginx_config`); see
    the module. Everything started is stopped after, and the deployment's Redis keys
    removed."""
    require_deployment()
    suffix = uuid.uuid4().hex[:12]
    channel, prefix = f"siomw-deploy-{suffix}", f"siomw-deploy-{suffix}"
    env = environment(channel, prefix)
    ports = [free_port() for _ in range(processes)]
    listen = free_port()
    dep = Deployment(f"http://127.0.0.1:{listen}", kind, ports, tmp, channel, prefix)
    procs: list[asyncio.subprocess.Process] = []
    try:
        app = (HELD_APPS if held else APPS)[kind]
        for i, port in enumerate(ports):
            log = tmp / f"serve-{i}.log"
            dep.logs.append(log)
            with log.open("wb") as out:
                procs.append(await asyncio.create_subprocess_exec(
                    str(SIOMW), "serve", app, "--host", "127.0.0.1", "--port", str(port),
                    cwd=PRODUCTION, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=out,
                    stderr=out))
        for port, proc, log in zip(ports, procs, dep.logs, strict=True):
            await wait_listening(port, proc, log, f"siomw serve on {port}")
            await engine_answers(f"http://127.0.0.1:{port}", log)
        site = tmp / "siomw.conf"
        site.write_text(nginx_config(listen, ports, sticky))
        (tmp / "nginx.conf").write_text(nginx_main(tmp, site))
        error_log = tmp / "error.log"
        dep.logs += [error_log, tmp / "nginx.out"]
        with (tmp / "nginx.out").open("wb") as out:
            procs.append(await asyncio.create_subprocess_exec(
                str(nginx_binary()), "-e", str(error_log), "-p", str(tmp), "-c",
                str(tmp / "nginx.conf"), stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out))
        await wait_listening(listen, procs[-1], tmp / "nginx.out", "nginx")
        yield dep
    finally:
        if len(procs) > processes:  # nginx first: no request reaches a stopping process
            await stop(procs.pop())
        await asyncio.gather(*(stop(proc) for proc in procs))
        client = redis.Redis.from_url(REDIS_URL)
        try:
            for key in client.scan_iter(match=f"*{prefix}*"):
                client.delete(key)
        finally:
            client.close()
