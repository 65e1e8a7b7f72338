"""Scopes per event: ``@siomw_jwt.requires`` (above and below ``@sio.on``, on AsyncNamespace
methods) and ``[jwt.events]``, with python-socketio's client and the JS client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import siomw_jwt
import socketio

from siomw_core import Requirement, requirements_of
from tests.conftest import requires_js
from tests.plugins.jwt.events_helpers import client, events_server, js_session, recorder
from tests.plugins.jwt.helpers import token
from tests.plugins.kinds import KINDS


def scope_refusal(scope: str) -> dict[str, Any]:
    """The ack of an event refused for its scopes: the connect level's insufficient_scope."""
    return {"error": {"message": "Insufficient scope",
                      "data": {"code": "insufficient_scope", "detail": "missing_scope",
                               "scope": scope}}}


@pytest.mark.parametrize("kind", KINDS)
async def test_requires_below_sio_on(kind: str) -> None:
    """@sio.on over @requires("admin"): refused with insufficient_scope and the handler not
    called for a token without admin; answered for one with it; other events unaffected
    (both server kinds)."""
    async with events_server(kind=kind) as app:
        async with client(app.url, token(scope="chat"), kind=kind) as sock:
            assert await sock.call("admin:kick", "bob", timeout=5) == scope_refusal("admin")
            assert await sock.call("echo", 1, timeout=5) == [1]
        async with client(app.url, token(scope="chat admin"), kind=kind) as sock:
            assert await sock.call("admin:kick", "bob", timeout=5) == "kicked bob"
    assert [name for name, _ in app.calls] == ["echo", "admin:kick"]


async def test_requires_above_sio_on() -> None:
    """@requires("admin", "ban") over @sio.on: every listed scope is needed, and the refusal
    names them all (RFC 6750 §3 scope attribute); a `scopes` list claim grants too."""
    async with events_server() as app:
        async with client(app.url, token(scope="admin")) as sock:
            assert await sock.call("ban", "eve", timeout=5) == scope_refusal("admin ban")
        async with client(app.url, token(scopes=["ban", "admin"])) as sock:
            assert await sock.call("ban", "eve", timeout=5) == "banned eve"
    assert [name for name, _ in app.calls] == ["ban"]


@pytest.mark.parametrize("kind", KINDS)
async def test_requires_on_namespace_method(kind: str) -> None:
    """An AsyncNamespace method decorated with @requires("mod"): refused without mod, run
    with it; the class's other methods need nothing."""
    async with events_server(kind=kind) as app:
        async with client(app.url, token(), namespace="/room", kind=kind) as sock:
            assert (await sock.call("mute", "bob", namespace="/room", timeout=5)
                    == scope_refusal("mod"))
            assert await sock.call("hello", namespace="/room", timeout=5) == "hello"
        async with client(app.url, token(scope="mod"), namespace="/room", kind=kind) as sock:
            assert await sock.call("mute", "bob", namespace="/room", timeout=5) == "muted bob"
    assert [name for name, _ in app.calls] == ["hello", "mute"]


@pytest.mark.parametrize("kind", KINDS)
async def test_refusal_without_ack_is_the_error_event(kind: str) -> None:
    """Emitted without an ack, a refused event sends siomw:error with its name."""
    async with events_server(kind=kind) as app:
        async with client(app.url, token(), kind=kind) as sock:
            errors = recorder(sock, "siomw:error")
            await sock.emit("admin:kick", "bob")
            assert await asyncio.wait_for(errors.get(), 5) == {
                "event": "admin:kick", **scope_refusal("admin")["error"]}
    assert app.calls == []


async def test_config_events_table() -> None:
    """[jwt.events."cfg:op"] scopes = ["ops"] guards a handler without a decorator."""
    table = {"events": {"cfg:op": {"scopes": ["ops"]}}}
    async with events_server(table) as app:
        async with client(app.url, token(scope="chat")) as sock:
            assert await sock.call("cfg:op", timeout=5) == scope_refusal("ops")
        async with client(app.url, token(scope="ops")) as sock:
            assert await sock.call("cfg:op", timeout=5) == "done"
    assert [name for name, _ in app.calls] == ["cfg:op"]


async def test_config_adds_to_decorators() -> None:
    """A config rule for an event whose handler has @requires: both are needed."""
    table = {"events": {"admin:kick": {"scopes": ["audit"]}}}
    async with events_server(table) as app:
        async with client(app.url, token(scope="admin")) as sock:
            assert await sock.call("admin:kick", "x", timeout=5) == scope_refusal("admin audit")
        async with client(app.url, token(scope="admin audit")) as sock:
            assert await sock.call("admin:kick", "x", timeout=5) == "kicked x"


async def test_config_namespaces() -> None:
    """A rule with `namespaces` holds there only: "/room" hello guarded, "/" echo not."""
    table = {"events": {"hello": {"scopes": ["vip"], "namespaces": ["/room"]},
                        "echo": {"scopes": ["vip"], "namespaces": ["/room"]}}}
    async with events_server(table) as app:
        async with client(app.url, token()) as sock:
            assert await sock.call("echo", 2, timeout=5) == [2]
        async with client(app.url, token(), namespace="/room") as sock:
            assert (await sock.call("hello", namespace="/room", timeout=5)
                    == scope_refusal("vip"))


