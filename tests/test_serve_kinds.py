"""``siomw serve`` picks the server for APP's kind: uvicorn (ASGI), aiohttp's runner, gunicorn
with threads or its gevent worker (a sync socketio.Server, Flask-SocketIO). Each test runs
``siomw serve ... --port 0`` as a subprocess on the bare and the guarded apps of
tests/serve_apps, and talks to it with python-socketio's client over polling and WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from pathlib import Path

import aiohttp
import pytest

from siomw_core.testing import close_client, connect_result
from tests.plugins.headers.support import self_signed
from tests.test_serve import BIN, LISTENING, echo_through, environment, serve_output, siomw_serve

ROOT = Path(__file__).resolve().parent.parent
APPS = "tests.serve_apps"
URL = re.compile(r"http://127\.0\.0\.1:[1-9]\d*")

# (APP, $SERVE_MODE, what `siomw: found ...` says it is)
BARE = [
    pytest.param(f"{APPS}.aiohttp_bare:app", "", "an aiohttp.web.Application with "
                 "socketio.AsyncServer at /socket.io/: siomw attached; sio.attach(app) ran "
                 "before siomw attached: an aiohttp middleware routes engine requests through "
                 "the engine chain", id="aiohttp-app"),
    pytest.param(f"{APPS}.aiohttp_bare:sio", "", "a socketio.AsyncServer (aiohttp): attached "
                 "to a new aiohttp.web.Application at /socket.io/: siomw attached",
                 id="aiohttp-sio"),
    pytest.param(f"{APPS}.wsgi_bare:app", "threading",
                 "a socketio.WSGIApp (threading) at /socket.io/: siomw attached",
                 id="wsgi-threads"),
    pytest.param(f"{APPS}.wsgi_bare:sio", "threading", "a socketio.Server (threading): "
                 "serving socketio.WSGIApp(sio) at /socket.io/: siomw attached",
                 id="server-threads"),
    pytest.param(f"{APPS}.wsgi_bare:app", "gevent",
                 "a socketio.WSGIApp (gevent) at /socket.io/: siomw attached", id="wsgi-gevent"),
    pytest.param(f"{APPS}.flask_bare:app", "threading", "a Flask app with Flask-SocketIO "
                 "(threading) at /socket.io/: siomw attached", id="flask-threads"),
    pytest.param(f"{APPS}.flask_bare:socketio", "threading", "a flask_socketio.SocketIO "
                 "(threading): serving its Flask app at /socket.io/: siomw attached",
                 id="socketio-threads"),
    pytest.param(f"{APPS}.flask_bare:app", "gevent", "a Flask app with Flask-SocketIO "
                 "(gevent) at /socket.io/: siomw attached", id="flask-gevent"),
]


@pytest.mark.parametrize(("app", "mode", "found"), BARE)
async def test_each_kind_is_served_by_its_server(app: str, mode: str, found: str) -> None:
    """The bare app of each kind: what was found, siomw attached (no plugins), where it
    listens; echo through an ack over polling and over WebSocket; the app's own route."""
    async with siomw_serve(app, cwd=ROOT, SIOMW_PLUGINS="", SERVE_MODE=mode) as served:
        assert served.lines[0] == f"siomw: found {app} is {found}"
        assert served.lines[1] == ("siomw: config <embedded defaults>; engine chain: (empty); "
                                   "connect chain of '/': (empty)")
        assert URL.fullmatch(served.url), served.lines
        await echo_through(served.url)
        if app.endswith(("aiohttp_bare:app", "flask_bare:app")):  # the app's own route
            async with aiohttp.ClientSession() as http, http.get(served.url + "/") as response:
                assert (response.status, await response.text()) == (200, "home")


