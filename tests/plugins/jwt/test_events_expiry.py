"""Tokens that expire during the session: events refused with invalid_token/expired
(``enforce_expiry``), or the socket disconnected at ``exp`` (``disconnect_on_expiry``).

Tokens live a couple of seconds (``exp`` is whole seconds) and ``leeway = 0``.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import pytest
from siomw_jwt.session import ExpiryTimers

from tests.conftest import requires_js
from tests.plugins.jwt.events_helpers import App, client, events_server, js_session, recorder
from tests.plugins.jwt.helpers import token
from tests.plugins.kinds import KINDS

EXPIRED = {"message": "Token expired", "data": {"code": "invalid_token", "detail": "expired"}}


def short_token(seconds: int = 2, **extra: Any) -> tuple[str, int]:
    """A token that expires ``seconds`` from now, and its ``exp``."""
    exp = int(time.time()) + seconds
    return token(exp=exp, **extra), exp


async def until(exp: float) -> None:
    """Sleep until the wall clock passed ``exp`` (PyJWT: expired once now >= exp)."""
    await asyncio.sleep(max(0.0, exp - time.time()) + 0.05)


def timers(app: App) -> ExpiryTimers:
    """The server's ExpiryTimers (built only with disconnect_on_expiry = true), found in the
    closure of its jwt connect member."""
    [spec] = app.mw.registry.middlewares("connect")
    todo, seen = [spec.func], set()
    while todo:
        func = todo.pop()
        for cell in getattr(func, "__closure__", None) or ():
            value = cell.cell_contents
            if isinstance(value, ExpiryTimers):
                return value
            if callable(value) and id(value) not in seen:
                seen.add(id(value))
                todo.append(value)
    raise AssertionError("no ExpiryTimers: disconnect_on_expiry is off")


@pytest.mark.parametrize("kind", KINDS)
async def test_events_refused_once_expired_python(kind: str) -> None:
    """Before exp events pass; after it every event, with an ack or without, is refused
    with invalid_token/expired, the handler does not run, and the socket stays connected."""
    tok, exp = short_token()
    async with events_server(kind=kind) as app:
        async with client(app.url, tok, kind=kind) as sock:
            errors = recorder(sock, "siomw:error")
            assert await sock.call("echo", 1, timeout=5) == [1]
            await until(exp)
            assert await sock.call("echo", 2, timeout=5) == {"error": EXPIRED}
            assert await sock.call("whoami", timeout=5) == {"error": EXPIRED}
            await sock.emit("echo", 3)
            assert await asyncio.wait_for(errors.get(), 5) == {"event": "echo", **EXPIRED}
            await asyncio.sleep(0.2)
            assert sock.connected
    assert [name for name, _ in app.calls] == ["echo"]


@requires_js
@pytest.mark.parametrize("kind", KINDS)
async def test_events_refused_once_expired_js(kind: str) -> None:
    """The JS client: the same ack before and after exp; still connected afterwards."""
    tok, exp = short_token()
    async with events_server(kind=kind) as app:
        obs = await js_session(app.url, auth={"token": tok}, listen=["siomw:error"], steps=[
            {"emit": "echo", "args": [1]},
            {"sleepMs": int((exp - time.time()) * 1000) + 100},
            {"emit": "echo", "args": [2]},
            {"emit": "echo", "args": [3], "ack": False},
            {"waitFor": "siomw:error"},
        ])
    assert obs == [
        {"event": "connect"},
        {"event": "ack", "name": "echo", "args": [[1]]},
        {"event": "ack", "name": "echo", "args": [{"error": EXPIRED}]},
        {"event": "sent", "name": "echo"},
        {"event": "on", "name": "siomw:error", "args": [{"event": "echo", **EXPIRED}]},
        {"event": "done"},
    ]


async def test_enforce_expiry_false() -> None:
    """enforce_expiry = false: a socket's events pass after its token expired."""
    tok, exp = short_token(1)
    async with events_server({"enforce_expiry": False}) as app:
        async with client(app.url, tok) as sock:
            await until(exp)
            assert await sock.call("echo", 1, timeout=5) == [1]


