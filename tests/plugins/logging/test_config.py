"""The [logging] table: validation errors, outputs, discovery and the middleware's place."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import siomw_logging
import socketio

from siomw_core import Config, ConfigError, CoreSettings, Handshake, Socket, attach
from siomw_core.testing import connect_result, serve

from .support import connects, logged_server, make_server, wait_for


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"colour": True}, ["test: [logging] colour: unknown key",
                            "expected a known key (access_log, event_arg_max, event_args, "
                            "event_exclude, event_include, event_redact, event_sample, "
                            "events, file, format, level, logger_name, redact_params)"]),
        ({"events": "yes please"}, ["test: [logging] events: expected", "valid boolean",
                                    "found 'yes please' (str)"]),
        ({"event_sample": 1.5}, ["test: [logging] event_sample: expected",
                                 "less than or equal to 1", "found 1.5 (float)"]),
        ({"event_sample": -0.1}, ["[logging] event_sample: expected",
                                  "greater than or equal to 0", "found -0.1 (float)"]),
        ({"event_sample": "0.5"}, ["[logging] event_sample: expected", "valid number",
                                   "found '0.5' (str)"]),
        ({"event_sample": True}, ["[logging] event_sample: expected", "valid number",
                                  "found True (bool)"]),
        ({"event_include": "chat"}, ["[logging] event_include: expected", "valid list",
                                     "found 'chat' (str)"]),
        ({"event_exclude": [""]}, ["[logging] event_exclude.0: expected",
                                   "at least 1 character"]),
        ({"event_include": ["chat", "typing"], "event_exclude": ["typing"]},
         ["[logging]", "event_include and event_exclude both name ['typing']"]),
        ({"event_args": 1}, ["[logging] event_args: expected", "valid boolean",
                             "found 1 (int)"]),
        ({"event_redact": [3]}, ["[logging] event_redact.0: expected", "valid string"]),
        ({"event_arg_max": 0}, ["[logging] event_arg_max: expected",
                                "greater than or equal to 1", "found 0 (int)"]),
        ({"event_arg_max": 2.5}, ["[logging] event_arg_max: expected", "valid integer",
                                  "found 2.5 (float)"]),
        ({"format": "xml"}, ["test: [logging] format: expected",
                             "'json' or 'console'", "found 'xml' (str)"]),
        ({"level": "debug"}, ["[logging] level: expected", "'info' or 'warning'",
                              "found 'debug' (str)"]),
        ({"level": 20}, ["[logging] level: expected", "found 20 (int)"]),
        ({"file": ""}, ["[logging] file: expected", "found '' (str)"]),
        ({"logger_name": 5}, ["[logging] logger_name: expected", "valid string",
                              "found 5 (int)"]),
        ({"access_log": "maybe"}, ["test: [logging] access_log: expected", "valid boolean",
                                   "found 'maybe' (str)"]),
        ({"redact_params": "token"}, ["test: [logging] redact_params: expected",
                                      "valid list", "found 'token' (str)"]),
        ({"redact_params": ["room", ""]}, ["test: [logging] redact_params.1: expected",
                                           "at least 1 character", "found '' (str)"]),
        ({"redact_params": [7]}, ["[logging] redact_params.0: expected", "valid string",
                                  "found 7 (int)"]),
    ],
    ids=["unknown-key", "events-type", "sample-above-1", "sample-negative", "sample-text",
         "sample-bool", "include-not-list", "exclude-empty-name", "include-and-exclude",
         "event-args-type", "redact-name-type-events", "arg-max-zero", "arg-max-float",
         "bad-format", "bad-level", "level-type", "empty-file", "name-type",
         "access-log-type", "redact-not-list", "redact-empty-name", "redact-name-type"],
)
def test_config_errors_name_table_key_expected_found(
    table: dict[str, Any], expected: list[str]
) -> None:
    """A bad [logging] table stops startup; the message names table, key, expected, found."""
    with pytest.raises(ConfigError) as info:
        make_server(table)
    for part in expected:
        assert part in str(info.value)


def test_unwritable_file_is_a_config_error(tmp_path: Path) -> None:
    """A file that cannot be opened for appending is a config error naming table and key."""
    with pytest.raises(ConfigError) as info:
        make_server({"file": str(tmp_path)})  # a directory
    message = str(info.value)
    assert message.startswith("test: [logging]: file: expected a writable file path")
    assert repr(str(tmp_path)) in message


def test_env_override_error_names_variable() -> None:
    """An override from SIOMW_LOGGING__FORMAT is reported under the variable's name."""
    from siomw_core import load_config

    config = load_config(environ={"SIOMW_LOGGING__FORMAT": "yaml"})
    sio = socketio.AsyncServer(async_mode="asgi")
    with pytest.raises(ConfigError) as info:
        attach(sio, config=config, entry_points=False, local_plugins=[("logging", siomw_logging)])
    assert "environment variable SIOMW_LOGGING__FORMAT: [logging] format" in str(info.value)