@pytest.mark.parametrize(("app", "mode"), [
    pytest.param(f"{APPS}.aiohttp_bare:app", "", id="aiohttp-app"),
    pytest.param(f"{APPS}.aiohttp_bare:sio", "", id="aiohttp-sio"),
    pytest.param(f"{APPS}.wsgi_bare:app", "threading", id="wsgi-threads"),
    pytest.param(f"{APPS}.flask_bare:app", "gevent", id="flask-gevent"),
])
async def test_the_engine_chain_runs_under_each_server(app: str, mode: str) -> None:
    """The headers plugin's engine member answers the handshake on every server, the
    aiohttp app whose sio.attach(app) ran before siomw attached included."""
    async with siomw_serve(app, cwd=ROOT, SIOMW_PLUGINS="headers", SERVE_MODE=mode) as served:
        assert "engine chain: headers;" in served.lines[1]
        async with aiohttp.ClientSession() as http, http.get(
                served.url + "/socket.io/?EIO=4&transport=polling") as response:
            assert response.status == 200
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        await echo_through(served.url)


GUARDED = [
    pytest.param(f"{APPS}.aiohttp_guarded:app", "", "aiohttp", id="aiohttp"),
    pytest.param(f"{APPS}.wsgi_guarded:app", "threading", "threading", id="wsgi-threads"),
    pytest.param(f"{APPS}.wsgi_guarded:app", "gevent", "gevent", id="wsgi-gevent"),
    pytest.param(f"{APPS}.flask_guarded:app", "threading", "flask", id="flask-threads"),
    pytest.param(f"{APPS}.flask_guarded:app", "gevent", "flask", id="flask-gevent"),
]


@pytest.mark.parametrize(("app", "mode", "kind"), GUARDED)
async def test_the_modules_stack_guards_each_kind(app: str, mode: str, kind: str) -> None:
    """siomw attached by the module: serve keeps that stack and its connect middleware
    refuses a client without the pass (the refusal's data reaches the client) on either
    transport, and lets one with it through."""
    async with siomw_serve(app, cwd=ROOT, SERVE_MODE=mode) as served:
        assert ": the module's siomw stack" in served.lines[0], served.lines
        assert served.lines[1].endswith("connect chain of '/': gate")
        for transports in (["polling"], ["websocket"]):
            outcome, data, client = await connect_result(served.url, transports=transports)
            await close_client(client)
            assert (outcome, data) == ("connect_error",
                                       {"message": "not allowed", "data": {"kind": kind}})
            outcome, data, client = await connect_result(served.url, transports=transports,
                                                         auth={"pass": "yes"})
            assert outcome == "connect", data
            assert await client.call("echo", "hi", timeout=5) == "hi"
            await close_client(client)


@pytest.mark.parametrize(("args", "mode", "expected"), [
    (("--threads", "8"), "", "Error: --threads: uvicorn cannot honour it: only gunicorn's "
     "gthread worker (a sync socketio.Server in threading mode) has a thread pool"),
    ((f"{APPS}.wsgi_bare:app", "--threads", "8"), "gevent", "Error: --threads: gunicorn "
     "(gevent) cannot honour it: only gunicorn's gthread worker (a sync socketio.Server in "
     "threading mode) has a thread pool; the gevent worker takes any number of clients, one "
     "greenlet each"),
    ((f"{APPS}.aiohttp_bare:app", "--reload"), "", "Error: --reload: aiohttp's runner cannot "
     "honour it: it serves one process and has no reloader (aiohttp-devtools has one)"),
    ((f"{APPS}.aiohttp_bare:app", "--workers", "2"), "", "Error: --workers: aiohttp's runner "
     "cannot honour it: it serves one process (run one process per port behind a load "
     "balancer with sticky sessions: see 'Running in production' (docs/production.md))"),
    ((f"{APPS}.flask_bare:app", "--root-path", "/chat"), "threading", "Error: --root-path: "
     "gunicorn (gthread) cannot honour it: it is ASGI's root_path; mount the engine under "
     "the prefix (socketio_path) instead"),
])
async def test_an_option_the_server_cannot_honour_is_one_line(
    args: tuple[str, ...], mode: str, expected: str
) -> None:
    """Never silently ignored: one line naming the option and the server, status 2."""
    status, err = await serve_output(str(BIN / "siomw"), "serve", *args, cwd=ROOT,
                                     SIOMW_PLUGINS="", SERVE_MODE=mode)
    assert (status, err) == (2, expected + "\n")


