"""The plugins' startup and shutdown hooks, run by every server kind: the ASGI lifespan
(``mw.asgi_app()``), a bare ``socketio.ASGIApp`` (first request; the loop's end), aiohttp's
signals, a sync ``socketio.Server`` (first request; ``atexit``), and ``mw.startup()`` /
``mw.shutdown()`` by hand. One plugin, written once with ``async def`` hooks, on all."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp import web

from siomw_core import Config, CoreSettings, PluginLoadError, Runtime, attach, hookimpl
from siomw_core.testing import connect_result, serve
from tests.plugins.kinds import connect_outcome, served

ROOT = Path(__file__).resolve().parent.parent


class Recorder:
    """A plugin whose hooks record what ran, on which kind, with a loop running or not."""

    def __init__(self, fail: bool = False) -> None:
        self.seen: list[tuple[str, str, bool]] = []
        self.fail = fail

    @staticmethod
    def _loop() -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True

    @hookimpl
    async def siomw_startup(self, runtime: Runtime) -> None:
        self.seen.append(("startup", runtime.kind, self._loop()))
        if self.fail:
            raise RuntimeError("cannot open the pool")

    @hookimpl
    async def siomw_shutdown(self, config: Any, runtime: Runtime) -> None:
        self.seen.append(("shutdown", runtime.kind, self._loop()))


def stack(sio: Any, plugin: Recorder) -> Any:
    config = Config(source="test", core=CoreSettings(), tables={})
    return attach(sio, config=config, entry_points=False, local_plugins=[("recorder", plugin)])


def events(plugin: Recorder) -> list[str]:
    return [what for what, _, _ in plugin.seen]


async def test_asgi_app_runs_the_hooks_in_the_lifespan() -> None:
    """mw.asgi_app() under uvicorn with its lifespan: startup before the first request, on
    the serving loop; shutdown when uvicorn stops; a second serve starts it again."""
    plugin = Recorder()
    sio = socketio.AsyncServer(async_mode="asgi")
    mw = stack(sio, plugin)
    for _ in range(2):
        async with serve(mw.asgi_app(), lifespan="on") as url:
            assert plugin.seen[-1] == ("startup", "asgi", True)
            outcome, _, client = await connect_result(url, transports=["websocket"])
            assert outcome == "connect"
            await client.disconnect()
        assert plugin.seen[-1] == ("shutdown", "asgi", True)
    assert events(plugin) == ["startup", "shutdown"] * 2


async def test_hand_built_asgi_app_takes_the_hooks() -> None:
    """socketio.ASGIApp(sio, on_startup=mw.startup, on_shutdown=mw.shutdown): python-engineio
    awaits them in its lifespan (they are coroutine functions on an AsyncServer)."""
    plugin = Recorder()
    sio = socketio.AsyncServer(async_mode="asgi")
    mw = stack(sio, plugin)
    app = socketio.ASGIApp(sio, on_startup=mw.startup, on_shutdown=mw.shutdown)
    async with serve(app, lifespan="on"):
        assert plugin.seen == [("startup", "asgi", True)]
    assert events(plugin) == ["startup", "shutdown"]


async def test_asgi_lifespan_of_the_other_app_still_runs() -> None:
    """mw.asgi_app(other_app): python-engineio hands the lifespan to the other app (its own
    startup runs), and siomw's hooks run around it."""
    plugin = Recorder()
    other: list[str] = []

    async def other_app(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        while True:
            message = await receive()
            kind = message["type"].rpartition(".")[2]
            other.append(kind)
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return

    mw = stack(socketio.AsyncServer(async_mode="asgi"), plugin)
    async with serve(mw.asgi_app(other_app), lifespan="on"):
        assert events(plugin) == ["startup"] and other == ["startup"]
    assert events(plugin) == ["startup", "shutdown"] and other == ["startup", "shutdown"]


async def test_failed_startup_fails_the_lifespan() -> None:
    """A startup hook that raises: the lifespan answers lifespan.startup.failed with the
    plugin's name (uvicorn then exits, status 3); mw.startup() raises it."""
    plugin = Recorder(fail=True)
    mw = stack(socketio.AsyncServer(async_mode="asgi"), plugin)
    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "lifespan.startup.failed":
            await incoming.put({"type": "lifespan.shutdown"})

    await incoming.put({"type": "lifespan.startup"})
    await asyncio.wait_for(mw.asgi_app()({"type": "lifespan", "asgi": {"version": "3.0"}},
                                         incoming.get, send), 5)
    assert sent[0] == {"type": "lifespan.startup.failed",
                       "message": "plugin 'recorder' failed to start: RuntimeError: "
                                  "cannot open the pool"}
    assert events(plugin) == ["startup"]  # nothing started: nothing to shut down
    with pytest.raises(PluginLoadError, match="plugin 'recorder' failed to start: "
                                               "RuntimeError: cannot open the pool"):
        await mw.startup()


async def test_bare_asgi_app_starts_at_the_first_request() -> None:
    """A socketio.ASGIApp built by hand, no lifespan: the first engine request starts the
    stack (concurrent first requests: one start); mw.shutdown() stops it."""
    plugin = Recorder()
    sio = socketio.AsyncServer(async_mode="asgi")
    mw = stack(sio, plugin)
    async with serve(socketio.ASGIApp(sio)) as url:
        assert plugin.seen == []
        results = await asyncio.gather(*(connect_result(url, transports=["websocket"])
                                         for _ in range(5)))
        assert [outcome for outcome, _, _ in results] == ["connect"] * 5
        for _, _, client in results:
            await client.disconnect()
        assert plugin.seen == [("startup", "asgi", True)]
        await mw.shutdown()
        await mw.shutdown()  # once per start
    assert events(plugin) == ["startup", "shutdown"]


async def test_aiohttp_signals_run_the_hooks() -> None:
    """sio.attach(app) after siomw: the start in app.on_startup, the stop in on_cleanup."""
    plugin = Recorder()
    sio = socketio.AsyncServer(async_mode="aiohttp")
    stack(sio, plugin)
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    assert plugin.seen == [("startup", "aiohttp", True)]
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        outcome, _, client = await connect_result(f"http://127.0.0.1:{port}",
                                                  transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
    finally:
        await runner.cleanup()
    assert events(plugin) == ["startup", "shutdown"]


async def test_sync_server_starts_at_the_first_request_and_by_hand() -> None:
    """A sync socketio.Server: the same async def hooks are driven in the request's thread
    (no loop) at the first request; mw.shutdown() runs the stop in the calling thread;
    mw.startup() starts it again by hand."""
    plugin = Recorder()
    sio = socketio.Server(async_mode="threading")
    mw = stack(sio, plugin)
    async with served(sio) as url:
        outcomes = await asyncio.gather(*(connect_outcome("sync", url) for _ in range(3)))
        assert [o for o, _ in outcomes] == ["connect"] * 3
        assert plugin.seen == [("startup", "threading", False)]
    # called from a thread of its own, as a sync application would (no loop there)
    assert await asyncio.to_thread(mw.shutdown) is None
    assert await asyncio.to_thread(mw.startup) is None
    await asyncio.to_thread(mw.shutdown)
    assert plugin.seen == [("startup", "threading", False), ("shutdown", "threading", False),
                           ("startup", "threading", False), ("shutdown", "threading", False)]


SCRIPT = """
import asyncio, signal, sys
import socketio, siomw_core, uvicorn
from siomw_core import Config, CoreSettings, hookimpl

class Printer:
    @hookimpl
    async def siomw_startup(self, runtime):
        print("startup", runtime.kind, flush=True)

    @hookimpl
    async def siomw_shutdown(self, runtime):
        print("shutdown", runtime.kind, flush=True)

KIND = sys.argv[1]
config = Config(source="test", core=CoreSettings(), tables={})
if KIND == "asgi":
    sio = socketio.AsyncServer(async_mode="asgi")
    mw = siomw_core.attach(sio, config=config, entry_points=False,
                           local_plugins=[("printer", Printer())])
    server = uvicorn.Server(uvicorn.Config(socketio.ASGIApp(sio), host="127.0.0.1", port=0,
                                           lifespan="off", log_level="warning"))

    async def main():
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        print("port", port, flush=True)
        await task

    asyncio.run(main())
else:
    sio = socketio.Server(async_mode="threading")
    mw = siomw_core.attach(sio, config=config, entry_points=False,
                           local_plugins=[("printer", Printer())])
    mw.startup()
    print("exiting", flush=True)
"""


def run_script(tmp_path: Path, kind: str) -> subprocess.Popen[str]:
    script = tmp_path / "lifecycle_app.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(script), kind], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)


async def test_bare_asgi_app_stops_when_its_loop_ends(tmp_path: Path) -> None:
    """uvicorn serving a bare socketio.ASGIApp (lifespan off), stopped by Ctrl-C (SIGINT): the stack
    started by the first request stops when asyncio.run ends the loop."""
    proc = run_script(tmp_path, "asgi")
    try:
        assert proc.stdout is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        assert line.startswith("port "), (line, proc.stderr.read() if proc.stderr else "")
        port = int(line.split()[1])
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling",
                                   timeout=aiohttp.ClientTimeout(total=5)) as response:
                assert response.status == 200
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.to_thread(proc.communicate, timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert out.splitlines() == ["startup asgi", "shutdown asgi"], (out, err)


async def test_sync_stack_stops_at_exit(tmp_path: Path) -> None:
    """A sync stack started by mw.startup() stops at the interpreter's exit (atexit)."""
    proc = run_script(tmp_path, "sync")
    out, err = await asyncio.to_thread(proc.communicate, timeout=30)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["startup threading", "exiting", "shutdown threading"], err


async def test_writing_page_example_runs() -> None:
    """The hooks example of docs/plugins/writing.md, loaded as a plugin: its pool opens at
    startup and closes at shutdown, one per stack."""
    page = (ROOT / "docs" / "plugins" / "writing.md").read_text()
    section = page[page.index("### siomw_shutdown(config, settings, runtime)"):]
    code = section[section.index("```python\n") + 10:]
    code = code[:code.index("```")]
    module = types.ModuleType("writing_example")
    exec(compile(code, "writing.md", "exec"), module.__dict__)
    config = Config(source="test", core=CoreSettings(), tables={})
    sio = socketio.AsyncServer(async_mode="asgi")
    mw = attach(sio, config=config, entry_points=False, local_plugins=[("pool", module)])
    async with serve(mw.asgi_app(), lifespan="on"):
        assert module.POOLS[mw.runtime].open
    assert not module.POOLS[mw.runtime].open


GUNICORN_APP = """
import os
import socketio, siomw_core
from siomw_core import Config, CoreSettings, hookimpl

class Printer:
    @hookimpl
    async def siomw_startup(self, runtime):
        print("startup", runtime.kind, os.getpid(), flush=True)

    @hookimpl
    async def siomw_shutdown(self, runtime):
        print("shutdown", runtime.kind, os.getpid(), flush=True)

sio = socketio.Server(async_mode="threading")
mw = siomw_core.attach(sio, config=Config(source="test", core=CoreSettings(), tables={}),
                       entry_points=False, local_plugins=[("printer", Printer())])
wsgi_app = socketio.WSGIApp(sio)
"""


async def test_gunicorn_worker_starts_at_first_request_and_stops_at_exit(
    tmp_path: Path,
) -> None:
    """gunicorn's gthread worker serving socketio.WSGIApp: the worker's first engine request
    starts its stack, and SIGTERM (the worker leaves through sys.exit) stops it."""
    from tests.plugins.ratelimit.processes import free_port

    (tmp_path / "gapp.py").write_text(GUNICORN_APP)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-k", "gthread", "-w", "1", "-b",
         f"127.0.0.1:{port}", "--log-level", "warning", "gapp:wsgi_app"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(
                            f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling",
                            timeout=aiohttp.ClientTimeout(total=2)) as response:
                        assert response.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("gunicorn did not answer")
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.to_thread(proc.communicate, timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [line.rsplit(" ", 1)[0] for line in out.splitlines()]
    assert lines == ["startup threading", "shutdown threading"], (out, err)
    assert len({line.rsplit(" ", 1)[1] for line in out.splitlines()}) == 1  # one worker


async def test_lifespan_app_reaches_a_mounted_stack() -> None:
    """Starlette does not pass the lifespan to a mounted mw.asgi_app(): mw.with_lifespan(api)
    runs the stack's hooks in the served app's lifespan, around Starlette's own."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    plugin = Recorder()
    starlette_events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        starlette_events.append("startup")
        yield
        starlette_events.append("shutdown")

    sio = socketio.AsyncServer(async_mode="asgi")
    mw = stack(sio, plugin)
    api = Starlette(routes=[Mount("/realtime", mw.asgi_app())], lifespan=lifespan)
    async with serve(mw.with_lifespan(api), lifespan="on") as url:
        assert events(plugin) == ["startup"] and starlette_events == ["startup"]
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(url, socketio_path="realtime/socket.io", transports=["websocket"],
                             wait_timeout=5)
        assert client.connected
        await client.disconnect()
    assert events(plugin) == ["startup", "shutdown"]
    assert starlette_events == ["startup", "shutdown"]


async def test_siomw_serve_gives_a_mounted_stack_the_applications_lifespan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``siomw serve api:api`` with a mw.asgi_app() mounted in Starlette: what it serves runs
    the stack's hooks in the application's lifespan (the user did not call with_lifespan)."""
    from siomw_core.config import load_config
    from siomw_core.serving import build

    (tmp_path / "mounted_api.py").write_text(textwrap.dedent("""
        import socketio
        from starlette.applications import Starlette
        from starlette.routing import Mount
        import siomw_core
        from tests.test_lifecycle import Recorder
        plugin = Recorder()
        sio = socketio.AsyncServer(async_mode="asgi")
        mw = siomw_core.attach(sio, local_plugins=[("recorder", plugin)], entry_points=False)
        api = Starlette(routes=[Mount("/realtime", mw.asgi_app())])
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    served_app = build("mounted_api:api", load_config(None, check=False))
    module = sys.modules["mounted_api"]
    async with serve(served_app.app, lifespan="on"):
        assert events(module.plugin) == ["startup"]
    assert events(module.plugin) == ["startup", "shutdown"]
