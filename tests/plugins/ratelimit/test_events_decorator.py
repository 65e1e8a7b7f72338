"""``siomw_ratelimit.limit`` at decoration time: what it records, and one-line errors that
name the handler; the storage-failure policy at the event level."""

from __future__ import annotations

from typing import Any

import limits
import pytest
from siomw_ratelimit import limit
from siomw_ratelimit.storage import Check, StorageUnavailable

from siomw_core import requirements_of
from tests.plugins.kinds import KINDS

from .events_support import client, echo_server, served
from .support import DEAD_REDIS_URL, kind_limiter, run


async def handler(sid: str) -> None:
    """A handler to decorate."""


def test_records_a_requirement_and_returns_the_handler() -> None:
    """The decorator returns the same function with one ratelimit Requirement on it."""
    async def chat(sid: str) -> None:
        return None

    assert limit("5/second", key="user", cost=2, scope="talk")(chat) is chat
    [requirement] = requirements_of(chat)
    assert requirement.describe() == {"plugin": "ratelimit", "kind": "limit",
                                      "rate": "5/second", "key": "user", "cost": 2,
                                      "scope": "talk"}


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"rate": "often"}, "siomw_ratelimit.limit on {where}: expected a rate limit string "
                        "such as '60/minute', '3 per 10 seconds' or '10/second;100/hour'; "
                        "found 'often' (str)"),
    ({"rate": "0/second"}, "siomw_ratelimit.limit on {where}: expected a rate limit of at "
                           "least 1; found '0/second' (str)"),
    ({"rate": 5}, "siomw_ratelimit.limit on {where}: expected a rate limit string"),
    ({"rate": "5/second", "key": "token"},
     "siomw_ratelimit.limit('5/second') on {where}: expected key 'sid', 'user' or 'ip'; "
     "found 'token'"),
    ({"rate": "5/second", "cost": 0},
     "siomw_ratelimit.limit('5/second') on {where}: expected a whole cost of at least 1; "
     "found 0"),
    ({"rate": "5/second", "cost": 1.5}, "expected a whole cost of at least 1; found 1.5"),
    ({"rate": "5/second", "cost": True}, "expected a whole cost of at least 1; found True"),
    ({"rate": "5/second", "scope": ""}, "expected scope None or a non-empty string; found ''"),
])
def test_bad_arguments_fail_at_decoration(kwargs: dict[str, Any], expected: str) -> None:
    """Each bad argument is a one-line ValueError naming the handler (module.qualname)."""
    where = f"{__name__}.handler"
    rate = kwargs.pop("rate")
    with pytest.raises(ValueError) as info:
        limit(rate, **kwargs)(handler)
    message = str(info.value)
    assert "\n" not in message
    assert expected.format(where=where) in message
    assert where in message
    assert requirements_of(handler) == ()


def test_scope_with_another_rate_is_warned(caplog: pytest.LogCaptureFixture) -> None:
    """A scope declared with two rates is logged: such handlers would not share a budget."""
    async def one(sid: str) -> None:
        return None

    async def two(sid: str) -> None:
        return None

    limit("5/second", scope="test-decorator-mismatch")(one)
    with caplog.at_level("WARNING", logger="siomw.ratelimit"):
        limit("9/second", scope="test-decorator-mismatch")(two)
    [record] = caplog.records
    assert "scope 'test-decorator-mismatch' is declared with rate '5/second'" in record.message
    assert "with rate '9/second'" in record.message


@pytest.mark.parametrize("kind", KINDS)
async def test_storage_down_fail_closed_acquire_raises(kind: str) -> None:
    """on_storage_error = "closed" with an unreachable Redis: acquire raises
    StorageUnavailable (the member's rate_limit_unavailable), every time until recovery,
    on both server kinds."""
    guard = kind_limiter(kind, {"storage": DEAD_REDIS_URL, "on_storage_error": "closed",
                                "storage_timeout": 0.5})
    check = Check(limits.parse("5/second"), "test/closed")
    for _ in range(2):
        with pytest.raises(StorageUnavailable):
            await run(kind, guard.acquire([check]))


async def test_storage_down_fail_open_counts_events_in_memory() -> None:
    """on_storage_error = "open" with an unreachable Redis: events are counted by the
    in-process fallback, with the same limit."""
    sio, _ = echo_server({"storage": DEAD_REDIS_URL, "events": {"echo": "2/minute"}})
    async with served(sio) as url, client(url) as c:
        replies = [await c.call("echo", timeout=5) for _ in range(3)]
        other = await c.call("other", timeout=5)
    assert replies[:2] == ["ok:echo", "ok:echo"]
    assert replies[2]["error"]["data"]["code"] == "rate_limited"
    assert other == "ok:other"
