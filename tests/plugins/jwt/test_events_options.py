"""The event-level keys of [jwt]: defaults, startup errors (file, table, key, expected, found),
and the identity the connect level stores, on both of its paths (auth token, handshake)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import siomw_jwt

from siomw_core import get_identity
from siomw_core.testing import close_client, connect_result
from tests.plugins.jwt.events_helpers import events_server
from tests.plugins.jwt.test_options import startup_error

EXPIRED = {"message": "Token expired", "data": {"code": "invalid_token", "detail": "expired"}}


def test_event_defaults() -> None:
    """Expiry enforced, no disconnect, re-auth on siomw:reauth, no per-event rule."""
    options = siomw_jwt.JwtOptions()
    assert (options.enforce_expiry, options.disconnect_on_expiry, options.reauth_event,
            options.events) == (True, False, "siomw:reauth", {})
    assert siomw_jwt.JwtOptions(reauth_event=False).reauth_event is False


@pytest.mark.parametrize(("table", "expected"), [
    ({"reauth_event": True},
     "siomw.toml: [jwt] reauth_event: expected an event name (not empty, not connect, "
     "connect_error or disconnect) or false; found True (bool)"),
    ({"reauth_event": "disconnect"},
     "siomw.toml: [jwt] reauth_event: expected an event name (not empty, not connect, "
     "connect_error or disconnect) or false; found 'disconnect' (str)"),
    ({"reauth_event": ""}, "siomw.toml: [jwt] reauth_event: expected an event name"),
    ({"enforce_expiry": False, "disconnect_on_expiry": True},
     "siomw.toml: [jwt] disconnect_on_expiry: expected disconnect_on_expiry = false unless "
     "enforce_expiry = true (tokens that are not enforced do not expire); found True (bool)"),
    ({"enforce_expiry": "yes"}, "siomw.toml: [jwt] enforce_expiry: expected"),
    ({"events": {"admin:kick": {"scopes": []}}},
     "siomw.toml: [jwt] events.\"admin:kick\".scopes: expected at least one scope; found [] "
     "(list)"),
    ({"events": {"admin:kick": {}}},
     "siomw.toml: [jwt] events.\"admin:kick\".scopes: expected a value; found nothing"),
    ({"events": {"admin:kick": {"scopes": ["a b"]}}},
     "siomw.toml: [jwt] events.\"admin:kick\".scopes: expected scope names without spaces, "
     "quotes or backslashes; found ['a b'] (list)"),
    ({"events": {"admin:kick": {"scope": ["admin"]}}},
     "siomw.toml: [jwt] events.\"admin:kick\".scope: unknown key; expected a known key "
     "(namespaces, scopes)"),
    ({"events": {"x": {"scopes": ["a"], "namespaces": ["admin"]}}},
     "siomw.toml: [jwt] events.x.namespaces: expected namespace names starting with \"/\""),
    ({"events": {"connect": {"scopes": ["a"]}}},
     "siomw.toml: [jwt] events: expected event names, not empty and not connect, "
     "connect_error or disconnect"),
])
def test_event_startup_errors(table: dict[str, Any], expected: str) -> None:
    """Each bad event-level key stops startup with a line naming it (a misspelt `scopes`
    also reports the missing one)."""
    assert any(line.startswith(expected) for line in startup_error(table).splitlines())


async def test_identity_from_auth_token() -> None:
    """The connect level stores the identity with set_identity: sub, scopes (scope and
    scopes claims), exp, source "jwt"; socket.data["user"] is a plain copy of the claims."""
    from tests.plugins.jwt.helpers import claims, token

    exp = int(time.time()) + 600
    async with events_server() as app:
        _, _, sock = await connect_result(app.url, auth={"token": token(
            exp=exp, scope="chat read", scopes=["admin"])})
        [socket] = app.mw.connect_level.sockets.values()
        identity = get_identity(socket)
        assert identity is not None
        assert (identity.sub, identity.scopes, identity.expires_at, identity.source) == (
            "alice", frozenset({"chat", "read", "admin"}), float(exp), "jwt")
        assert socket.data["user"] == dict(identity.claims) == {
            **claims(exp=exp, scope="chat read", scopes=["admin"]),
            "iat": socket.data["user"]["iat"]}
        await close_client(sock)


async def test_identity_from_handshake_expires_mid_session() -> None:
    """handshake = true: the claims verified on the engine handshake become the identity
    (no token in auth), and expire mid-session like any other."""
    from tests.plugins.jwt.helpers import token

    exp = int(time.time()) + 2
    async with events_server({"handshake": True}) as app:
        outcome, data, sock = await connect_result(
            app.url, headers={"Authorization": f"Bearer {token(exp=exp)}"})
        assert outcome == "connect", data
        [socket] = app.mw.connect_level.sockets.values()
        identity = get_identity(socket)
        assert identity is not None and identity.expires_at == float(exp)
        assert await sock.call("echo", 1, timeout=5) == [1]
        await asyncio.sleep(exp - time.time() + 0.05)
        assert await sock.call("echo", 2, timeout=5) == {"error": EXPIRED}
        await close_client(sock)
