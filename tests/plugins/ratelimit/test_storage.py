"""Redis storage shared by two servers, and the storage-failure policy (open / closed)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import limits
import pytest
import redis
import socketio

from siomw_core.testing import serve
from tests.conftest import requires_js
from tests.jsclient import js_outcome
from tests.plugins.kinds import KINDS, served

from .support import (
    DEAD_REDIS_URL,
    POLLING,
    REDIS_URL,
    assert_http_rate_limited,
    assert_rate_limited,
    attempt,
    curl,
    engine_server,
    kind_limiter,
    make_server,
    redis_keys,
    run,
    run_all,
    serving,
)

STRATEGIES = ["fixed-window", "moving-window", "sliding-window-counter"]
UNAVAILABLE = {"message": "Rate limiting is unavailable",
               "data": {"code": "rate_limit_unavailable"}}


@contextlib.asynccontextmanager
async def two_servers(table: dict[str, Any], kinds: tuple[str, str] = ("async", "async")
                      ) -> AsyncIterator[tuple[str, str]]:
    """Two siomw servers (two web servers, two stacks) configured alike, of ``kinds``: two
    processes' worth of state, sharing only the storage."""
    sio_a, _ = make_server(table, kind=kinds[0])
    sio_b, _ = make_server(table, kind=kinds[1])
    async with served(sio_a) as url_a, served(sio_b) as url_b:
        yield url_a, url_b


#: two servers' kinds: alike, and an AsyncServer (limits.aio) with a sync Server (limits'
#: sync API) on one Redis
PAIRS = [("async", "async"), ("sync", "sync"), ("async", "sync")]


@pytest.mark.parametrize("kinds", PAIRS, ids="+".join)
@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_redis_budget_is_shared_by_two_servers(prefix: str, strategy: str,
                                                     kinds: tuple[str, str]) -> None:
    """Two servers on one Redis share the budget: 2 on A + 1 on B, then B and A refuse;
    an async and a sync server count in the same keys."""
    table = {"connect": "3/minute", "storage": REDIS_URL, "key_prefix": prefix,
             "strategy": strategy}
    kind_a, kind_b = kinds
    async with two_servers(table, kinds) as (url_a, url_b):
        assert (await attempt(url_a, kind_a))[0] == "connect"
        assert (await attempt(url_a, kind_a))[0] == "connect"
        assert (await attempt(url_b, kind_b))[0] == "connect"
        outcome, data = await attempt(url_b, kind_b)
        assert outcome == "connect_error"
        # the fixed window on Redis announces a second more: its TTL is whole seconds
        assert_rate_limited(data, "3 per 1 minute", most=61)
        assert (await attempt(url_a, kind_a))[0] == "connect_error"
    assert redis_keys(prefix), "the counters live in Redis under the key prefix"
    counter = f"{prefix}/connect/{strategy}/ip/127.0.0.1/3/1/minute"
    assert all(counter in key for key in redis_keys(prefix))


async def test_redis_fixed_window_counter_key(prefix: str) -> None:
    """A fixed-window counter is one Redis key, LIMITS:LIMITER/<prefix>/connect/<strategy>/..."""
    table = {"connect": "5/minute", "storage": REDIS_URL, "key_prefix": prefix,
             "strategy": "fixed-window"}
    sio, _ = make_server(table)
    async with serve(socketio.ASGIApp(sio)) as url:
        for _ in range(2):
            assert (await attempt(url))[0] == "connect"
    key = f"LIMITS:LIMITER/{prefix}/connect/fixed-window/ip/127.0.0.1/5/1/minute"
    assert redis_keys(prefix) == [key]
    assert redis.Redis.from_url(REDIS_URL).get(key) == b"2"


async def test_redispy_client_shares_the_budget(prefix: str) -> None:
    """redis_client = "redispy" (redis.asyncio) counts in the same Redis as coredis would."""
    table = {"connect": "2/minute", "storage": REDIS_URL, "key_prefix": prefix,
             "redis_client": "redispy"}
    async with two_servers(table) as (url_a, url_b):
        assert (await attempt(url_a))[0] == "connect"
        assert (await attempt(url_b))[0] == "connect"
        outcome, data = await attempt(url_a)
    assert outcome == "connect_error"
    assert_rate_limited(data, "2 per 1 minute")
    assert len(redis_keys(prefix)) == 1


@requires_js
async def test_redis_shared_budget_with_js_client(prefix: str) -> None:
    """The JS client on server B is refused once server A spent the shared Redis budget."""
    table = {"connect": "2/minute", "storage": REDIS_URL, "key_prefix": prefix}
    async with two_servers(table) as (url_a, url_b):
        assert (await attempt(url_a))[0] == "connect"
        assert (await attempt(url_a))[0] == "connect"
        refused = await js_outcome(url_b, transports=["websocket"])
    assert refused["event"] == "connect_error"
    assert refused["data"]["code"] == "rate_limited"
    assert refused["data"]["limit"] == "2 per 1 minute"
    assert 1 <= refused["data"]["retry_after"] <= 60


