"""``siomw serve`` as users run it: a subprocess, uvicorn's options, real clients, real output.

Each test starts ``siomw serve ... --port 0`` and reads the port from the line it prints
(``siomw: listening on http://127.0.0.1:PORT``); plain ``uvicorn myapp:app`` is run the same
way for what it prints when siomw's configuration is wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import socketio

from siomw_core.testing import close_client, connect_result
from tests.plugins.headers.support import self_signed

BIN = Path(sys.executable).parent
SECRET = "serve-test-secret-of-at-least-32-bytes!"
LISTENING = re.compile(r"^siomw: listening on (\S+)$")
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


def environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, "SIOMW_JWT_SECRET": SECRET, **extra}
    for var in ("SIOMW_CONFIG", "SIOMW_PLUGINS", "SIOMW_DISABLE_PLUGINS",
                "SIOMW_TRUSTED_PROXIES", "FORWARDED_ALLOW_IPS"):
        if var not in extra:
            env.pop(var, None)
    return env


class Served:
    """A running ``siomw serve``: its URL and the stderr lines read so far."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.url = ""

    async def read_until_listening(self, timeout: float = 30) -> None:
        assert self.proc.stderr is not None
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.proc.stderr.readline()
                if not raw:
                    raise AssertionError("siomw serve ended:\n" + "\n".join(self.lines))
                line = raw.decode().rstrip("\n")
                self.lines.append(line)
                match = LISTENING.match(line)
                if match:
                    self.url = match.group(1)
                    return

    async def stop(self) -> str:
        """Stop it; everything it wrote to stderr."""
        if self.proc.returncode is None:
            self.proc.terminate()
        communicating = asyncio.ensure_future(self.proc.communicate())
        # uvicorn waits for open long-polls (up to the ping interval) before it exits
        done, _ = await asyncio.wait({communicating}, timeout=8)
        if not done:
            self.proc.kill()
        _, rest = await asyncio.wait_for(communicating, 10)
        self.lines.extend(rest.decode().splitlines())
        return "\n".join(self.lines)


@contextlib.asynccontextmanager
async def siomw_serve(*args: str, cwd: Path, ready: bool = True,
                      **env: str) -> AsyncIterator[Served]:
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "siomw"), "serve", "--port", "0", *args, cwd=cwd, env=environment(**env),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    served = Served(proc)
    try:
        if ready:
            await served.read_until_listening()
        yield served
    finally:
        await served.stop()


async def serve_output(*args: str, cwd: Path, **env: str) -> tuple[int, str]:
    """Run a command that is expected to end by itself: ``(status, stderr)``."""
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, env=environment(**env),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


MOUNTED = '''
import socketio
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import siomw_core

sio = socketio.AsyncServer(async_mode="asgi")
mw = siomw_core.attach(sio, plugins=[])

@mw.engine.use
async def served_by(request, call_next):
    request.response_headers.append(("X-Served-By", "siomw"))
    await call_next()

@mw.use
async def address(socket, call_next):
    if socket.handshake.auth.get("show") == "address":
        raise siomw_core.Refusal("address", {"address": socket.handshake.address})
    await call_next()

@sio.on("echo")
async def echo(sid, data):
    return data

async def home(request):
    return PlainTextResponse("home")

api = Starlette(routes=[Route("/", home)])
api.mount("/realtime", {inner})
'''


def write_app(tmp_path: Path, inner: str = "mw.asgi_app()", name: str = "webapp") -> str:
    (tmp_path / f"{name}.py").write_text(MOUNTED.replace("{inner}", inner))
    return f"{name}:api"


async def echo_through(url: str, path: str = "socket.io") -> None:
    for transports in (["polling"], ["websocket"]):
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(url, socketio_path=path, transports=transports, wait_timeout=5)
        assert await client.call("echo", [1, "a"], timeout=5) == [1, "a"]
        await close_client(client)


