"""The ratelimit connect middleware against real servers and real clients (memory storage)."""

from __future__ import annotations

import asyncio

import pytest
import socketio

from siomw_core import CallNext, Config, CoreSettings, Socket
from siomw_core.testing import serve
from tests.conftest import requires_js
from tests.jsclient import js_outcome
from tests.plugins.kinds import KINDS, served

from .support import assert_rate_limited, attempt, make_server

STRATEGIES = ["fixed-window", "moving-window", "sliding-window-counter"]


@requires_js
@pytest.mark.parametrize("kind", KINDS)
async def test_js_client_sees_rate_limited_data(kind: str) -> None:
    """connect = "3/minute" lets 3 JS clients in and gives the 4th err.data rate_limited,
    on both server kinds."""
    sio, _ = make_server({"connect": "3/minute"}, kind=kind)
    async with served(sio) as url:
        for _ in range(3):
            assert (await js_outcome(url, transports=["websocket"]))["event"] == "connect"
        fourth = await js_outcome(url, transports=["websocket"])
    assert fourth["event"] == "connect_error"
    assert fourth["message"] == "Too many connection attempts"
    data = fourth["data"]
    assert set(data) == {"code", "retry_after", "limit"}
    assert data["code"] == "rate_limited" and data["limit"] == "3 per 1 minute"
    assert isinstance(data["retry_after"], int) and 1 <= data["retry_after"] <= 60


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_each_strategy_lets_three_in_and_refuses_the_fourth(kind: str,
                                                                  strategy: str) -> None:
    """Every limits strategy admits the budget and refuses the next with rate_limited, on
    both server kinds (a sync server counts with limits' sync API)."""
    sio, _ = make_server({"connect": "3/minute", "strategy": strategy}, kind=kind)
    async with served(sio) as url:
        outcomes = [await attempt(url, kind) for _ in range(4)]
    assert [o for o, _ in outcomes] == ["connect"] * 3 + ["connect_error"]
    assert_rate_limited(outcomes[3][1], "3 per 1 minute")


async def test_retry_after_is_honest() -> None:
    """After waiting retry_after seconds a refused client gets in again (moving window)."""
    sio, _ = make_server({"connect": "2 per 1 second"})
    async with serve(socketio.ASGIApp(sio)) as url:
        assert [(await attempt(url))[0] for _ in range(2)] == ["connect", "connect"]
        outcome, data = await attempt(url)
        assert outcome == "connect_error"
        assert_rate_limited(data, "2 per 1 second", most=1)
        await asyncio.sleep(data["data"]["retry_after"] + 0.05)
        assert (await attempt(url))[0] == "connect"


async def test_several_limits_all_hold() -> None:
    """With "5/minute;2/second" the per-second limit refuses the 3rd and is the one named."""
    sio, _ = make_server({"connect": "5/minute;2/second"})
    async with serve(socketio.ASGIApp(sio)) as url:
        outcomes = [await attempt(url) for _ in range(3)]
    assert [o for o, _ in outcomes] == ["connect", "connect", "connect_error"]
    assert_rate_limited(outcomes[2][1], "2 per 1 second", most=1)


async def test_budget_is_shared_across_namespaces_by_default() -> None:
    """By default one budget covers every namespace: "2/minute" refuses a 3rd CONNECT anywhere."""
    sio, _ = make_server({"connect": "2/minute"})
    async with serve(socketio.ASGIApp(sio)) as url:
        assert (await attempt(url))[0] == "connect"
        assert (await attempt(url, namespace="/chat"))[0] == "connect"
        outcome, data = await attempt(url, namespace="/admin")
    assert outcome == "connect_error"
    assert_rate_limited(data, "2 per 1 minute")


async def test_per_namespace_budgets() -> None:
    """per_namespace = true gives each namespace its own budget."""
    sio, _ = make_server({"connect": "1/minute", "per_namespace": True})
    async with serve(socketio.ASGIApp(sio)) as url:
        assert (await attempt(url))[0] == "connect"
        assert (await attempt(url, namespace="/chat"))[0] == "connect"
        assert (await attempt(url))[0] == "connect_error"
        assert (await attempt(url, namespace="/chat"))[0] == "connect_error"


