"""Re-authentication without reconnecting: ``siomw:reauth`` with ``{"token": ...}``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from siomw_core import get_identity
from tests.conftest import requires_js
from tests.plugins.jwt.events_helpers import App, client, events_server, js_session, recorder
from tests.plugins.jwt.helpers import claims, refusal, token, unsigned_token
from tests.plugins.jwt.test_events_expiry import EXPIRED, short_token, timers, until
from tests.plugins.kinds import KINDS

REAUTH = "siomw:reauth"


def whoami(tok_exp: int, scope: str | None = None) -> dict[str, Any]:
    """What the whoami handler answers: socket.data["user"] as the session holds it."""
    return {"sub": "alice", "exp": tok_exp, "scope": scope}


def identity_of(app: App) -> Any:
    """The one connected socket's identity (siomw_core.get_identity), as the server holds it."""
    [socket] = list(app.mw.connect_level.sockets.values())
    return get_identity(socket)


@pytest.mark.parametrize("kind", KINDS)
async def test_reauth_success_python(kind: str) -> None:
    """After expiry, a fresh token for the same sub answers {"ok": true, "exp"}, events pass
    again, handlers read the new claims from the session, and the new scopes count."""
    tok, exp = short_token(2, scope="chat")
    async with events_server(kind=kind) as app:
        async with client(app.url, tok, kind=kind) as sock:
            assert await sock.call("whoami", timeout=5) == whoami(exp, "chat")
            await until(exp)
            assert await sock.call("echo", 1, timeout=5) == {"error": EXPIRED}
            new_exp = int(time.time()) + 3600
            reply = await sock.call(REAUTH, {"token": token(exp=new_exp, scope="chat admin")},
                                    timeout=5)
            assert reply == {"ok": True, "exp": new_exp}
            assert await sock.call("echo", 2, timeout=5) == [2]
            assert await sock.call("whoami", timeout=5) == whoami(new_exp, "chat admin")
            assert await sock.call("admin:kick", "bob", timeout=5) == "kicked bob"
            identity = identity_of(app)
            assert (identity.sub, identity.scopes, identity.expires_at, identity.source) == (
                "alice", frozenset({"chat", "admin"}), float(new_exp), "jwt")
    # the application never saw the reauth event
    assert [name for name, _ in app.calls] == ["whoami", "echo", "whoami", "admin:kick"]


@requires_js
@pytest.mark.parametrize("kind", KINDS)
async def test_reauth_success_js(kind: str) -> None:
    """The JS client: expired, re-authenticated with emitWithAck, then answered again."""
    tok, exp = short_token(2)
    new_exp = int(time.time()) + 3600
    async with events_server(kind=kind) as app:
        obs = await js_session(app.url, auth={"token": tok}, steps=[
            {"sleepMs": int((exp - time.time()) * 1000) + 100},
            {"emit": "echo", "args": [1]},
            {"emit": REAUTH, "args": [{"token": token(exp=new_exp)}]},
            {"emit": "whoami"},
        ])
    assert obs == [
        {"event": "connect"},
        {"event": "ack", "name": "echo", "args": [{"error": EXPIRED}]},
        {"event": "ack", "name": REAUTH, "args": [{"ok": True, "exp": new_exp}]},
        {"event": "ack", "name": "whoami", "args": [whoami(new_exp)]},
        {"event": "done"},
    ]


async def test_reauth_token_without_exp() -> None:
    """A token without exp (require = []) answers "exp": null and never expires."""
    async with events_server({"require": []}) as app:
        async with client(app.url, token()) as sock:
            assert await sock.call(REAUTH, {"token": token(exp=None)}, timeout=5) == {
                "ok": True, "exp": None}
            assert identity_of(app).expires_at is None


async def test_reauth_other_subject() -> None:
    """A valid token for another sub is refused invalid_token/subject_mismatch and changes
    nothing: the session's claims, the identity and its expiry stay alice's."""
    tok, exp = short_token(30)
    async with events_server() as app:
        async with client(app.url, tok) as sock:
            before = identity_of(app)
            reply = await sock.call(REAUTH, {"token": token(sub="bob", scope="admin")},
                                    timeout=5)
            assert reply == {"error": refusal("Token is for another subject", "invalid_token",
                                              "subject_mismatch")}
            assert identity_of(app) is before
            assert await sock.call("whoami", timeout=5) == whoami(exp)
            assert await sock.call("admin:kick", "x", timeout=5) == {"error": refusal(
                "Insufficient scope", "insufficient_scope", "missing_scope", scope="admin")}
            # a token without sub cannot show it is alice's either
            reply = await sock.call(REAUTH, {"token": token(sub=None)}, timeout=5)
            assert reply["error"]["data"]["detail"] == "subject_mismatch"