async def test_apps_of_no_servable_kind_are_usage_errors(tmp_path: Path) -> None:
    """A Flask app without Flask-SocketIO, an aiohttp app without a Socket.IO server: status
    2, one line saying what is missing."""
    (tmp_path / "plain.py").write_text(
        "from aiohttp import web\nfrom flask import Flask\n"
        "flask_app = Flask(__name__)\naio = web.Application()\n")
    for ref, expected in [
        ("plain:flask_app", "Error: Invalid value for APP: Flask has no Flask-SocketIO "
         "extension (app.extensions has no 'socketio'): create flask_socketio.SocketIO(app) "
         "in the module"),
        ("plain:aio", "Error: Invalid value for APP: plain:aio is an aiohttp.web.Application "
         "without a Socket.IO server (no route to a python-engineio server: call "
         "sio.attach(app))"),
    ]:
        status, err = await serve_output(str(BIN / "siomw"), "serve", ref, cwd=tmp_path)
        assert (status, err.splitlines()[-1]) == (2, expected)


@pytest.mark.parametrize(("app", "mode", "extra"), [
    (f"{APPS}.wsgi_bare:app", "threading", "wsgi"),
    (f"{APPS}.wsgi_bare:app", "gevent", "gevent"),
    (f"{APPS}.flask_bare:app", "threading", "flask"),
])
async def test_a_missing_server_names_the_extra(
    tmp_path: Path, app: str, mode: str, extra: str
) -> None:
    """gunicorn not importable (a package of that name raising ImportError shadows it on
    PYTHONPATH): one line naming the pip extra that installs it, status 1."""
    (tmp_path / "gunicorn").mkdir()
    (tmp_path / "gunicorn" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'gunicorn'\", name='gunicorn')\n")
    status, err = await serve_output(str(BIN / "siomw"), "serve", app, cwd=ROOT,
                                     SIOMW_PLUGINS="", SERVE_MODE=mode,
                                     PYTHONPATH=str(tmp_path))
    packages = "gunicorn gevent" if mode == "gevent" else "gunicorn"
    assert (status, err) == (1, f"Error: serving a {mode} app needs gunicorn, which is not "
                                f"installed: pip install {packages} (siomw-core's [{extra}] "
                                f"extra; in a clone of siomw: pip install './[{extra}]')\n")


GUNICORN_WARNINGS = [
    "WARNING siomw: --workers 2: rooms and emits are per process (no client_manager such "
    "as socketio.RedisManager): a broadcast reaches only the clients of the worker that "
    "sends it",
]


async def test_gunicorn_workers_warn_and_serve() -> None:
    """--workers 2 under gunicorn (a WebSocket-only server: one accepting polling is
    refused, tests/deploy/test_workers.py): the warning names the sync manager; each
    worker imports the app and serves WebSocket clients."""
    async with siomw_serve(f"{APPS}.wsgi_bare:app", "--workers", "2", cwd=ROOT,
                           SIOMW_PLUGINS="", SERVE_MODE="threading",
                           SERVE_TRANSPORTS="websocket") as served:
        assert [line for line in served.lines if line.startswith("WARNING")] == \
            GUNICORN_WARNINGS
        for _ in range(3):
            outcome, data, client = await connect_result(served.url, transports=["websocket"])
            assert outcome == "connect", data
            assert await client.call("echo", 1, timeout=5) == 1
            await close_client(client)


@pytest.mark.parametrize(("app", "mode"), [(f"{APPS}.wsgi_bare:app", "threading"),
                                           (f"{APPS}.aiohttp_bare:app", "")])
