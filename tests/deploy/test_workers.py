"""``siomw serve --workers N``: N processes on one port run only WebSocket-only servers
(one connection a session: no sticky sessions needed); an APP that accepts long-polling is
refused with a line pointing to the multi-process recipe; what else N processes change
(memory storage, per-process rooms) is a startup warning."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from siomw_core.testing import close_client, connect_result
from tests.deploy.harness import REDIS_URL, redis_answers, require
from tests.test_serve import BIN, serve_output, siomw_serve

ROOT = Path(__file__).resolve().parents[2]
APP = """
import os
import socketio
import siomw_core

TRANSPORTS = os.environ.get("TRANSPORTS", "polling,websocket").split(",")
manager = (socketio.AsyncRedisManager(os.environ["REDIS_URL"], channel=os.environ["CHANNEL"])
           if os.environ.get("REDIS_URL") else None)
sio = socketio.AsyncServer(async_mode="asgi", transports=TRANSPORTS, client_manager=manager)
mw = siomw_core.attach(sio, plugins=["ratelimit"])

@sio.event
async def whoami(sid):
    return os.getpid()
"""
WSGI_APP = "tests.serve_apps.wsgi_bare:app"
RECIPE = "see 'Running in production' (docs/production.md)"


async def workers_ready(url: str) -> None:
    """Until a WebSocket client connects (the port is bound before the workers start; 20 s
    at most)."""
    for _ in range(100):
        outcome, _, client = await connect_result(url, transports=["websocket"])
        await close_client(client)
        if outcome == "connect":
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no worker answered on {url}")


def refusal(workers: int, server: str) -> str:
    """The one line ``--workers`` refuses an APP accepting polling with."""
    return (f"Error: --workers {workers}: {server} hands each request to any worker and a "
            "long-polling session lives in one, so polling clients would fail (400 Invalid "
            "session); serve WebSocket only (transports=['websocket'] on the server and its "
            "clients), or run one siomw serve per port behind a load balancer with sticky "
            f"sessions: {RECIPE}")


async def test_an_app_accepting_polling_is_refused(tmp_path: Path) -> None:
    """uvicorn (an AsyncServer with both transports, python-socketio's default) and gunicorn
    (a sync Server): status 2 and the line, after what was found; nothing served."""
    (tmp_path / "app.py").write_text(APP)
    status, err = await serve_output(str(BIN / "siomw"), "serve", "app:sio", "--workers", "3",
                                     cwd=tmp_path)
    assert status == 2
    assert err.splitlines()[0].startswith("siomw: found app:sio is a socketio.AsyncServer")
    assert err.splitlines()[-1] == refusal(3, "uvicorn")
    status, err = await serve_output(str(BIN / "siomw"), "serve", WSGI_APP, "--workers", "2",
                                     cwd=ROOT, SIOMW_PLUGINS="")
    assert (status, err.splitlines()[-1]) == (2, refusal(2, "gunicorn"))


async def test_the_demo_is_refused(tmp_path: Path) -> None:
    """The bundled demo accepts polling (browsers start with it): refused too."""
    status, err = await serve_output(str(BIN / "siomw"), "serve", "--workers", "2",
                                     cwd=tmp_path)
    assert (status, err.splitlines()[-1]) == (2, refusal(2, "uvicorn"))


async def test_websocket_only_is_served_by_n_processes_with_warnings(tmp_path: Path) -> None:
    """WebSocket-only, memory storage, no client manager: served, with one warning for
    each; every client connects and its events are answered by the process holding it."""
    (tmp_path / "app.py").write_text(APP)
    async with siomw_serve("app:sio", "--workers", "2", cwd=tmp_path,
                           TRANSPORTS="websocket") as served:
        warnings = [line for line in served.lines if line.startswith("WARNING")]
        assert warnings == [
            "WARNING siomw: --workers 2: [ratelimit] storage = 'memory://' keeps its counts "
            "in each of the 2 processes, so every limit allows up to 2 times its count; use "
            f"a storage they share (redis://...): {RECIPE}",
            "WARNING siomw: --workers 2: rooms and emits are per process (no client_manager "
            "such as socketio.AsyncRedisManager): a broadcast reaches only the clients of the "
            "worker that sends it",
        ]
        await workers_ready(served.url)
        pids = set()
        for _ in range(6):
            outcome, data, client = await connect_result(served.url, transports=["websocket"],
                                                         wait_timeout=20)
            assert outcome == "connect", data
            pids.add(await client.call("whoami", timeout=10))
            await close_client(client)
        assert pids and all(isinstance(pid, int) for pid in pids)


async def test_websocket_only_on_redis_warns_nothing(tmp_path: Path) -> None:
    """WebSocket-only with Redis storage and AsyncRedisManager: nothing to warn about."""
    require("Redis on 127.0.0.1:6379", redis_answers(), "scripts/test.sh starts one")
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "siomw.toml").write_text(f'[ratelimit]\nstorage = "{REDIS_URL}"\n'
                                         'key_prefix = "siomw-workers-test"\n')
    async with siomw_serve("app:sio", "--workers", "2", cwd=tmp_path, TRANSPORTS="websocket",
                           REDIS_URL=REDIS_URL, CHANNEL="siomw-workers-test") as served:
        assert not [line for line in served.lines if line.startswith("WARNING")]
        await workers_ready(served.url)
        outcome, data, client = await connect_result(served.url, transports=["websocket"],
                                                     wait_timeout=20)
        assert outcome == "connect", data
        await close_client(client)


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_aiohttp_refuses_workers_pointing_to_the_recipe(workers: str) -> None:
    """aiohttp's runner serves one process: --workers 2 is refused with the recipe's name;
    --workers 1 is what it does."""
    args = ("serve", "tests.serve_apps.aiohttp_bare:app", "--workers", workers)
    if workers == "1":
        async with siomw_serve(*args[1:], cwd=ROOT, SIOMW_PLUGINS=""):
            return
    status, err = await serve_output(str(BIN / "siomw"), *args, cwd=ROOT, SIOMW_PLUGINS="")
    assert (status, err.splitlines()[-1]) == (2, "Error: --workers: aiohttp's runner cannot "
                                              "honour it: it serves one process (run one "
                                              "process per port behind a load balancer with "
                                              f"sticky sessions: {RECIPE})")