def now() -> int:
    return int(time.time())


#: (id, reauth payload, expected refusal): every connect-level failure, at re-auth
BAD: list[tuple[str, Callable[[], Any], dict[str, Any]]] = [
    ("no_payload", lambda: None, refusal("Authentication required", "invalid_request",
                                         "missing_token")),
    ("no_token", lambda: {}, refusal("Authentication required", "invalid_request",
                                     "missing_token")),
    ("not_a_dict", lambda: "eyJ", refusal("Authentication required", "invalid_request",
                                          "missing_token")),
    ("token_not_string", lambda: {"token": 42}, refusal("Token must be a string",
                                                        "invalid_request", "token_not_string")),
    ("expired", lambda: {"token": token(exp=now() - 10)},
     refusal("Token expired", "invalid_token", "expired")),
    ("immature", lambda: {"token": token(nbf=now() + 600)},
     refusal("Token not yet valid", "invalid_token", "immature")),
    ("alg_none", lambda: {"token": unsigned_token()},
     refusal("Token algorithm is not allowed", "invalid_token", "algorithm_not_allowed")),
    ("alg_not_allowed", lambda: {"token": token(algorithm="HS512")},
     refusal("Token algorithm is not allowed", "invalid_token", "algorithm_not_allowed")),
    ("bad_signature", lambda: {"token": token(key="another-secret-of-32-bytes-or-more!!")},
     refusal("Token signature is invalid", "invalid_token", "bad_signature")),
    ("malformed", lambda: {"token": "not-a.jwt"},
     refusal("Token is malformed", "invalid_token", "malformed")),
    ("non_ascii", lambda: {"token": "é.é.é"},
     refusal("Token is malformed", "invalid_token", "malformed")),
    ("too_large", lambda: {"token": "a" * 9000},
     refusal("Token too large", "invalid_token", "too_large")),
    ("wrong_audience", lambda: {"token": token(aud="someone-else")},
     refusal("Token audience is not accepted", "invalid_token", "invalid_audience")),
    ("wrong_issuer", lambda: {"token": token(iss="https://evil.test")},
     refusal("Token issuer is not accepted", "invalid_token", "invalid_issuer")),
    ("missing_exp", lambda: {"token": token(exp=None)},
     refusal("Token is missing a required claim", "invalid_token", "missing_claim",
             claim="exp")),
    ("bad_iat", lambda: {"token": token(iat="yesterday")},
     refusal("Token has an invalid claim", "invalid_token", "invalid_claim")),
]


@pytest.mark.parametrize(("case", "payload", "expected"), BAD, ids=[b[0] for b in BAD])
async def test_reauth_bad_token(case: str, payload: Callable[[], Any],
                                expected: dict[str, Any]) -> None:
    """Each failure answers the connect level's refusal, and the previous state is exactly
    as it was: the identity object, the session's claims, the expiry timer (the socket is
    still disconnected at the first token's exp)."""
    tok, exp = short_token(2)
    async with events_server({"disconnect_on_expiry": True}) as app:
        async with client(app.url, tok) as sock:
            errors = recorder(sock, "siomw:error")
            before = identity_of(app)
            [handle] = [h for h in timers(app)._timers.values() if h is not None]
            args = () if payload() is None else (payload(),)
            assert await sock.call(REAUTH, *args, timeout=5) == {"error": expected}
            assert identity_of(app) is before
            assert await sock.call("whoami", timeout=5) == whoami(exp)
            assert [h for h in timers(app)._timers.values() if h is not None] == [handle]
            assert not handle.cancelled
            assert await asyncio.wait_for(errors.get(), exp - time.time() + 5) == {
                "event": None, **EXPIRED}


async def test_reauth_namespace_scopes() -> None:
    """On /admin the namespace's scopes apply to the new token as at connect."""
    async with events_server() as app:
        async with client(app.url, token(scope="admin"), namespace="/admin") as sock:
            reply = await sock.call(REAUTH, {"token": token(scope="chat")}, namespace="/admin",
                                    timeout=5)
            assert reply == {"error": refusal("Insufficient scope", "insufficient_scope",
                                              "missing_scope", scope="admin")}
            reply = await sock.call(REAUTH, {"token": token(scope="admin chat")},
                                    namespace="/admin", timeout=5)
            assert reply["ok"] is True
            assert identity_of(app).scopes == frozenset({"admin", "chat"})