async def test_file_is_appended(tmp_path: Path) -> None:
    """An existing log file is appended to, not truncated."""
    log = tmp_path / "siomw.log"
    log.write_text('{"event": "earlier"}\n')
    async with logged_server(log) as (url, _):
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        await wait_for(log, lambda line: line["event"] == "disconnect")
    events = [json.loads(raw)["event"] for raw in log.read_text().splitlines()]
    assert events == ["earlier", "connect", "disconnect"]


async def test_stdlib_output(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """file = "logging" hands each rendered line to the stdlib logger logger_name."""
    caplog.set_level(logging.INFO, logger="app.sockets")
    sio, _ = make_server({"file": "logging", "logger_name": "app.sockets",
                          "access_log": False})
    async with serve(socketio.ASGIApp(sio)) as url:
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        for _ in range(250):
            if len([r for r in caplog.records if r.name == "app.sockets"]) >= 2:
                break
            await asyncio.sleep(0.02)
    records = [r for r in caplog.records if r.name == "app.sockets"]
    lines = [json.loads(r.getMessage()) for r in records]
    assert [x["event"] for x in lines] == ["connect", "disconnect"]
    assert [r.levelname for r in records] == ["INFO", "INFO"]
    assert lines[0]["outcome"] == "accepted"


def test_entry_point_discovery() -> None:
    """The installed distribution registers the plugin under entry point "logging"."""
    sio = socketio.AsyncServer(async_mode="asgi")
    config = Config(source="test", core=CoreSettings(plugins=["logging"]),
                    tables={"logging": {"file": "stderr"}})
    mw = attach(sio, config=config)
    record = mw.registry.records["logging"]
    assert record.enabled, record.error
    assert record.distribution == "siomw-logging"
    assert isinstance(record.options, siomw_logging.LoggingOptions)


def test_outermost_in_every_namespace() -> None:
    """The middleware "logging" (priority 3000) is first in every namespace's chain."""
    _, mw = make_server({"file": "stderr"})

    @mw.use(priority=2999, namespace=None)
    async def inner(socket: Socket, call_next: Any) -> None:
        await call_next()

    mw.of("/admin").use(inner, name="admin_only", priority=2500)
    chains = mw.describe()["connect"]
    assert set(chains) >= {"/", "/admin"}
    for members in chains.values():
        assert (members[0]["name"], members[0]["priority"], members[0]["plugin"]) == (
            "logging", 3000, "logging")


async def test_cancelled_attempt_is_abandoned(tmp_path: Path) -> None:
    """An attempt cancelled from outside (CancelledError) is logged as abandoned, re-raised."""
    log = tmp_path / "siomw.log"
    spec, _ = siomw_logging.siomw_middlewares(
        config=siomw_logging.LoggingOptions(file=str(log)), settings=CoreSettings())
    log_connect: Any = spec.func  # the connect-level member (a union of both levels' types)
    environ = {"QUERY_STRING": "EIO=4&transport=websocket",
               "asgi.scope": {"client": ("127.0.0.1", 40000), "headers": []}}
    socket = Socket("sid-1", "/", Handshake(environ, {"token": "t0ken"}), "eio-1", None)

    async def call_next() -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await log_connect(socket, call_next)
    [line] = connects(log)
    assert (line["outcome"], line["code"], line["level"]) == ("abandoned", None, "info")
    assert (line["sid"], line["address"], line["transport"]) == (
        "sid-1", "127.0.0.1", "websocket")
    assert socket._on_disconnect is None
    assert "t0ken" not in log.read_text()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
async def test_full_disk_does_not_refuse(caplog: pytest.LogCaptureFixture) -> None:
    """A line that cannot be written (ENOSPC) is reported on stdlib; the client connects."""
    sio, _ = make_server({"file": "/dev/full"})
    async with serve(socketio.ASGIApp(sio)) as url:
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        for _ in range(250):
            if "could not write a disconnect line" in caplog.text:
                break
            await asyncio.sleep(0.02)
    assert "could not write a connect line" in caplog.text
    assert "could not write a disconnect line" in caplog.text



def test_members_of_the_hook() -> None:
    """The hook gives "logging" (connect) and "logging-http" (engine, preflight too)."""
    members = siomw_logging.siomw_middlewares(
        config=siomw_logging.LoggingOptions(), settings=CoreSettings())
    assert [(m.name, m.level, m.priority, m.preflight) for m in members] == [
        ("logging", "connect", 3000, False), ("logging-http", "engine", 3000, True)]


def test_file_closed_when_every_writer_is_gone(tmp_path: Path) -> None:
    """A log file shared by several members closes once all of them are collected."""
    import gc

    from siomw_logging.output import build_output

    class Owner:
        pass

    output = build_output(siomw_logging.LoggingOptions(file=str(tmp_path / "siomw.log")))
    first, second = Owner(), Owner()
    output.close_with(first, second)
    assert output.file is not None
    del first
    gc.collect()
    assert not output.file.closed
    del second
    gc.collect()
    assert output.file.closed
