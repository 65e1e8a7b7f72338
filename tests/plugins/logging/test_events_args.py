"""The ``args`` of ``event`` lines: off by default, redacted at every depth, bounded; the
handler always gets the original arguments."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest
import socketio
from siomw_logging import ArgsView
from siomw_logging.args import MAX_DEPTH, MAX_ITEMS, MAX_VALUES

from siomw_core import CallNext, Event, Secrets
from siomw_core.testing import connect_result
from tests.conftest import requires_js
from tests.jsclient import js_client

from .support import EVENT_KEYS, EVENT_KEYS_WITH_ARGS, event_server, wait_for

#: an argument with secrets at every depth: objects inside lists inside objects
NESTED = {
    "room": "lobby",
    "password": "hunter2-secret-value",
    "profile": {
        "name": "ada",
        "accessToken": "eyJ-access-token-value",
        "devices": [
            {"id": 1, "api_key": "k-9f2c-api-key-value"},
            {"id": 2, "settings": {"Authorization": "Bearer abc-bearer-value",
                                   "cookie": "sid=cookie-value", "theme": "dark"}},
        ],
    },
    "refresh_token": "refresh-token-value",
    "client-secret": "client-secret-value",
}
NESTED_SHOWN = {
    "room": "lobby",
    "password": "[redacted]",
    "profile": {
        "name": "ada",
        "accessToken": "[redacted]",
        "devices": [
            {"id": 1, "api_key": "[redacted]"},
            {"id": 2, "settings": {"Authorization": "[redacted]", "cookie": "[redacted]",
                                   "theme": "dark"}},
        ],
    },
    "refresh_token": "[redacted]",
    "client-secret": "[redacted]",
}
SECRET_VALUES = ("hunter2", "eyJ-access", "k-9f2c", "abc-bearer", "cookie-value",
                 "refresh-token-value", "client-secret-value", "otp-551903")


async def connected(url: str) -> socketio.AsyncClient:
    outcome, _, client = await connect_result(url, auth={"name": "ada"},
                                              transports=["websocket"])
    assert outcome == "connect"
    return client


async def test_args_never_logged_by_default(tmp_path: Path) -> None:
    """Without ``event_args``, a line has no ``args`` key and no argument text appears."""
    log = tmp_path / "siomw.log"
    async with event_server(log) as (url, _):
        client = await connected(url)
        await client.call("echo", {"note": "visible-only-to-handler"}, timeout=5)
        [line] = await wait_for(log, lambda line: line["event"] == "event")
        await client.disconnect()
    assert list(line) == EVENT_KEYS
    assert "visible-only-to-handler" not in log.read_text()


async def test_args_redacted_at_every_depth_python_client(tmp_path: Path) -> None:
    """Secret keys' values are ``[redacted]`` in objects inside lists inside objects; the
    extra names of ``event_redact`` too; the handler receives the arguments unchanged."""
    log = tmp_path / "siomw.log"
    received: list[Any] = []
    sent = [copy.deepcopy(NESTED), "plain", {"otp": "otp-551903"}]
    async with event_server(log, received=received, event_args=True,
                            event_redact=["otp"]) as (url, _):
        client = await connected(url)
        answer = await client.call("echo", tuple(copy.deepcopy(sent)), timeout=5)
        [line] = await wait_for(log, lambda line: line["event"] == "event")
        await client.disconnect()
    assert list(line) == EVENT_KEYS_WITH_ARGS
    assert line["args"] == [NESTED_SHOWN, "plain", {"otp": "[redacted]"}]
    assert received == [("echo", sent)]  # the original arguments, secrets included
    assert answer == sent
    text = log.read_text()
    for secret in SECRET_VALUES:
        assert secret not in text


@requires_js
async def test_args_redacted_js_client(tmp_path: Path) -> None:
    """The same object sent by the JS client is redacted the same way."""
    log = tmp_path / "siomw.log"
    received: list[Any] = []
    async with event_server(log, received=received, event_args=True) as (url, _):
        obs = await js_client(url, auth={"name": "js"},
                              emit={"event": "echo", "args": [NESTED]})
        [line] = await wait_for(log, lambda line: line["event"] == "event")
    assert next(x for x in obs if x["event"] == "ack")["args"] == [NESTED]
    assert line["args"] == [NESTED_SHOWN]
    assert received == [("echo", [NESTED])]
    for secret in SECRET_VALUES:
        assert secret not in log.read_text()


async def test_binary_shown_as_its_length(tmp_path: Path) -> None:
    """Binary arguments (Socket.IO binary attachments) are ``<bytes N>``; the handler gets
    the bytes."""
    log = tmp_path / "siomw.log"
    received: list[Any] = []
    blob = bytes(range(256)) * 4
    async with event_server(log, received=received, event_args=True) as (url, _):
        client = await connected(url)
        await client.call("echo", (blob, {"file": blob, "name": "a.bin"}), timeout=5)
        [line] = await wait_for(log, lambda line: line["event"] == "event")
        await client.disconnect()
    assert line["args"] == ["<bytes 1024>", {"file": "<bytes 1024>", "name": "a.bin"}]
    assert received == [("echo", [blob, {"file": blob, "name": "a.bin"}])]


async def test_one_megabyte_string_is_clipped(tmp_path: Path) -> None:
    """A 1 MB string argument is clipped to ``event_arg_max`` characters: the line stays
    short; the handler gets all of it."""
    log = tmp_path / "siomw.log"
    received: list[Any] = []
    big = "x" * 1_000_000
    async with event_server(log, received=received, event_args=True, event_arg_max=16,
                            server={"max_http_buffer_size": 3_000_000}) as (url, _):
        client = await connected(url)
        await client.call("echo", ({"text": big}, big.encode()), timeout=10)
        [line] = await wait_for(log, lambda line: line["event"] == "event")
        await client.disconnect()
    assert line["args"] == [{"text": "x" * 16 + "... (1000000 characters)"},
                            "<bytes 1000000>"]
    assert len(log.read_text()) < 1000
    assert [len(args[0]["text"]) for _, args in received] == [1_000_000]


async def test_middleware_rewriting_args_does_not_change_the_logged_ones(
        tmp_path: Path) -> None:
    """``args`` is what the client sent (taken before inner members run); an inner
    member's rewrite reaches the handler, unaffected by logging."""
    log = tmp_path / "siomw.log"
    received: list[Any] = []
    async with event_server(log, received=received, event_args=True) as (url, mw):
        @mw.event.use
        async def upper(event: Event, call_next: CallNext) -> None:
            event.args[0]["text"] = event.args[0]["text"].upper()
            await call_next()

        client = await connected(url)
        await client.call("echo", {"text": "hello", "token": "t-secret"}, timeout=5)
        [line] = await wait_for(log, lambda line: line["event"] == "event")
        await client.disconnect()
    assert line["args"] == [{"text": "hello", "token": "[redacted]"}]
    assert received == [("echo", [{"text": "HELLO", "token": "t-secret"}])]