async def test_leeway_delays_expiry() -> None:
    """leeway = 2: events pass until exp + 2 (PyJWT's rule, as at connect), then not."""
    tok, exp = short_token(1)
    async with events_server({"leeway": 2}) as app:
        async with client(app.url, tok) as sock:
            await until(exp)
            assert await sock.call("echo", 1, timeout=5) == [1]
            await until(exp + 2)
            assert await sock.call("echo", 2, timeout=5) == {"error": EXPIRED}


async def test_anonymous_socket_never_expires() -> None:
    """An anonymous socket (no token) has nothing to expire."""
    async with events_server({"disconnect_on_expiry": True}) as app:
        async with client(app.url, None, namespace="/public") as sock:
            assert await sock.call("ping", namespace="/public", timeout=5) == "any ping"
            assert len(timers(app)) == 0


@pytest.mark.parametrize("kind", KINDS)
async def test_disconnect_on_expiry_python(kind: str) -> None:
    """disconnect_on_expiry = true: at exp the client gets siomw:error with "event": None
    and invalid_token/expired, then a server disconnect; the timer is gone (both server
    kinds: the runtime's timer, on the loop or on the sync server's timer thread)."""
    tok, exp = short_token()
    async with events_server({"disconnect_on_expiry": True}, kind=kind) as app:
        async with client(app.url, tok, kind=kind) as sock:
            errors = recorder(sock, "siomw:error")
            reasons = recorder(sock, "disconnect")
            assert len(timers(app)) == 1
            assert await sock.call("echo", 1, timeout=5) == [1]
            error = await asyncio.wait_for(errors.get(), exp - time.time() + 5)
            assert time.time() >= exp
            assert error == {"event": None, **EXPIRED}
            assert await asyncio.wait_for(reasons.get(), 5) == "server disconnect"
            assert reasons.empty() and errors.empty()
            assert len(timers(app)) == 0


@requires_js
@pytest.mark.parametrize("kind", KINDS)
async def test_disconnect_on_expiry_js(kind: str) -> None:
    """The JS client sees the error event, then "io server disconnect"."""
    tok, _ = short_token()
    async with events_server({"disconnect_on_expiry": True}, kind=kind) as app:
        obs = await js_session(app.url, auth={"token": tok}, listen=["siomw:error"],
                               timeoutMs=5000, steps=[{"waitFor": "disconnect"}])
    assert obs == [
        {"event": "connect"},
        {"event": "on", "name": "siomw:error", "args": [{"event": None, **EXPIRED}]},
        {"event": "disconnect", "reason": "io server disconnect"},
        {"event": "done"},
    ]


@pytest.mark.parametrize("kind", KINDS)
async def test_timer_cancelled_at_disconnect(kind: str) -> None:
    """A socket that leaves before exp takes its timer with it (no leak), and sockets with
    a token that never expires, or without disconnect_on_expiry, have none."""
    tok, _ = short_token(3600)
    async with events_server({"disconnect_on_expiry": True, "require": []}, kind=kind) as app:
        async with client(app.url, tok, kind=kind) as sock:
            assert await sock.call("echo", 1, timeout=5) == [1]
            assert len(timers(app)) == 1
        for _ in range(100):  # the server notices the transport close
            if len(timers(app)) == 0:
                break
            await asyncio.sleep(0.05)
        assert len(timers(app)) == 0
        async with client(app.url, token(exp=None), kind=kind) as sock:
            assert await sock.call("echo", 1, timeout=5) == [1]
            assert len(timers(app)) == 0
    before = count_timers()
    async with events_server(kind=kind) as app:  # disconnect_on_expiry = false: no timers at all
        async with client(app.url, tok, kind=kind) as sock:
            assert await sock.call("echo", 1, timeout=5) == [1]
            assert count_timers() == before


def count_timers() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, ExpiryTimers))