@pytest.mark.parametrize("kind", KINDS)
async def test_dead_storage_fails_open_onto_memory(kind: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """on_storage_error = "open": a dead Redis lets clients in, still limited in memory,
    with one warning (password redacted), on both server kinds."""
    caplog.set_level(logging.INFO, logger="siomw.ratelimit")
    storage = DEAD_REDIS_URL.replace("redis://", "redis://:s3cret@")
    sio, _ = make_server({"connect": "3/minute", "storage": storage, "on_storage_error": "open"},
                         kind=kind)
    async with served(sio) as url:
        outcomes = [await attempt(url, kind) for _ in range(4)]
    assert [o for o, _ in outcomes] == ["connect"] * 3 + ["connect_error"]
    assert_rate_limited(outcomes[3][1], "3 per 1 minute")
    warnings = [r for r in caplog.records
                if r.name == "siomw.ratelimit" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "counting in memory (fail open)" in warnings[0].getMessage()
    assert "s3cret" not in caplog.text and ":***@127.0.0.1:1" in caplog.text


@pytest.mark.parametrize("kind", KINDS)
async def test_dead_storage_fails_closed(kind: str) -> None:
    """on_storage_error = "closed": a dead Redis refuses with rate_limit_unavailable, on
    both server kinds."""
    sio, _ = make_server({"connect": "3/minute", "storage": DEAD_REDIS_URL,
                          "on_storage_error": "closed"}, kind=kind)
    async with served(sio) as url:
        for _ in range(2):
            assert await attempt(url, kind) == ("connect_error", UNAVAILABLE)


@requires_js
@pytest.mark.parametrize("kind", KINDS)
async def test_dead_storage_fails_closed_for_js_client(kind: str) -> None:
    """The JS client sees err.data {"code": "rate_limit_unavailable"} when failing closed."""
    sio, _ = make_server({"storage": DEAD_REDIS_URL, "on_storage_error": "closed"}, kind=kind)
    async with served(sio) as url:
        seen = await js_outcome(url, transports=["websocket"])
    assert seen["event"] == "connect_error"
    assert seen["message"] == "Rate limiting is unavailable"
    assert seen["data"] == {"code": "rate_limit_unavailable"}


class RedisProxy:
    """A TCP forwarder on loopback in front of the real Redis, that can be cut and restored."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.links):
            writer.close()
        await self.server.wait_closed()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 6379)
        self.links.update((writer, up_writer))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self.links.difference_update((writer, up_writer))


async def test_recovery_goes_back_to_redis(prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    """After Redis comes back, the background probe (storage.check) restores it as the counter."""
    caplog.set_level(logging.INFO, logger="siomw.ratelimit")
    proxy = RedisProxy()
    await proxy.start()
    table = {"connect": "10/minute", "strategy": "fixed-window", "key_prefix": prefix,
             "storage": f"redis://127.0.0.1:{proxy.port}", "storage_timeout": 0.5}
    key = f"LIMITS:LIMITER/{prefix}/connect/fixed-window/ip/127.0.0.1/10/1/minute"
    sio, _ = make_server(table)
    counter = redis.Redis.from_url(REDIS_URL)
    try:
        async with serve(socketio.ASGIApp(sio)) as url:
            assert (await attempt(url))[0] == "connect"
            assert counter.get(key) == b"1"
            await proxy.cut()
            assert (await attempt(url))[0] == "connect"  # fails open
            assert "counting in memory" in caplog.text
            await proxy.start()
            await asyncio.sleep(1.1)  # the first probe waits 1 s
            assert (await attempt(url))[0] == "connect"  # starts the probe
            for _ in range(100):
                if "recovered" in caplog.text:
                    break
                await asyncio.sleep(0.02)
            assert "recovered" in caplog.text
            assert (await attempt(url))[0] == "connect"
            assert counter.get(key) == b"2"  # counted in Redis again
    finally:
        counter.close()
        await proxy.cut()


@pytest.mark.parametrize("kind", KINDS)
async def test_limiter_fails_open_once_and_recovers(
    kind: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The failure policy, written once, on both server kinds (limits.aio on the loop;
    limits' sync API driven in threads, whose timeout is redis-py's socket timeout): Redis
    cut under five calls at once gives one warning and counts them in memory; once it is
    back, the probe (storage.check, run by the runtime) restores it as the counter."""
    caplog.set_level(logging.INFO, logger="siomw.ratelimit")
    proxy = RedisProxy()
    await proxy.start()
    guard = kind_limiter(kind, {"strategy": "fixed-window", "key_prefix": prefix,
                                "storage": f"redis://127.0.0.1:{proxy.port}",
                                "storage_timeout": 0.5})
    item = limits.parse("10/minute")
    ident = f"{prefix}/probe"
    key = f"LIMITS:LIMITER/{ident}/10/1/minute"
    counter = redis.Redis.from_url(REDIS_URL)
    try:
        assert await run(kind, guard.hit(item, ident))
        assert counter.get(key) == b"1"
        await proxy.cut()
        assert await run_all(kind, (guard.hit(item, ident) for _ in range(5))) == [True] * 5
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "counting in memory" in warnings[0].getMessage()
        window = await run(kind, guard.window(item, ident))
        assert window is not None and window.remaining == 5  # the fallback counted 5
        await proxy.start()
        await asyncio.sleep(1.1)  # the first probe waits 1 s
        assert await run(kind, guard.hit(item, ident))  # starts the probe
        for _ in range(100):
            if "recovered" in caplog.text:
                break
            await asyncio.sleep(0.02)
        assert "recovered" in caplog.text
        assert await run(kind, guard.hit(item, ident))
        assert counter.get(key) == b"2"  # counted in Redis again
    finally:
        counter.close()
        await proxy.cut()


@pytest.mark.parametrize("kind", KINDS)
async def test_silent_storage_times_out_into_the_policy(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A Redis that accepts connections and never answers: storage_timeout ends the call
    on both kinds (asyncio.timeout on the loop; on a sync server redis-py's socket timeout,
    its retries off), and the policy applies: fail open counts in memory, one warning."""
    caplog.set_level(logging.INFO, logger="siomw.ratelimit")
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # read nothing, answer nothing, keep the connection open

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    guard = kind_limiter(kind, {"storage": f"redis://127.0.0.1:{port}",
                                "storage_timeout": 0.3})
    item = limits.parse("2/minute")
    try:
        results = [await run(kind, guard.hit(item, "test/silent")) for _ in range(3)]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
    assert results == [True, True, False]  # counted by the fallback once the call failed
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    # TimeoutError (asyncio.timeout), or redis-py's "Timeout reading from socket" (sync)
    assert len(warnings) == 1 and "timeout" in warnings[0].getMessage().lower()


# engine level: HTTP requests ----------------------------------------------------------------
@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_redis_http_budget_is_shared_by_two_servers(prefix: str, strategy: str) -> None:
    """http = "2/minute" on one Redis: a handshake on A and one on B spend it; the third,
    on either, gets the 429; the counters are the http ones, apart from connect's."""
    table = {"http": "2/minute", "storage": REDIS_URL, "key_prefix": prefix,
             "strategy": strategy}
    _, mw_a = engine_server(table)
    _, mw_b = engine_server(table)
    async with serve(mw_a.asgi_app()) as url_a, serve(mw_b.asgi_app()) as url_b:
        assert (await curl(url_a + POLLING))[0] == 200
        assert (await curl(url_b + POLLING))[0] == 200
        assert_http_rate_limited(*await curl(url_a + POLLING), "2 per 1 minute", 2, most=61)
        assert (await curl(url_b + POLLING))[0] == 429
    counter = f"{prefix}/http/{strategy}/ip/127.0.0.1/2/1/minute"
    assert redis_keys(prefix) and all(counter in key for key in redis_keys(prefix))


async def test_redis_http_and_connect_counters_share_one_storage(prefix: str) -> None:
    """One Redis, two counters: a connect spends one unit of each, under its own key."""
    table = {"connect": "5/minute", "http": "5/minute", "storage": REDIS_URL,
             "key_prefix": prefix, "strategy": "fixed-window"}
    sio, mw = engine_server(table)
    async with serving(sio, mw) as url:
        assert (await attempt(url))[0] == "connect"
    assert redis_keys(prefix) == [
        f"LIMITS:LIMITER/{prefix}/connect/fixed-window/ip/127.0.0.1/5/1/minute",
        f"LIMITS:LIMITER/{prefix}/http/fixed-window/ip/127.0.0.1/5/1/minute",
    ]


async def test_dead_storage_fails_closed_with_503() -> None:
    """on_storage_error = "closed": a dead Redis answers handshakes with 503
    {"code": "rate_limit_unavailable"}."""
    sio, mw = engine_server({"http": "5/minute", "storage": DEAD_REDIS_URL,
                           "on_storage_error": "closed"})
    async with serving(sio, mw) as url:
        status, headers, body = await curl(url + POLLING)
    assert status == 503 and headers["content-type"] == "application/json"
    assert json.loads(body) == UNAVAILABLE


async def test_dead_storage_fails_open_for_http(caplog: pytest.LogCaptureFixture) -> None:
    """on_storage_error = "open": a dead Redis lets handshakes through, still limited in
    memory; connect and http share one limiter, so one warning."""
    caplog.set_level(logging.INFO, logger="siomw.ratelimit")
    sio, mw = engine_server({"http": "2/minute", "storage": DEAD_REDIS_URL, "headers": True})
    async with serving(sio, mw) as url:
        assert (await attempt(url))[0] == "connect"
        status, headers, _ = await curl(url + POLLING)
        assert status == 200 and headers["ratelimit-remaining"] == "0"
        assert (await curl(url + POLLING))[0] == 429
    warnings = [r for r in caplog.records
                if r.name == "siomw.ratelimit" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