# --- the view itself: bounds and shapes -----------------------------------------------

def view(**kw: Any) -> ArgsView:
    return ArgsView(secrets=Secrets(), **kw)


def test_view_never_mutates_its_input() -> None:
    """The view is a new structure; the arguments are left exactly as they were."""
    args: list[Any] = [copy.deepcopy(NESTED), [b"raw", "y" * 300]]
    before = copy.deepcopy(args)
    shown = view()(args)
    assert args == before
    assert shown[0] is not args[0] and shown[0]["profile"] is not args[0]["profile"]


def test_deep_nesting_is_cut_at_max_depth() -> None:
    """A deeply nested argument (10 000 levels) is summarised below MAX_DEPTH levels, fast."""
    deep: Any = "bottom"
    for _ in range(10_000):
        deep = {"down": [deep]}
    started = time.perf_counter()
    shown = view()([deep])
    assert time.perf_counter() - started < 0.05
    node: Any = shown
    depth = 0
    while isinstance(node, list | dict):
        node = node[0] if isinstance(node, list) else node["down"]
        depth += 1
    assert depth == MAX_DEPTH
    assert node == "<list of 1>"


def test_wide_containers_are_bounded() -> None:
    """Lists and objects show MAX_ITEMS entries and say how many more; MAX_VALUES in all."""
    shown = view()([list(range(100_000)), {f"k{n}": n for n in range(100)}])
    assert shown[0] == [*range(MAX_ITEMS), f"... {100_000 - MAX_ITEMS} more"]
    assert list(shown[1])[-1] == "..." and shown[1]["..."] == f"{100 - MAX_ITEMS} more"
    many: list[Any] = [[[n] * MAX_ITEMS for n in range(MAX_ITEMS)]]
    flat = str(view()(many))
    assert flat.count("<...>") > 0
    assert flat.count("0") + flat.count("<...>") < MAX_VALUES * 4