@pytest.mark.parametrize("kind", KINDS)
async def test_reauth_rearms_the_expiry_timer(kind: str) -> None:
    """disconnect_on_expiry: re-auth before exp replaces the timer (no disconnect at the old
    exp); a shorter new token disconnects at its own exp."""
    tok, exp = short_token(2)
    async with events_server({"disconnect_on_expiry": True}, kind=kind) as app:
        async with client(app.url, tok, kind=kind) as sock:
            errors = recorder(sock, "siomw:error")
            later = int(time.time()) + 4
            assert await sock.call(REAUTH, {"token": token(exp=later)}, timeout=5) == {
                "ok": True, "exp": later}
            assert len(timers(app)) == 1
            await until(exp + 0.5)
            assert errors.empty() and sock.connected
            assert await sock.call("echo", 1, timeout=5) == [1]
            assert await asyncio.wait_for(errors.get(), later - time.time() + 5) == {
                "event": None, **EXPIRED}
            assert time.time() >= later


async def test_reauth_without_ack() -> None:
    """Without an ack: success answers nothing (the identity is replaced); a failure is the
    error event naming siomw:reauth."""
    tok, _ = short_token(30)
    async with events_server() as app:
        async with client(app.url, tok) as sock:
            errors = recorder(sock, "siomw:error")
            new_exp = int(time.time()) + 3600
            await sock.emit(REAUTH, {"token": token(exp=new_exp)})
            for _ in range(100):
                if identity_of(app).expires_at == new_exp:
                    break
                await asyncio.sleep(0.02)
            assert await sock.call("whoami", timeout=5) == whoami(new_exp)
            assert errors.empty()
            await sock.emit(REAUTH, {"token": "not-a.jwt"})
            assert await asyncio.wait_for(errors.get(), 5) == {
                "event": REAUTH, **refusal("Token is malformed", "invalid_token", "malformed")}


async def test_reauth_anonymous_socket_authenticates() -> None:
    """On an anonymous namespace a socket without a token may authenticate by re-auth."""
    async with events_server({"events": {"vip": {"scopes": ["vip"]}}}) as app:
        async with client(app.url, None, namespace="/public") as sock:
            assert (await sock.call("vip", namespace="/public", timeout=5))["error"]["data"][
                "detail"] == "missing_token"
            reply = await sock.call(REAUTH, {"token": token(scope="vip")}, namespace="/public",
                                    timeout=5)
            assert reply["ok"] is True
            assert await sock.call("vip", namespace="/public", timeout=5) == "any vip"


async def test_reauth_disabled() -> None:
    """reauth_event = false: siomw:reauth is an ordinary event (the catch-all gets it; on
    an expired socket it is refused like any other)."""
    tok, exp = short_token(2)
    async with events_server({"reauth_event": False}) as app:
        async with client(app.url, tok, namespace="/public") as sock:
            payload = {"token": token()}
            assert await sock.call(REAUTH, payload, namespace="/public", timeout=5) == (
                "any siomw:reauth")
        async with client(app.url, tok) as sock:
            await until(exp)
            assert await sock.call(REAUTH, payload, timeout=5) == {"error": EXPIRED}


async def test_reauth_custom_event_name() -> None:
    """reauth_event = "auth:refresh" renames it; siomw:reauth is then an ordinary event."""
    async with events_server({"reauth_event": "auth:refresh"}) as app:
        async with client(app.url, token(), namespace="/public") as sock:
            new = claims()["exp"] + 60
            assert await sock.call("auth:refresh", {"token": token(exp=new)},
                                   namespace="/public", timeout=5) == {"ok": True, "exp": new}
            assert await sock.call(REAUTH, {}, namespace="/public", timeout=5) == (
                "any siomw:reauth")


async def test_app_handler_of_the_reauth_event_warned(caplog: pytest.LogCaptureFixture
                                                      ) -> None:
    """An application handler named like reauth_event is warned about, once, and never
    runs: the jwt member answers the event."""
    from siomw_core.testing import serve
    from tests.plugins.jwt.events_helpers import build

    sio, mw, holder = build()
    seen: list[str] = []

    @sio.on(REAUTH)
    async def mine(sid: str, data: Any) -> str:
        seen.append(sid)
        return "mine"

    caplog.set_level(logging.WARNING, logger="siomw.jwt")
    async with serve(mw.asgi_app()) as url:
        holder.append(App(url, sio, mw))
        async with client(url, token()) as sock:
            assert (await sock.call(REAUTH, {"token": token()}, timeout=5))["ok"] is True
            assert (await sock.call(REAUTH, {"token": token()}, timeout=5))["ok"] is True
    assert seen == []
    warnings = [r.getMessage() for r in caplog.records if r.name == "siomw.jwt"]
    assert warnings == [
        "siomw: [jwt] the application has a handler for 'siomw:reauth' on /; the jwt plugin "
        "answers that event itself (re-authentication), so the handler never runs: rename "
        "it, or set [jwt] reauth_event to another name or false"]
