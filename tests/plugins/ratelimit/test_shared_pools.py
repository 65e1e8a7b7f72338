"""The ratelimit plugin's storage pool is opened at the stack's startup and closed at its
shutdown (the siomw_startup / siomw_shutdown hooks), on both server kinds and with both
asyncio Redis clients, counted as Redis sees them: ``connected_clients`` of a Redis server
of the test's own. A Redis that does not answer at startup is the failure policy, not a
failed start."""

from __future__ import annotations

import asyncio
import logging

import pytest
import siomw_ratelimit
import socketio

from siomw_core import Config, CoreSettings, Siomw, attach
from siomw_core.testing import close_client, connect_result, serve
from tests.plugins.kinds import connect_outcome, served

from .processes import OwnRedis, own_redis


def stack(sio: object, table: dict[str, object]) -> Siomw:
    config = Config(source="test", core=CoreSettings(), tables={"ratelimit": table})
    return attach(sio, config=config, entry_points=False,
                  local_plugins=[("ratelimit", siomw_ratelimit)])


@pytest.mark.parametrize("client", ["coredis", "redispy"])
async def test_async_pool_opened_in_the_lifespan_and_closed_after(
    client: str, prefix: str
) -> None:
    """mw.asgi_app() under uvicorn: Redis sees a connection once the lifespan started
    (before any request), none once it ended; a second lifespan opens it again."""
    with own_redis() as storage:
        sio = socketio.AsyncServer(async_mode="asgi")
        mw = stack(sio, {"storage": storage.url, "redis_client": client,
                         "key_prefix": prefix, "connect": "5/minute"})
        assert storage.clients() == 0  # built, not connected
        for _ in range(2):
            async with serve(mw.asgi_app(), lifespan="on") as url:
                assert storage.clients() >= 1
                outcome, _, sock = await connect_result(url, transports=["websocket"])
                assert outcome == "connect"
                await close_client(sock)
            assert storage.clients() == 0


async def test_sync_pool_opened_at_first_request_and_closed_by_shutdown(prefix: str) -> None:
    """A sync socketio.Server: the first engine request opens the pool (redis-py), in its
    thread; mw.shutdown() closes it."""
    with own_redis() as storage:
        sio = socketio.Server(async_mode="threading")
        mw = stack(sio, {"storage": storage.url, "key_prefix": prefix, "connect": "5/minute"})
        assert storage.clients() == 0
        async with served(sio) as url:
            assert (await connect_outcome("sync", url))[0] == "connect"
            assert storage.clients() >= 1
        await asyncio.to_thread(mw.shutdown)
        assert storage.clients() == 0


async def test_redis_down_at_startup_is_the_policy(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis not running when the stack starts: one warning, the start succeeds, the
    policy applies (fail closed: rate_limit_unavailable); once Redis runs, the probe
    brings it back and connections are counted there."""
    caplog.set_level(logging.INFO, logger="siomw.ratelimit")
    storage = OwnRedis()  # not started yet
    sio = socketio.AsyncServer(async_mode="asgi")
    mw = stack(sio, {"storage": storage.url, "key_prefix": prefix, "connect": "5/minute",
                     "on_storage_error": "closed", "storage_timeout": 0.5})
    try:
        async with serve(mw.asgi_app(), lifespan="on") as url:
            warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1 and "at startup" in warnings[0], warnings
            outcome, data, _ = await connect_result(url, transports=["websocket"])
            assert outcome == "connect_error"
            assert data["data"] == {"code": "rate_limit_unavailable"}, data
            storage.start()
            for _ in range(40):  # the probe waits 1 s after the failure, then 2 s
                outcome, _, sock = await connect_result(url, transports=["websocket"])
                if outcome == "connect":
                    await close_client(sock)
                    break
                await asyncio.sleep(0.25)
            assert outcome == "connect"
            assert "recovered" in caplog.text
    finally:
        storage.kill()