def test_big_payload_costs_little() -> None:
    """1 MB in many shapes: viewing it takes well under a millisecond per 100 kB."""
    payload = [{"text": "z" * 1_000_000}, ["w" * 10_000] * 100, b"b" * 1_000_000]
    started = time.perf_counter()
    shown = view(max_length=8)(payload)
    assert time.perf_counter() - started < 0.01
    assert shown[0] == {"text": "zzzzzzzz... (1000000 characters)"}
    assert shown[2] == "<bytes 1000000>"


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, None), (True, True), (7, 7), (1.5, 1.5), (float("nan"), "nan"),
     (float("inf"), "inf"), (bytearray(b"ab"), "<bytes 2>"), (memoryview(b"abc"), "<bytes 3>"),
     (("a", 1), ["a", 1]), (object(), "<object>"), ({1: "int key"}, {"1": "int key"})],
    ids=["null", "bool", "int", "float", "nan", "inf", "bytearray", "memoryview", "tuple",
         "object", "int-key"],
)
def test_value_shapes(value: Any, shown: Any) -> None:
    """JSON values as they are; non-finite floats as text; any other object by type name."""
    assert view()([value]) == [shown]


def test_long_keys_are_clipped_and_still_checked() -> None:
    """A key longer than event_arg_max is clipped; a secret word past the clip still
    redacts its value."""
    key = "a" * 40 + "_password"
    assert view(max_length=10)([{key: "v", "b" * 20: "w"}]) == [
        {"aaaaaaaaaa... (49 characters)": "[redacted]",
         "bbbbbbbbbb... (20 characters)": "w"}]


@pytest.mark.parametrize(
    "name",
    ["password", "Password", "token", "secret", "authorization", "cookie", "api_key",
     "apiKey", "X-Api-Key", "accessToken", "refresh_token", "client_secret", "jwt",
     "passwd", "new_password", "passwordConfirm", "sessionCookie", "credentials", "key",
     "auth"],
)
def test_secret_key_names(name: str) -> None:
    """The core's secret names, camelCase and words within a name included."""
    assert view()([{name: "v"}]) == [{name: "[redacted]"}]


@pytest.mark.parametrize("name", ["text", "room", "name", "sid", "id", "keyboard", "monkey"])
def test_ordinary_key_names(name: str) -> None:
    assert view()([{name: "v"}]) == [{name: "v"}]


def test_declared_and_extra_names() -> None:
    """Names declared secret in the stack (a plugin's query parameter) and ``event_redact``
    names are redacted too, compared like the core's names."""
    secrets = Secrets()
    secrets.declare(query="access", cookie="auth_cookie")
    shown = ArgsView(secrets=secrets, extra=["OTP", "pin-code"])(
        [{"access": 1, "auth_cookie": 2, "otp": 3, "PIN_code": 4, "pinCode": 5, "other": 6}])
    assert shown == [{"access": "[redacted]", "auth_cookie": "[redacted]", "otp": "[redacted]",
                      "PIN_code": "[redacted]", "pinCode": "[redacted]", "other": 6}]