async def test_unix_socket(tmp_path: Path, app: str, mode: str) -> None:
    """--uds under gunicorn and aiohttp: `listening on unix:PATH`, the engine answers there."""
    path = tmp_path / "serve.sock"
    async with siomw_serve(app, "--uds", str(path), cwd=ROOT, SIOMW_PLUGINS="",
                           SERVE_MODE=mode) as served:
        assert served.url == f"unix:{path}"
        connector = aiohttp.UnixConnector(path=str(path))
        async with aiohttp.ClientSession(connector=connector) as http, http.get(
                "http://localhost/socket.io/?EIO=4&transport=polling") as response:
            assert response.status == 200
            assert (await response.text()).startswith("0{")


@pytest.mark.parametrize("level", ["info", "debug"])
@pytest.mark.parametrize(("app", "mode"), [(f"{APPS}.wsgi_bare:app", "threading"),
                                           (f"{APPS}.wsgi_bare:app", "gevent"),
                                           (f"{APPS}.aiohttp_bare:app", "")])
async def test_access_log_is_redacted(app: str, mode: str, level: str) -> None:
    """--access-log under gunicorn and aiohttp: the server's own request lines on stdout,
    the value of a secret query parameter redacted, at info and at debug (where gunicorn
    also logs each request's target)."""
    secret = "s3cret-value-in-the-query"
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "siomw"), "serve", "--port", "0", app, "--access-log", "--log-level", level,
        cwd=ROOT,
        env=environment(SIOMW_PLUGINS="", SERVE_MODE=mode),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not (lines and LISTENING.match(lines[-1])):
                raw = await proc.stdout.readline()
                assert raw, "\n".join(lines)
                lines.append(raw.decode().rstrip("\n"))
        match = LISTENING.match(lines[-1])
        assert match is not None
        async with aiohttp.ClientSession() as http, http.get(
                f"{match.group(1)}/socket.io/?token={secret}&EIO=4&transport=polling") as got:
            assert got.status == 200
        async with asyncio.timeout(10):  # the line is written once the request is answered
            while not any("GET /socket.io/" in line for line in lines):
                raw = await proc.stdout.readline()
                assert raw, "\n".join(lines)
                lines.append(raw.decode().rstrip("\n"))
    finally:
        proc.terminate()
        rest, _ = await asyncio.wait_for(proc.communicate(), 20)
    output = "\n".join([*lines, rest.decode()])
    assert "GET /socket.io/?token=[redacted]&EIO=4&transport=polling" in output
    assert secret not in output