async def test_config_catch_all_and_anonymous() -> None:
    """On an anonymous namespace a config rule guards the catch-all's events too: no token
    is invalid_request/missing_token (as at connect), a token without the scope is
    insufficient_scope; unguarded names reach the catch-all."""
    table = {"events": {"secret": {"scopes": ["vip"]}}}
    async with events_server(table) as app:
        async with client(app.url, None, namespace="/public") as sock:
            assert await sock.call("secret", namespace="/public", timeout=5) == {
                "error": {"message": "Authentication required",
                          "data": {"code": "invalid_request", "detail": "missing_token"}}}
            assert await sock.call("other", namespace="/public", timeout=5) == "any other"
        async with client(app.url, token(), namespace="/public") as sock:
            assert (await sock.call("secret", namespace="/public", timeout=5)
                    == scope_refusal("vip"))
        async with client(app.url, token(scope="vip"), namespace="/public") as sock:
            assert await sock.call("secret", namespace="/public", timeout=5) == "any secret"
    assert [name for name, _ in app.calls] == ["other", "secret"]


@requires_js
@pytest.mark.parametrize("kind", KINDS)
async def test_requires_js_client(kind: str) -> None:
    """The JS client sees the same acks: refusals for kick, ban and mute; answers otherwise;
    without an ack, the siomw:error event."""
    async with events_server(kind=kind) as app:
        obs = await js_session(app.url, auth={"token": token(scope="chat")},
                               listen=["siomw:error"], steps=[
            {"emit": "admin:kick", "args": ["bob"]},
            {"emit": "ban", "args": ["eve"]},
            {"emit": "echo", "args": ["hi", {"n": 1}]},
            {"emit": "admin:kick", "args": ["bob"], "ack": False},
            {"waitFor": "siomw:error"},
        ])
        assert obs == [
            {"event": "connect"},
            {"event": "ack", "name": "admin:kick", "args": [scope_refusal("admin")]},
            {"event": "ack", "name": "ban", "args": [scope_refusal("admin ban")]},
            {"event": "ack", "name": "echo", "args": [["hi", {"n": 1}]]},
            {"event": "sent", "name": "admin:kick"},
            {"event": "on", "name": "siomw:error",
             "args": [{"event": "admin:kick", **scope_refusal("admin")["error"]}]},
            {"event": "done"},
        ]
        obs = await js_session(app.url, namespace="/room", auth={"token": token(scope="mod")},
                               steps=[{"emit": "mute", "args": ["bob"]}])
        assert obs[1] == {"event": "ack", "name": "mute", "args": ["muted bob"]}
    assert [name for name, _ in app.calls] == ["echo", "mute"]


def test_requires_records_a_requirement() -> None:
    """requires() records Requirement(plugin="jwt", kind="scopes") on the same function,
    duplicates dropped, stacked decorators adding up (closest to the function first)."""

    async def handler(sid: str) -> None:
        pass

    decorated = siomw_jwt.requires("b")(siomw_jwt.requires("a", "a")(handler))
    assert decorated is handler
    assert requirements_of(handler) == (
        Requirement(plugin="jwt", kind="scopes", options={"scopes": ["a"]}),
        Requirement(plugin="jwt", kind="scopes", options={"scopes": ["b"]}),
    )
    assert requirements_of(handler)[0].describe() == {"plugin": "jwt", "kind": "scopes",
                                                      "scopes": ["a"]}


@pytest.mark.parametrize(("scopes", "message"), [
    ((), 'siomw_jwt.requires needs at least one scope, e.g. requires("admin")'),
    (("admin kick",), "siomw_jwt.requires: 'admin kick': scope names have no spaces, quotes "
                      "or backslashes (RFC 6749 §3.3)"),
    (("",), "siomw_jwt.requires: a scope name is not empty"),
    (('a"b',), "siomw_jwt.requires: 'a\"b': scope names have no spaces, quotes or "
               "backslashes (RFC 6749 §3.3)"),
    ((1,), "siomw_jwt.requires: a scope name is a string, not int"),
])
def test_requires_validated_at_decoration(scopes: tuple[Any, ...], message: str) -> None:
    """Bad scope lists fail when the module is imported, with a one-line ValueError."""
    with pytest.raises(ValueError) as info:
        siomw_jwt.requires(*scopes)
    assert str(info.value) == message


def test_requires_used_bare() -> None:
    """@siomw_jwt.requires without parentheses is a clear error naming the handler, not a
    silent no-op."""
    with pytest.raises(ValueError) as info:
        @siomw_jwt.requires  # type: ignore[arg-type]
        async def handler(sid: str) -> None:
            pass
    assert str(info.value) == (
        'siomw_jwt.requires takes scope names: write @siomw_jwt.requires("admin"), not '
        f"@siomw_jwt.requires (on {__name__}.test_requires_used_bare.<locals>.handler)")


def test_event_member_spec() -> None:
    """The plugin adds one event member named jwt, priority 1000, every namespace, and
    siomw chain lists the requirements of the handlers."""
    sio = socketio.AsyncServer(async_mode="asgi")

    @sio.on("admin:kick")
    @siomw_jwt.requires("admin")
    async def kick(sid: str) -> None:
        pass

    from siomw_core import Config, CoreSettings, attach

    mw = attach(sio, config=Config(source="test", core=CoreSettings(), tables={"jwt": {}}),
                entry_points=False, local_plugins=[("jwt", siomw_jwt)])
    [spec] = mw.registry.middlewares("event")
    assert (spec.name, spec.level, spec.priority, spec.namespaces, spec.plugin) == (
        "jwt", "event", 1000, None, "jwt")