async def get(url: str, unix: str | None = None) -> tuple[int, dict[str, str], str]:
    """``(status, headers with lower-case names, body)`` of a GET."""
    connector = aiohttp.UnixConnector(path=unix) if unix else None
    async with aiohttp.ClientSession(connector=connector) as http, http.get(url) as response:
        headers = {k.lower(): v for k, v in response.headers.items()}
        return response.status, headers, await response.text()


async def test_starlette_app_with_mount_found_and_served_as_is(tmp_path: Path) -> None:
    """A Starlette APP with mw.asgi_app() mounted at /realtime: serve says what it found and
    where it listens (the real port for --port 0), the engine chain runs, clients connect
    with the prefix, Starlette's own route answers."""
    app = write_app(tmp_path)
    async with siomw_serve(app, cwd=tmp_path) as served:
        assert served.lines[0] == "siomw: found mw.asgi_app() at /realtime/socket.io/: served as is"
        assert served.lines[1] == ("siomw: config <embedded defaults>; engine chain: served_by; "
                                   "connect chain of '/': address")
        assert re.fullmatch(r"http://127\.0\.0\.1:[1-9]\d*", served.url)
        status, headers, _ = await get(served.url + "/realtime" + HANDSHAKE)
        assert (status, headers.get("x-served-by")) == (200, "siomw")
        assert (await get(served.url + "/"))[2] == "home"
        await echo_through(served.url, "realtime/socket.io")
    assert "without the engine chain" not in await served.stop()


async def test_bare_asgi_app_inside_starlette_gets_the_chain(tmp_path: Path) -> None:
    """socketio.ASGIApp(sio) mounted in the APP: serve puts the engine chain in front of it
    where it is mounted and says so; the member runs, no bypass warning follows."""
    app = write_app(tmp_path, inner="socketio.ASGIApp(sio)")
    async with siomw_serve(app, cwd=tmp_path) as served:
        assert served.lines[0] == ("siomw: found socketio.ASGIApp at /realtime/socket.io/: "
                                   "the engine chain put in front of it")
        status, headers, _ = await get(served.url + "/realtime" + HANDSHAKE)
        assert (status, headers.get("x-served-by")) == (200, "siomw")
        await echo_through(served.url, "realtime/socket.io")
    assert "without the engine chain" not in await served.stop()


async def test_an_asgi_app_without_socketio_is_a_usage_error(tmp_path: Path) -> None:
    """An ASGI app holding no Socket.IO server: status 2, one line saying where it looked."""
    (tmp_path / "plain.py").write_text("from starlette.applications import Starlette\n"
                                       "api = Starlette()\n")
    status, err = await serve_output(str(BIN / "siomw"), "serve", "plain:api", cwd=tmp_path)
    assert status == 2
    assert err.splitlines()[-1] == (
        "Error: Invalid value for APP: plain:api is a Starlette, not a python-socketio server "
        "(AsyncServer or Server), a socketio.ASGIApp or socketio.WSGIApp, a Flask app with "
        "Flask-SocketIO, an aiohttp application with a server attached, nor an ASGI "
        "application holding one (looked through its routes, mounts, middleware and "
        "other_asgi_app)")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import os\n\nDB = os.environ['DATABASE_URL']\n",
         "Error: importing 'broken' failed: broken.py:3: KeyError: 'DATABASE_URL'"),
        ("x = 1\ndef f(:\n    pass\n",
         "Error: importing 'broken' failed: broken.py:2: SyntaxError: invalid syntax"),
        ("import json\nimport no_such_dependency\n",
         "Error: importing 'broken' failed: broken.py:2: ModuleNotFoundError: "
         "No module named 'no_such_dependency'"),
        ("import sys\nsys.exit(3)\n",
         "Error: importing 'broken' failed: broken.py:2: SystemExit: 3"),
    ],
)
async def test_app_import_errors_are_one_line(tmp_path: Path, source: str, expected: str) -> None:
    """The APP module's own import error: one line naming its file and line, status 1."""
    (tmp_path / "broken.py").write_text(source)
    status, err = await serve_output(str(BIN / "siomw"), "serve", "broken:app", cwd=tmp_path)
    assert (status, err) == (1, expected + "\n")


