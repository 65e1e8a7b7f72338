"""Handler requirements (``siomw_core.requirements``): decorators that stack in either
order with python-socketio's, on functions and AsyncNamespace methods, and what
``siomw chain`` shows of them."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import socketio

from siomw_core import Requirement, handler_name, require, requirements_of
from tests.test_cli import run

F = TypeVar("F", bound=Callable[..., Any])

LIMIT = Requirement("ratelimit", "limit", {"rate": "5/second", "key": "sid", "cost": 1,
                                            "scope": None})
SCOPES = Requirement("jwt", "scopes", {"scopes": ["admin"]})


def limited(handler: F) -> F:
    """A plugin decorator as plugins write them: a thin function over require."""
    return require(handler, LIMIT)


def admin(handler: F) -> F:
    return require(handler, SCOPES)


def test_decorators_stack_above_and_below_sio_on_in_either_order() -> None:
    """Above or below @sio.on / @sio.event, the registered handler carries every
    requirement, the one closest to the function first."""
    sio = socketio.AsyncServer(async_mode="asgi")

    @limited
    @sio.on("below")
    @admin
    async def one(sid: str) -> None: ...

    @sio.event
    @admin
    @limited
    async def two(sid: str) -> None: ...

    assert requirements_of(sio.handlers["/"]["below"]) == (SCOPES, LIMIT)
    assert requirements_of(sio.handlers["/"]["two"]) == (LIMIT, SCOPES)
    assert sio.handlers["/"]["below"] is one


def test_async_namespace_methods_carry_requirements_through_the_bound_method() -> None:
    """Set in the class body, read through the bound method of any instance."""

    class Admin(socketio.AsyncNamespace):  # type: ignore[misc]
        @admin
        async def on_kick(self, sid: str) -> None: ...

        async def on_plain(self, sid: str) -> None: ...

    instance = Admin("/admin")
    assert requirements_of(instance.on_kick) == (SCOPES,)
    assert requirements_of(instance.on_plain) == ()
    assert requirements_of(None) == ()


def test_handler_name_of_functions_and_bound_methods() -> None:
    """Logs name a handler ``module.qualname``; a bound method by its function."""

    class Room(socketio.AsyncNamespace):  # type: ignore[misc]
        async def on_say(self, sid: str) -> None: ...

    async def say(sid: str) -> None: ...

    prefix = f"{__name__}.test_handler_name_of_functions_and_bound_methods.<locals>"
    assert handler_name(say) == f"{prefix}.say"
    assert handler_name(Room("/room").on_say) == f"{prefix}.Room.on_say"


def test_requirement_checks_and_describe() -> None:
    """describe() flattens options; options are read-only; bad input raises a TypeError
    or ValueError naming what was expected."""
    assert LIMIT.describe() == {"plugin": "ratelimit", "kind": "limit", "rate": "5/second",
                                "key": "sid", "cost": 1, "scope": None}
    with pytest.raises(TypeError):
        LIMIT.options["rate"] = "1/second"  # type: ignore[index]
    with pytest.raises(ValueError, match="plugin"):
        Requirement("", "limit")
    with pytest.raises(TypeError, match="a handler function"):
        require(42, LIMIT)  # type: ignore[type-var]
    with pytest.raises(TypeError, match=r"siomw_core\.Requirement"):
        require(lambda: None, {"plugin": "x"})  # type: ignore[arg-type]


APP = '''
import socketio, siomw_core

sio = socketio.AsyncServer(async_mode="asgi")
mw = siomw_core.attach(sio)


@mw.event.use(priority=5)
async def audit(event, call_next):
    await call_next()


@mw.of("/chat").event.use
async def moderate(event, call_next):
    await call_next()


@sio.event
async def hello(sid):
    return "hi"


@sio.on("kick")
def kick(sid):
    return None


siomw_core.require(kick, siomw_core.Requirement("jwt", "scopes", {"scopes": ["admin"]}))


class Chat(socketio.AsyncNamespace):
    async def on_post(self, sid, text):
        return text


sio.register_namespace(Chat("/chat"))
app = mw.asgi_app()
'''


def test_siomw_chain_shows_event_chains_and_handler_requirements(tmp_path: Path) -> None:
    """`siomw chain --json APP`: "event" has each namespace's event chain, "handlers" every
    handler with what it requires; the table view shows both; the unenforced requirement
    (jwt is not enabled here) is warned about on stderr."""
    (tmp_path / "evapp.py").write_text(textwrap.dedent(APP))
    env = {"SIOMW_PLUGINS": "logging"}
    result = run("chain", "--json", "evapp:app", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert [(m["name"], m["plugin"], m["priority"]) for m in shown["event"]["/"]] == [
        ("audit", None, 5)]
    assert [m["name"] for m in shown["event"]["/chat"]] == ["moderate"]
    assert shown["handlers"] == {
        "/": {"hello": [], "kick": [{"plugin": "jwt", "kind": "scopes", "scopes": ["admin"],
                                      "source": "decorator"}]},
        "/chat": {"post": []},
    }
    assert "handler evapp.kick of event 'kick' on / requires plugin 'jwt'" in result.stderr
    table = run("chain", "evapp:app", cwd=tmp_path, env=env)
    assert table.returncode == 0, table.stderr
    for text in ("event chain of '/'", "event chain of '/chat'", "event handlers of '/'",
                 "scopes: scopes=['admin']"):
        assert text in table.stdout, table.stdout