def encrypted(keyfile: Path, password: str) -> Path:
    """``keyfile``'s key written again, encrypted with ``password`` (PEM, PKCS#8)."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(keyfile.read_bytes(), password=None)
    out = keyfile.with_name("encrypted-key.pem")
    out.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode())))
    return out


@pytest.mark.parametrize("password", [None, "key-password"])
@pytest.mark.parametrize(("app", "mode"), [(f"{APPS}.wsgi_bare:app", "threading"),
                                           (f"{APPS}.aiohttp_bare:app", "")])
async def test_tls(tmp_path: Path, app: str, mode: str, password: str | None) -> None:
    """--ssl-certfile / --ssl-keyfile (/ --ssl-keyfile-password) under gunicorn and aiohttp:
    `listening on https://...`, and the engine answers over TLS."""
    certfile, keyfile = self_signed(tmp_path)
    args = ["--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile)]
    if password is not None:
        args = [*args[:3], str(encrypted(keyfile, password)), "--ssl-keyfile-password", password]
    async with siomw_serve(app, *args, cwd=ROOT, SIOMW_PLUGINS="", SERVE_MODE=mode) as served:
        assert served.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(certfile))
        async with aiohttp.ClientSession() as http, http.get(
                served.url + "/socket.io/?EIO=4&transport=polling", ssl=context) as response:
            assert response.status == 200
            assert (await response.text()).startswith("0{")


RELOADED = '''
import socketio

sio = socketio.Server(async_mode="threading")
app = socketio.WSGIApp(sio)


@sio.on("version")
def version(sid, data):
    return "{version}"
'''


async def test_gunicorn_reload_imports_the_changed_app(tmp_path: Path) -> None:
    """--reload under gunicorn: the worker restarts on a change and imports the new code."""
    module = tmp_path / "reloaded.py"
    module.write_text(RELOADED.replace("{version}", "v1"))

    async def version(url: str) -> str | None:
        outcome, _, client = await connect_result(url, transports=["websocket"])
        try:
            return str(await client.call("version", 1, timeout=5)) \
                if outcome == "connect" else None
        finally:
            await close_client(client)

    async with siomw_serve("reloaded:app", "--reload", cwd=tmp_path, SIOMW_PLUGINS="") as served:
        assert await version(served.url) == "v1"
        module.write_text(RELOADED.replace("{version}", "v2"))
        for _ in range(50):  # gunicorn's reloader looks every second, then a worker boots
            with contextlib.suppress(Exception):
                if await version(served.url) == "v2":
                    break
            await asyncio.sleep(0.3)
        else:
            raise AssertionError("the reloaded worker never answered v2")


async def test_a_worker_that_cannot_import_app_stops_gunicorn(tmp_path: Path) -> None:
    """APP imported fine by siomw serve, then failing in gunicorn's worker: the worker prints
    the one line and exits 3, and gunicorn stops (`Worker failed to boot.`), status 3."""
    (tmp_path / "failing.py").write_text(
        "import sys\nimport socketio\n\n"
        "if 'gunicorn.arbiter' in sys.modules:  # only in a gunicorn worker\n"
        "    raise RuntimeError('DATABASE_URL unreachable')\n"
        "sio = socketio.Server(async_mode='threading')\napp = socketio.WSGIApp(sio)\n")
    status, err = await serve_output(str(BIN / "siomw"), "serve", "--port", "0", "failing:app",
                                     cwd=tmp_path, SIOMW_PLUGINS="")
    assert status == 3
    assert ("siomw: importing 'failing' failed: failing.py:5: RuntimeError: DATABASE_URL "
            "unreachable") in err.splitlines()
    assert err.splitlines()[-1].endswith("Reason: Worker failed to boot.")


ADDRESS_SYNC = """
import socketio
import siomw_core

sio = socketio.Server(async_mode="threading")
app = socketio.WSGIApp(sio)
mw = siomw_core.attach(sio, plugins=[])

@mw.use
def address(socket, call_next):
    raise siomw_core.Refusal("address", {"address": socket.handshake.address})
"""
ADDRESS_AIOHTTP = """
import socketio
from aiohttp import web
import siomw_core

sio = socketio.AsyncServer(async_mode="aiohttp")
mw = siomw_core.attach(sio, plugins=[])
app = web.Application()
sio.attach(app)

@mw.use
async def address(socket, call_next):
    raise siomw_core.Refusal("address", {"address": socket.handshake.address})
"""


@pytest.mark.parametrize("source", [ADDRESS_SYNC, ADDRESS_AIOHTTP], ids=["gunicorn", "aiohttp"])
@pytest.mark.parametrize(("args", "expected"), [
    ((), "127.0.0.1"),
    (("--forwarded-allow-ips", "127.0.0.1"), "203.0.113.7"),
])
async def test_forwarded_options_on_every_server(
    tmp_path: Path, source: str, args: tuple[str, ...], expected: str
) -> None:
    """--forwarded-allow-ips sets trusted_proxies in gunicorn's workers and under aiohttp as
    under uvicorn; no server believes X-Forwarded-For by itself."""
    (tmp_path / "where.py").write_text(source)
    async with siomw_serve("where:app", *args, cwd=tmp_path) as served:
        outcome, data, client = await connect_result(
            served.url, headers={"X-Forwarded-For": "203.0.113.7"}, transports=["websocket"])
        await close_client(client)
        assert outcome == "connect_error", data
        assert data["data"]["address"] == expected