README = '''
import socketio, siomw_core

sio = socketio.AsyncServer(async_mode="asgi")
mw = siomw_core.attach(sio)              # installed plugins, configured by ./siomw.toml

@mw.use                                  # io.use(): your own middleware, beside the plugins'
async def audit(socket, call_next):
    if socket.handshake.auth.get("token") is None:
        raise siomw_core.Refusal("not authorized", {"content": "Please retry later"})
    await call_next()

app = mw.asgi_app()                      # uvicorn module:app (or siomw serve module:sio)
'''
NO_SECRET = ("<embedded defaults>: [jwt]: secret_env: environment variable 'SIOMW_JWT_SECRET' "
             "is not set; expected the HMAC secret for HS256")


async def test_readme_snippet_without_secret_is_one_line(tmp_path: Path) -> None:
    """The README's snippet without SIOMW_JWT_SECRET: `uvicorn myapp:app` prints one line and
    exits 1 (attach()'s ConfigError is also a SystemExit); `siomw serve` the same line."""
    (tmp_path / "myapp.py").write_text(README)
    env = environment()
    env.pop("SIOMW_JWT_SECRET")
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "uvicorn"), "myapp:app", "--port", "0", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert (proc.returncode, err.decode()) == (1, f"siomw: {NO_SECRET}\n")
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "siomw"), "serve", "myapp:app", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert (proc.returncode, err.decode()) == (1, f"Error: {NO_SECRET}\n")


FLAT = """
import socketio
import siomw_core

sio = socketio.AsyncServer(async_mode="asgi")
mw = siomw_core.attach(sio, plugins=[])

@mw.use
async def address(socket, call_next):
    raise siomw_core.Refusal("address", {"address": socket.handshake.address})
"""


