"""The identity contract (``siomw_core.identity``): one place writes it, every plugin reads
it, and it lives on the connection's Socket from the connect chain to its last event."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from siomw_core import CallNext, Event, Identity, Socket, get_identity, set_identity
from siomw_core.context import Handshake
from siomw_core.testing import serve
from tests.levels.test_event import client, make


def bare_socket() -> Socket:
    return Socket("sid1", "/", Handshake({}, {}), "eio1", None)


def test_set_identity_writes_socket_and_user_and_none_removes_both() -> None:
    """set_identity stores the Identity and a plain-dict copy of its claims as
    socket.data["user"]; None removes both; get_identity reads it back."""
    socket = bare_socket()
    assert get_identity(socket) is None
    identity = Identity(sub="42", scopes=frozenset({"chat", "admin"}),
                        claims={"sub": "42", "name": "Ann"}, expires_at=1700000000.0,
                        source="jwt")
    set_identity(socket, identity)
    assert get_identity(socket) is identity
    assert socket.data["user"] == {"sub": "42", "name": "Ann"}
    assert type(socket.data["user"]) is dict
    socket.data["user"]["name"] = "changed"  # the session copy, not the identity
    assert identity.claims["name"] == "Ann"
    set_identity(socket, None)
    assert get_identity(socket) is None and "user" not in socket.data


def test_identity_normalises_and_is_read_only() -> None:
    """sub becomes a string (a numeric jwt sub), scopes a frozenset, claims read-only;
    expired(now, leeway) is PyJWT's rule (now >= expires_at + leeway)."""
    identity = Identity(sub=7, scopes={"a"}, claims={"sub": 7})  # type: ignore[arg-type]
    assert identity.sub == "7" and identity.scopes == frozenset({"a"})
    assert isinstance(identity.claims, MappingProxyType)
    with pytest.raises(TypeError):
        identity.claims["sub"] = 8  # type: ignore[index]
    with pytest.raises(AttributeError):
        identity.sub = "8"  # type: ignore[misc]
    assert not Identity(sub=None).expired(10**12)
    assert Identity(sub="x", expires_at=100.0).expired(100.0)
    assert not Identity(sub="x", expires_at=100.0).expired(99.9)
    # leeway (seconds of clock skew): expired once now >= expires_at + leeway
    assert not Identity(sub="x", expires_at=100.0).expired(104.9, leeway=5)
    assert Identity(sub="x", expires_at=100.0).expired(105.0, leeway=5)
    assert not Identity(sub=None).expired(10**12, leeway=5)


async def test_identity_set_at_connect_is_read_by_events_and_handlers() -> None:
    """Set in a connect middleware, the identity is what every event member reads with
    get_identity and what the handler reads as the session's "user"; a member may replace
    it mid-session (re-auth) and later events see the new one."""
    sio, mw = make()
    subs: list[Any] = []

    @mw.use
    async def login(socket: Socket, call_next: CallNext) -> None:
        set_identity(socket, Identity(sub="ann", claims={"sub": "ann", "v": 1}, source="t"))
        await call_next()

    @mw.event.use
    async def reader(event: Event, call_next: CallNext) -> None:
        identity = get_identity(event.socket)
        subs.append(None if identity is None else (identity.sub, identity.claims["v"]))
        if event.name == "reauth":
            set_identity(event.socket, Identity(sub="ann", claims={"sub": "ann", "v": 2},
                                                source="t"))
        await call_next()

    @sio.on("*")
    async def any_event(event: str, sid: str) -> Any:
        return (await sio.get_session(sid))["user"]

    async with serve(mw.asgi_app()) as url, client(url) as c:
        assert await c.call("first", timeout=5) == {"sub": "ann", "v": 1}
        assert await c.call("reauth", timeout=5) == {"sub": "ann", "v": 2}
        assert await c.call("after", timeout=5) == {"sub": "ann", "v": 2}
    assert subs == [("ann", 1), ("ann", 1), ("ann", 2)]