async def test_user_key_counts_per_sub() -> None:
    """key = "user" gives each JWT subject its own budget; alice's refusals spare bob."""
    sio, _ = make_server({"connect": "2/minute", "key": "user"}, fake_jwt=True)
    alice, bob = {"user": {"sub": "alice"}}, {"user": {"sub": "bob"}}
    async with serve(socketio.ASGIApp(sio)) as url:
        assert [(await attempt(url, auth=alice))[0] for _ in range(2)] == ["connect"] * 2
        outcome, data = await attempt(url, auth=alice)
        assert outcome == "connect_error"
        assert_rate_limited(data, "2 per 1 minute")
        assert [(await attempt(url, auth=bob))[0] for _ in range(2)] == ["connect"] * 2
        assert (await attempt(url, auth=bob))[0] == "connect_error"
        # clients without a subject share the address' budget, untouched so far
        assert (await attempt(url))[0] == "connect"


@requires_js
async def test_user_key_with_js_client() -> None:
    """The JS client's 2nd connect as the same sub under "1/minute" gets rate_limited data."""
    sio, _ = make_server({"connect": "1/minute", "key": "user"}, fake_jwt=True)
    async with serve(socketio.ASGIApp(sio)) as url:
        first = await js_outcome(url, auth={"user": {"sub": "carol"}})
        second = await js_outcome(url, auth={"user": {"sub": "carol"}})
        other = await js_outcome(url, auth={"user": {"sub": "dave"}})
    assert first["event"] == "connect" and other["event"] == "connect"
    assert second["event"] == "connect_error"
    assert second["data"]["code"] == "rate_limited"
    assert second["data"]["limit"] == "1 per 1 minute"


def test_ip_key_is_placed_before_jwt() -> None:
    """key = "ip" declares before jwt: it outranks even a higher-priority jwt."""
    _, mw = make_server({"key": "ip"}, fake_jwt=True, jwt_priority=5000)
    placed = mw.placed("connect", "/")
    assert [p.middleware.name for p in placed] == ["ratelimit", "jwt"]
    assert "declared before 'jwt'" in placed[1].reason
    assert mw.placed("connect", "/other")[0].middleware.name == "ratelimit"


def test_user_key_is_placed_after_jwt() -> None:
    """key = "user" declares after jwt: it runs inside it although its priority is higher."""
    _, mw = make_server({"key": "user"}, fake_jwt=True, jwt_priority=0)
    placed = mw.placed("connect", "/")
    assert [p.middleware.name for p in placed] == ["jwt", "ratelimit"]
    assert "declared after 'jwt'" in placed[1].reason
    assert placed[1].middleware.priority == 2000
    assert placed[1].middleware.namespaces is None


async def test_without_jwt_the_user_key_counts_addresses(caplog: pytest.LogCaptureFixture) -> None:
    """A missing jwt is fine (no warning: its reference is if_present), and key = "user"
    falls back to the address."""
    sio, mw = make_server({"connect": "1/minute", "key": "user"})
    assert [p.middleware.name for p in mw.placed("connect", "/")] == ["ratelimit"]
    assert mw.placed("connect", "/")[0].middleware.if_present
    async with serve(socketio.ASGIApp(sio)) as url:
        assert (await attempt(url, auth={"user": {"sub": "x"}}))[0] == "connect"
        assert (await attempt(url, auth={"user": {"sub": "y"}}))[0] == "connect_error"
    assert "declares after 'jwt'" not in caplog.text


@pytest.mark.parametrize("key", ["ip", "user"])
def test_strict_mode_without_jwt_starts(key: str) -> None:
    """strict = true does not reject ratelimit's conditional jwt reference (if_present)."""
    config = Config(source="test", core=CoreSettings(strict=True),
                    tables={"ratelimit": {"key": key}})
    _, mw = make_server({}, config=config)
    assert [p.middleware.name for p in mw.placed("connect", "/")] == ["ratelimit"]


async def test_user_key_reads_the_identity_not_the_session() -> None:
    """key = "user" reads ``get_identity(socket).sub``: a ``socket.data["user"]`` written by
    hand (no identity) is not a subject, so such clients share the address' budget."""
    sio, mw = make_server({"connect": "1/minute", "key": "user"})

    @mw.use(name="jwt", namespace=None)
    async def session_only(socket: Socket, call_next: CallNext) -> None:
        socket.data["user"] = dict(socket.handshake.auth)
        await call_next()

    async with serve(socketio.ASGIApp(sio)) as url:
        assert (await attempt(url, auth={"sub": "erin"}))[0] == "connect"
        outcome, data = await attempt(url, auth={"sub": "frank"})
    assert outcome == "connect_error"
    assert_rate_limited(data, "1 per 1 minute")