async def address_seen(url: str) -> str:
    outcome, data, _ = await connect_result(
        url, headers={"X-Forwarded-For": "203.0.113.7"}, transports=["websocket"])
    assert outcome == "connect_error", data
    return str(data["data"]["address"])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "127.0.0.1"),  # uvicorn alone would believe 127.0.0.1's X-Forwarded-For
        (("--forwarded-allow-ips", "127.0.0.1"), "203.0.113.7"),
        (("--proxy-headers",), "203.0.113.7"),  # uvicorn's default list: 127.0.0.1
        (("--forwarded-allow-ips", "10.0.0.0/8"), "127.0.0.1"),
        (("--forwarded-allow-ips", "*"), "203.0.113.7"),
    ],
)
async def test_forwarded_options_set_trusted_proxies(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    """--proxy-headers / --forwarded-allow-ips decide trusted_proxies, the one setting every
    level reads; uvicorn never rewrites the client address by itself."""
    (tmp_path / "flat.py").write_text(FLAT)
    async with siomw_serve("flat:sio", *args, cwd=tmp_path) as served:
        assert await address_seen(served.url) == expected


async def test_forwarded_allow_ips_errors(tmp_path: Path) -> None:
    """A bad entry is a usage error naming the option; code that sets trusted_proxies itself
    wins, with a warning saying the option was overridden."""
    status, err = await serve_output(str(BIN / "siomw"), "serve", "--forwarded-allow-ips",
                                     "10.0.0.300", cwd=tmp_path)
    assert status == 2
    assert err.splitlines()[-1] == ("Error: Invalid value for '--forwarded-allow-ips': "
                                    "'10.0.0.300' is not an IP address or CIDR network")
    (tmp_path / "coded.py").write_text(FLAT.replace("plugins=[]",
                                                    "plugins=[], trusted_proxies=['10.1.1.1']"))
    async with siomw_serve("coded:sio", "--forwarded-allow-ips", "127.0.0.1",
                           cwd=tmp_path) as served:
        assert await address_seen(served.url) == "127.0.0.1"
    assert ("WARNING siomw: --forwarded-allow-ips 127.0.0.1 is overridden: the "
            "application's code sets trusted_proxies = ['10.1.1.1']") in await served.stop()


WORKER_WARNINGS = [
    "WARNING siomw: --workers 2: rooms and emits are per process (no client_manager such "
    "as socketio.AsyncRedisManager): a broadcast reaches only the clients of the worker that "
    "sends it",
]


async def test_workers_refuse_polling(tmp_path: Path) -> None:
    """--workers 2 on the demo (it accepts long-polling): refused in one line pointing to
    the multi-process recipe (tests/deploy/test_workers.py has the rest)."""
    status, err = await serve_output(str(BIN / "siomw"), "serve", "--workers", "2",
                                     cwd=tmp_path)
    assert status == 2
    assert err.splitlines()[-1].startswith("Error: --workers 2: uvicorn hands each request")


async def test_workers_with_shared_storage_warn_less(tmp_path: Path) -> None:
    """With Redis storage and WebSocket only, just the per-process rooms warning is left."""
    (tmp_path / "siomw.toml").write_text('[ratelimit]\nstorage = "redis://127.0.0.1:6379/0"\n')
    (tmp_path / "ws.py").write_text(FLAT.replace('async_mode="asgi"',
                                                 'async_mode="asgi", transports=["websocket"]'))
    async with siomw_serve("ws:sio", "--workers", "2", cwd=tmp_path) as served:
        assert [line for line in served.lines if line.startswith("WARNING")] == \
            WORKER_WARNINGS


async def test_reload_serves_through_the_factory(tmp_path: Path) -> None:
    """--reload: uvicorn's reloader runs the app from the factory; it serves the APP."""
    (tmp_path / "flat.py").write_text(FLAT)
    async with siomw_serve("flat:sio", "--reload", cwd=tmp_path) as served:
        for _ in range(50):  # the reloader's child imports the app after the socket is bound
            with contextlib.suppress(Exception):
                assert await address_seen(served.url) == "127.0.0.1"
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the reloaded server never answered")


async def test_reload_and_workers_are_exclusive(tmp_path: Path) -> None:
    status, err = await serve_output(str(BIN / "siomw"), "serve", "--reload", "--workers", "2",
                                     cwd=tmp_path)
    assert status == 2
    assert err.splitlines()[-1] == ("Error: --reload and --workers are exclusive (uvicorn "
                                    "reloads one process)")


async def test_tls_listens_on_https(tmp_path: Path) -> None:
    """--ssl-certfile / --ssl-keyfile: `listening on https://...`, and the engine answers."""
    certfile, keyfile = self_signed(tmp_path)
    async with siomw_serve("--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile),
                           cwd=tmp_path) as served:
        assert served.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(certfile))
        async with aiohttp.ClientSession() as http, \
                http.get(served.url + HANDSHAKE, ssl=context) as response:
            assert response.status == 200


async def test_uds_and_log_level(tmp_path: Path) -> None:
    """--uds PATH: `listening on unix:PATH`, served there; --log-level info shows uvicorn's
    own startup lines."""
    path = str(tmp_path / "s.sock")
    async with siomw_serve("--uds", path, "--log-level", "info", cwd=tmp_path) as served:
        assert served.url == f"unix:{path}"
        status, _, body = await get("http://localhost" + HANDSHAKE, unix=path)
        assert status == 200 and body.startswith("0{")
    out = await served.stop()
    assert "INFO:     Application startup complete." in out
    assert not os.path.exists(path)


async def test_root_path(tmp_path: Path) -> None:
    """--root-path /realtime (a proxy strips it): the engine still answers /socket.io/."""
    async with siomw_serve("--root-path", "/realtime", cwd=tmp_path) as served:
        status, _, body = await get(served.url + HANDSHAKE)
        assert status == 200 and body.startswith("0{")


async def test_config_after_the_command_name(tmp_path: Path) -> None:
    """`siomw serve --config f.toml`: that file configures what is served."""
    (tmp_path / "f.toml").write_text('plugins = ["logging"]\n')
    async with siomw_serve("--config", "f.toml", cwd=tmp_path) as served:
        assert served.lines[1] == ("siomw: config f.toml; engine chain: logging-http; "
                                   "connect chain of '/': logging")
