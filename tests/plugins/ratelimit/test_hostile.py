"""Hostile input cannot dodge or break the limiter: odd auth, odd claims, forged headers."""

from __future__ import annotations

from typing import Any

import pytest
import socketio

from siomw_core.testing import serve

from .support import (
    POLLING,
    assert_http_rate_limited,
    assert_rate_limited,
    attempt,
    curl,
    engine_server,
    make_server,
    serving,
)

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
    """A user without a non-empty string sub (no identity, or an identity whose sub is
    None or "") is counted by the client address."""
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


# engine level: HTTP requests ----------------------------------------------------------------
async def test_forged_forwarding_headers_do_not_change_the_http_key() -> None:
    """X-Forwarded-For / X-Real-IP / Forwarded never pick the HTTP counter: the TCP peer does."""
    sio, mw = engine_server({"http": "3/minute"})
    forged = [("-H", "X-Forwarded-For: 203.0.113.1"),
              ("-H", "X-Real-IP: 203.0.113.2", "-H", "Forwarded: for=203.0.113.3"),
              ("-H", "X-Forwarded-For: 1.1.1.1, " + "9" * 4000),
              ("-H", "X-Forwarded-For: 203.0.113.4")]
    async with serving(sio, mw) as url:
        answers = [await curl(url + POLLING, *headers) for headers in forged]
    assert [a[0] for a in answers] == [200, 200, 200, 429]
    assert_http_rate_limited(*answers[3], "3 per 1 minute", 3)


@pytest.mark.parametrize("query", [
    "&sid=", "&sid=&sid=", "&SID=x", "&sid%00=x", "&x=" + "y" * 6000, "&EIO=3", "&transport=x",
], ids=["blank-sid", "blank-sids", "upper-SID", "nul-sid", "huge-query", "old-EIO",
        "odd-transport"])
async def test_sidless_requests_of_any_shape_spend_the_budget(query: str) -> None:
    """What the engine sees as sid-less (a handshake, or junk it rejects) is counted."""
    sio, mw = engine_server({"http": "1/minute"})
    async with serving(sio, mw) as url:
        await curl(url + POLLING + query, "--path-as-is")
        assert (await curl(url + POLLING))[0] == 429


@pytest.mark.parametrize("path", ["/socket.io", "/socket.io//", "/socket.io/x", "/%73ocket.io/"])
async def test_odd_engine_paths_are_counted(path: str) -> None:
    """Spellings of the engine path that reach the engine are counted and refused too."""
    sio, mw = engine_server({"http": "1/minute"})
    async with serving(sio, mw) as url:
        assert (await curl(url + POLLING))[0] == 200
        status, _, _ = await curl(f"{url}{path}?EIO=4&transport=polling", "--path-as-is")
    assert status == 429


async def test_made_up_sids_count_only_in_all_mode() -> None:
    """Requests with a made-up sid get the engine's 400 and are free in "handshake" mode (no
    session is created); "all" mode counts them."""
    fake = POLLING + "&sid=made-up"
    sio, mw = engine_server({"http": "1/minute"})
    async with serving(sio, mw) as url:
        assert [(await curl(url + fake))[0] for _ in range(3)] == [400] * 3
        assert (await curl(url + POLLING))[0] == 200
    sio, mw = engine_server({"http": "1/minute", "http_requests": "all"})
    async with serving(sio, mw) as url:
        assert (await curl(url + fake))[0] == 400
        assert (await curl(url + fake))[0] == 429
        assert (await curl(url + POLLING))[0] == 429


async def test_huge_headers_and_odd_methods_are_counted() -> None:
    """A 6 KB header or an unusual method on the engine path neither crash nor escape it."""
    sio, mw = engine_server({"http": "2/minute"})
    async with serving(sio, mw) as url:
        assert (await curl(url + POLLING, "-H", "X-Junk: " + "z" * 6000))[0] == 200
        assert (await curl(url + POLLING, "-X", "DELETE"))[0] in (400, 405)
        assert (await curl(url + POLLING))[0] == 429
