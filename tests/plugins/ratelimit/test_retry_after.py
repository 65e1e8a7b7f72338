"""``retry_after``, ``Retry-After`` and ``RateLimit-Reset`` are never shorter than the real
wait, on memory and on a real Redis, with every strategy: a client that waits exactly the
announced seconds and retries gets in.

The budgets are "2 per 3 seconds" with the second hit 1.6 s into the window, so that the
window has about 1.3 s left when the third is refused: Redis' ``TTL`` rounds that down to 1
(the wait limits reads for the fixed window), which announced 1 s and refused the retry.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from .support import (
    POLLING,
    REDIS_URL,
    assert_http_rate_limited,
    assert_rate_limited,
    attempt,
    engine_server,
    make_server,
    serving,
)

LIMIT = "2 per 3 seconds"
#: how limits writes it in the refusal's ``limit``
SHOWN = "2 per 3 second"
STRATEGIES = ["fixed-window", "moving-window", "sliding-window-counter"]
#: into the window when the second hit is spent: leaves less than half a second over a
#: whole number, where Redis' TTL rounds down
SECOND_HIT_AT = 1.6
#: the longest honest wait: the window (3 s) plus the whole-second slack of Redis' TTL
MOST = 4


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest, prefix: str) -> dict[str, Any]:
    """The storage keys of the table: ``memory://``, or the real Redis under a fresh
    ``key_prefix`` (deleted after the test)."""
    if request.param == "memory":
        return {"storage": "memory://"}
    return {"storage": REDIS_URL, "key_prefix": prefix}


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_connect_retry_after_the_announced_delay_gets_in(
    strategy: str, storage: dict[str, Any]
) -> None:
    """Two connects pass, the third is refused with ``retry_after`` n; a retry exactly n
    seconds later is accepted."""
    sio, mw = make_server({"connect": LIMIT, "strategy": strategy, **storage})
    async with serving(sio, mw) as url:
        assert await attempt(url) == ("connect", None)
        await asyncio.sleep(SECOND_HIT_AT)
        # the sliding window counter may have let the first hit fade already: spend until
        # refused (at most two more hits fit in "2 per 3 seconds")
        for _ in range(3):
            outcome, data = await attempt(url)
            if outcome != "connect":
                break
        assert outcome == "connect_error"
        assert_rate_limited(data, SHOWN, most=MOST)
        await asyncio.sleep(data["data"]["retry_after"])
        assert await attempt(url) == ("connect", None)


async def _handshake(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, str], str]:
    async with http.get(url + POLLING) as resp:
        headers = {name.lower(): value for name, value in resp.headers.items()}
        return resp.status, headers, await resp.text()


async def _retry_after_429(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        assert (await _handshake(http, url))[0] == 200
        await asyncio.sleep(SECOND_HIT_AT)
        for _ in range(3):  # spend until refused, as in the connect test
            status, headers, body = await _handshake(http, url)
            if status != 200:
                break
        retry_after = assert_http_rate_limited(status, headers, body, SHOWN, 2, most=MOST)
        await asyncio.sleep(retry_after)
        status, _, body = await _handshake(http, url)
        assert status == 200, body


async def _wait_ratelimit_reset(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        status, headers, _ = await _handshake(http, url)
        assert (status, headers["ratelimit-remaining"]) == (200, "1")
        await asyncio.sleep(SECOND_HIT_AT)
        for _ in range(3):  # spend until the response says the budget is gone
            status, headers, _ = await _handshake(http, url)
            assert status == 200, headers
            if headers["ratelimit-remaining"] == "0":
                break
        assert headers["ratelimit-remaining"] == "0"
        reset = int(headers["ratelimit-reset"])
        assert 1 <= reset <= MOST, headers
        await asyncio.sleep(reset)
        status, _, body = await _handshake(http, url)
        assert status == 200, body


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_http_retry_after_and_ratelimit_reset_are_honest(
    strategy: str, storage: dict[str, Any]
) -> None:
    """Engine level, two servers side by side (counters of their own): after a 429, a
    handshake ``Retry-After`` (= ``RateLimit-Reset``) seconds later passes; after the
    response that spent the budget (``RateLimit-Remaining: 0``), a handshake
    ``RateLimit-Reset`` seconds later passes."""
    servers = []
    for name in ("refused", "announced"):
        table = {"connect": "100/minute", "http": LIMIT, "headers": True,
                 "strategy": strategy, **storage}
        if "key_prefix" in table:
            table["key_prefix"] += f"-{name}"
        servers.append(engine_server(table))
    (sio_a, mw_a), (sio_b, mw_b) = servers
    async with serving(sio_a, mw_a) as url_a, serving(sio_b, mw_b) as url_b:
        await asyncio.gather(_retry_after_429(url_a), _wait_ratelimit_reset(url_b))


@pytest.mark.parametrize("strategy", ["moving-window", "fixed-window"])
async def test_retry_after_covers_every_spent_limit(strategy: str) -> None:
    """With "1 per 2 seconds;2 per 6 seconds", the third connect (2.1 s in) is refused by
    the first limit, whose own wait is 2 s; but the second limit is spent too until 6 s
    in, so retry_after is the longer wait and the retry after it passes."""
    sio, mw = make_server({"connect": "1 per 2 seconds;2 per 6 seconds", "strategy": strategy})
    async with serving(sio, mw) as url:
        assert await attempt(url) == ("connect", None)
        await asyncio.sleep(2.1)
        assert await attempt(url) == ("connect", None)
        outcome, data = await attempt(url)
        assert outcome == "connect_error"
        assert_rate_limited(data, "1 per 2 second", most=6)
        assert data["data"]["retry_after"] >= 4  # not the first limit's 2 s
        await asyncio.sleep(data["data"]["retry_after"])
        assert await attempt(url) == ("connect", None)
