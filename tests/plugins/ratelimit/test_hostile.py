"""Hostile input cannot dodge or break the limiter: odd auth, odd claims, forged headers."""

from __future__ import annotations

from typing import Any

import pytest
import socketio

from siomw_core.testing import serve

from .support import assert_rate_limited, attempt, make_server

ODD_USERS: list[Any] = [
    [1, 2],
    "alice",
    7,
    None,
    {},
    {"sub": 5},
    {"sub": ""},
    {"sub": ["alice"]},
    {"sub": {"nested": "x"}},
]


@pytest.mark.parametrize("user", ODD_USERS, ids=repr)
async def test_odd_user_values_count_by_address(user: Any) -> None:
    """socket.data["user"] without a non-empty string sub is counted by the client address."""
    sio, _ = make_server({"connect": "1/minute", "key": "user"}, fake_jwt=True)
    async with serve(socketio.ASGIApp(sio)) as url:
        assert (await attempt(url, auth={"user": user}))[0] == "connect"
        outcome, data = await attempt(url)  # no user at all: the same address budget
        assert outcome == "connect_error"
        assert_rate_limited(data, "1 per 1 minute")
        assert (await attempt(url, auth={"user": {"sub": "alice"}}))[0] == "connect"


ODD_AUTH: list[Any] = [[1, 2, 3], 42, "x" * 100_000, {"token": 12}, {"user": "y" * 50_000}]


@pytest.mark.parametrize("auth", ODD_AUTH,
                         ids=["list", "number", "huge-string", "token-int", "huge-user"])
async def test_odd_auth_payloads_spend_the_address_budget(auth: Any) -> None:
    """Auth payloads of any shape neither crash the middleware nor escape the address budget."""
    sio, _ = make_server({"connect": "2/minute", "key": "user"}, fake_jwt=True)
    async with serve(socketio.ASGIApp(sio)) as url:
        first = await attempt(url, auth=auth)
        second = await attempt(url, auth=auth)
        third = await attempt(url, auth=auth)
    assert [first[0], second[0]] == ["connect", "connect"]
    assert third[0] == "connect_error"
    assert_rate_limited(third[1], "2 per 1 minute")


async def test_huge_sub_is_a_budget_of_its_own() -> None:
    """A 50 000-character sub is a subject like any other (no crash, its own counter)."""
    sio, _ = make_server({"connect": "1/minute", "key": "user"}, fake_jwt=True)
    big = {"user": {"sub": "s" * 50_000}}
    async with serve(socketio.ASGIApp(sio)) as url:
        assert (await attempt(url, auth=big))[0] == "connect"
        assert (await attempt(url, auth=big))[0] == "connect_error"
        assert (await attempt(url))[0] == "connect"


async def test_forged_forwarding_headers_do_not_change_the_key() -> None:
    """X-Forwarded-For / X-Real-IP / Forwarded never pick the counter: the TCP peer does."""
    sio, _ = make_server({"connect": "3/minute"})
    forged = [
        {"X-Forwarded-For": "203.0.113.1"},
        {"X-Real-IP": "203.0.113.2", "Forwarded": "for=203.0.113.3"},
        {"X-Forwarded-For": "1.1.1.1, 2.2.2.2, " + "9" * 4000},
        {"X-Forwarded-For": "203.0.113.4"},
    ]
    async with serve(socketio.ASGIApp(sio)) as url:
        outcomes = [await attempt(url, headers=h) for h in forged]
    assert [o for o, _ in outcomes] == ["connect"] * 3 + ["connect_error"]
    assert_rate_limited(outcomes[3][1], "3 per 1 minute")


async def test_prefix_and_sub_cannot_collide_with_an_address() -> None:
    """A sub spelling an IP address has a budget apart from that address (kind in the key)."""
    sio, _ = make_server({"connect": "1/minute", "key": "user"}, fake_jwt=True)
    async with serve(socketio.ASGIApp(sio)) as url:
        assert (await attempt(url))[0] == "connect"  # spends 127.0.0.1's budget
        spoof = {"user": {"sub": "127.0.0.1"}}
        assert (await attempt(url, auth=spoof))[0] == "connect"
