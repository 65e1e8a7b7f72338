"""The logging plugin's ``event`` lines (``events = true``), from real servers and clients."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import siomw_logging
import socketio
import structlog
from siomw_logging.events import event_logger
from siomw_logging.output import Output
from structlog.typing import EventDict

from siomw_core import CallNext, CoreSettings, Event, Refusal
from siomw_core.testing import connect_result
from tests.conftest import requires_js
from tests.jsclient import js_client
from tests.plugins import kinds
from tests.plugins.kinds import KINDS

from .support import EVENT_KEYS, event_lines, event_server, read_lines, wait_for
from .test_lines import assert_millis, assert_timestamp


async def refuse_forbidden(event: Event, call_next: CallNext) -> None:
    """An application event middleware refusing the event "forbidden"."""
    if event.name == "forbidden":
        raise Refusal("not for you", {"code": "forbidden", "event": event.name})
    await call_next()


async def connected(url: str, name: str | None = "ada") -> socketio.AsyncClient:
    outcome, _, client = await connect_result(
        url, auth={"name": name} if name else None, transports=["websocket"])
    assert outcome == "connect"
    return client


@pytest.mark.parametrize("kind", KINDS)
async def test_accepted_and_refused_lines_python_client(tmp_path: Path, kind: str) -> None:
    """Accepted events (with and without an ack) and a refused one: one line each, with the
    exact keys, in order, the refusal's code and message, the user from the identity
    (both server kinds)."""
    log = tmp_path / "siomw.log"
    async with event_server(log, kind=kind) as (url, mw), \
            kinds.client(kind, url, auth={"name": "ada"}) as client:
        mw.event.use(refuse_forbidden)
        sid = client.client.get_sid("/")
        assert await client.call("echo", "hi", timeout=5) == ["hi"]
        await client.emit("quiet", 1)
        await wait_for(log, lambda line: line["event"] == "event", count=2)
        answer = await client.call("forbidden", timeout=5)
        await wait_for(log, lambda line: line["event"] == "event", count=3)
    assert answer == {"error": {"message": "not for you",
                                "data": {"code": "forbidden", "event": "forbidden"}}}
    lines = event_lines(log)
    assert [list(line) for line in lines] == [EVENT_KEYS] * 3
    summary = [(x["name"], x["outcome"], x["code"], x["message"], x["ack"], x["level"])
               for x in lines]
    assert summary == [
        ("echo", "accepted", None, None, True, "info"),
        ("quiet", "accepted", None, None, False, "info"),
        ("forbidden", "refused", "forbidden", "not for you", True, "warning"),
    ]
    for line in lines:
        assert (line["sid"], line["namespace"], line["user"], line["sample"]) == (
            sid, "/", "ada", 1.0)
        assert_millis(line["duration_ms"])
        assert_timestamp(line["timestamp"])


async def test_refused_without_ack_and_anonymous(tmp_path: Path) -> None:
    """A refused event without an ack is logged ``ack: false``; no identity: user null."""
    log = tmp_path / "siomw.log"
    async with event_server(log) as (url, mw):
        mw.event.use(refuse_forbidden)
        client = await connected(url, name=None)
        errors: list[Any] = []
        client.on("siomw:error", errors.append)
        await client.emit("forbidden", {"x": 1})
        [line] = await wait_for(log, lambda line: line["event"] == "event")
        for _ in range(100):
            if errors:
                break
            await asyncio.sleep(0.02)
        await client.disconnect()
    assert errors == [{"event": "forbidden", "message": "not for you",
                       "data": {"code": "forbidden", "event": "forbidden"}}]
    assert (line["outcome"], line["code"], line["ack"], line["user"]) == (
        "refused", "forbidden", False, None)


async def test_handler_exception_is_internal_error(tmp_path: Path) -> None:
    """A handler that raises: the core refuses with internal_error, and the line says so."""
    log = tmp_path / "siomw.log"
    async with event_server(log) as (url, mw):
        @mw.sio.event
        async def boom(sid: str) -> None:
            raise RuntimeError("handler bug")

        client = await connected(url)
        answer = await client.call("boom", timeout=5)
        [line] = await wait_for(log, lambda line: line["event"] == "event")
        await client.disconnect()
    assert answer["error"]["data"] == {"code": "internal_error"}
    assert (line["name"], line["outcome"], line["code"]) == ("boom", "refused", "internal_error")
    assert "handler bug" not in log.read_text()


async def test_refused_by_ratelimit(tmp_path: Path) -> None:
    """A refusal by the ratelimit plugin's event limit is logged with ``rate_limited``."""
    siomw_ratelimit = pytest.importorskip("siomw_ratelimit")
    if "event" not in siomw_ratelimit.RateLimitOptions.model_fields:
        pytest.skip("the ratelimit plugin has no event limits yet")
    from siomw_core import Config, attach
    from siomw_core.testing import serve

    log = tmp_path / "siomw.log"
    sio = socketio.AsyncServer(async_mode="asgi")

    @sio.event
    async def echo(sid: str, *args: Any) -> Any:
        return list(args)

    config = Config(source="test", core=CoreSettings(), tables={
        "logging": {"file": str(log), "events": True, "access_log": False},
        "ratelimit": {"event": "2/minute"}})
    attach(sio, config=config, entry_points=False,
           local_plugins=[("logging", siomw_logging), ("ratelimit", siomw_ratelimit)])
    async with serve(socketio.ASGIApp(sio)) as url:
        client = await connected(url)
        answers = [await client.call("echo", n, timeout=5) for n in range(3)]
        await wait_for(log, lambda line: line["event"] == "event", count=3)
        await client.disconnect()
    assert answers[:2] == [[0], [1]]
    assert answers[2]["error"]["data"]["code"] == "rate_limited"
    assert [(x["outcome"], x["code"]) for x in event_lines(log)] == [
        ("accepted", None), ("accepted", None), ("refused", "rate_limited")]


@requires_js
@pytest.mark.parametrize("kind", KINDS)
async def test_accepted_line_js_client(tmp_path: Path, kind: str) -> None:
    """The JS client's emitWithAck: one line with its socket id, ack true."""
    log = tmp_path / "siomw.log"
    async with event_server(log, kind=kind) as (url, _):
        obs = await js_client(url, auth={"name": "js"}, emit={"event": "echo", "args": [1]})
        [line] = await wait_for(log, lambda line: line["event"] == "event")
    connect = next(x for x in obs if x["event"] == "connect")
    assert next(x for x in obs if x["event"] == "ack")["args"] == [1]
    assert (line["name"], line["outcome"], line["ack"], line["sid"], line["user"]) == (
        "echo", "accepted", True, connect["id"], "js")


@requires_js
@pytest.mark.parametrize("kind", KINDS)
async def test_refused_line_js_client(tmp_path: Path, kind: str) -> None:
    """The JS client's refused emitWithAck gets the error shape; the line has the code."""
    log = tmp_path / "siomw.log"
    async with event_server(log, kind=kind) as (url, mw):
        mw.event.use(refuse_forbidden)
        obs = await js_client(url, emit={"event": "forbidden", "args": []})
        [line] = await wait_for(log, lambda line: line["event"] == "event")
    ack = next(x for x in obs if x["event"] == "ack")
    assert ack["args"] == {"error": {"message": "not for you",
                                     "data": {"code": "forbidden", "event": "forbidden"}}}
    assert (line["outcome"], line["code"], line["ack"]) == ("refused", "forbidden", True)


def test_events_off_contributes_no_event_member() -> None:
    """With ``events = false`` (the default) the plugin gives the event level nothing."""
    off = siomw_logging.siomw_middlewares(siomw_logging.LoggingOptions(), CoreSettings())
    assert [(m.name, m.level) for m in off] == [("logging", "connect"),
                                                ("logging-http", "engine")]
    on = siomw_logging.siomw_middlewares(siomw_logging.LoggingOptions(events=True),
                                         CoreSettings())
    [member] = [m for m in on if m.level == "event"]
    assert (member.name, member.priority, member.namespaces) == (
        "logging-events", 3000, None)


async def test_events_off_writes_no_event_line(tmp_path: Path) -> None:
    """Default options: events pass, no event line; the connect lines are still written."""
    log = tmp_path / "siomw.log"
    async with event_server(log, events=False) as (url, _):
        client = await connected(url)
        assert await client.call("echo", 1, timeout=5) == [1]
        await client.disconnect()
        await wait_for(log, lambda line: line["event"] == "disconnect")
    assert [x["event"] for x in read_lines(log)] == ["connect", "disconnect"]


async def test_every_namespace(tmp_path: Path) -> None:
    """The member runs in every namespace's event chain."""
    log = tmp_path / "siomw.log"
    async with event_server(log) as (url, mw):
        @mw.sio.on("ping", namespace="/chat")
        async def ping(sid: str) -> str:
            return "pong"

        outcome, _, client = await connect_result(url, namespace="/chat",
                                                  transports=["websocket"])
        assert outcome == "connect"
        assert await client.call("ping", namespace="/chat", timeout=5) == "pong"
        [line] = await wait_for(log, lambda line: line["event"] == "event")
        await client.disconnect()
    assert (line["name"], line["namespace"]) == ("ping", "/chat")


# --- sampling, names ---------------------------------------------------------------------

@pytest.mark.parametrize(("sample", "count"), [(0, 0), (1, 5), (0.0, 0), (1.0, 5)])
async def test_sample_0_and_1(tmp_path: Path, sample: float, count: int) -> None:
    """``event_sample = 0`` logs nothing, 1 logs every event (the handler runs anyway)."""
    log = tmp_path / "siomw.log"
    received: list[Any] = []
    async with event_server(log, received=received, event_sample=sample) as (url, _):
        client = await connected(url)
        for n in range(5):
            assert await client.call("echo", n, timeout=5) == [n]
        await client.disconnect()
        await wait_for(log, lambda line: line["event"] == "disconnect")
    assert len(received) == 5
    lines = event_lines(log)
    assert len(lines) == count
    assert all(line["sample"] == sample for line in lines)


class Draws:
    """A random source giving these values in turn, counting the draws."""

    def __init__(self, values: list[float]) -> None:
        self.values: Iterator[float] = itertools.cycle(values)
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return next(self.values)


async def test_sample_between_uses_the_draw(tmp_path: Path) -> None:
    """With 0 < sample < 1 an event is logged when the draw is below the rate: with the
    draws 0.1, 0.6, 0.3, 0.9 and a rate of 0.5, events 0 and 2 of every 4."""
    log = tmp_path / "siomw.log"
    output = siomw_logging.output.build_output(
        siomw_logging.LoggingOptions(file=str(log)))
    draws = Draws([0.1, 0.6, 0.3, 0.9])
    async with event_server(log, events=False) as (url, mw):
        mw.event.use(event_logger(output, sample=0.5, draw=draws, exclude=["quiet"]))
        client = await connected(url)
        for n in range(8):
            await client.call("echo", n, timeout=5)
        await client.call("quiet", timeout=5)  # excluded: no draw spent on it
        await client.disconnect()
        await wait_for(log, lambda line: line["event"] == "disconnect")
    assert [line["args"] if "args" in line else None for line in event_lines(log)] == [
        None] * 4
    assert draws.calls == 8
    assert len(event_lines(log)) == 4
    assert {line["sample"] for line in event_lines(log)} == {0.5}


async def test_sample_between_counts_with_a_seed(tmp_path: Path) -> None:
    """A seeded source: exactly the events whose draw is below the rate are logged."""
    import random

    log = tmp_path / "siomw.log"
    output = siomw_logging.output.build_output(
        siomw_logging.LoggingOptions(file=str(log)))
    seeded = random.Random(7)
    expected = [n for n in range(20) if seeded.random() < 0.3]
    assert 0 < len(expected) < 20
    async with event_server(log, events=False) as (url, mw):
        mw.event.use(event_logger(output, sample=0.3, draw=random.Random(7).random,
                                  args=siomw_logging.ArgsView()))
        client = await connected(url)
        for n in range(20):
            await client.call("echo", n, timeout=5)
        await client.disconnect()
        await wait_for(log, lambda line: line["event"] == "disconnect")
    assert [line["args"] for line in event_lines(log)] == [[n] for n in expected]


async def test_include_and_exclude(tmp_path: Path) -> None:
    """``event_include`` logs only the names listed; ``event_exclude`` never the ones listed."""
    log = tmp_path / "only.log"
    async with event_server(log, event_include=["echo"]) as (url, _):
        client = await connected(url)
        await client.call("quiet", timeout=5)
        await client.call("echo", timeout=5)
        await client.emit("other")  # unhandled: no ack comes back
        await client.call("echo", 2, timeout=5)
        await wait_for(log, lambda line: line["event"] == "event", count=2)
        await client.disconnect()
    assert [line["name"] for line in event_lines(log)] == ["echo", "echo"]

    log = tmp_path / "but.log"
    async with event_server(log, event_exclude=["quiet"]) as (url, _):
        client = await connected(url)
        await client.call("quiet", timeout=5)
        await client.call("echo", timeout=5)
        await client.emit("unhandled")
        await wait_for(log, lambda line: line["event"] == "event", count=2)
        await client.disconnect()
    assert [line["name"] for line in event_lines(log)] == ["echo", "unhandled"]


# --- concurrency ----------------------------------------------------------------------

async def test_two_concurrent_clients_keep_their_own_sid_and_user(tmp_path: Path) -> None:
    """Two clients whose events are inside the chain at the same time (each handler waits
    for the other client's event to arrive): every line has its own client's sid and user."""
    log = tmp_path / "siomw.log"
    rounds = 10
    async with event_server(log) as (url, mw):
        arrived: dict[int, list[str]] = {}
        both: dict[int, asyncio.Event] = {}

        @mw.sio.event
        async def meet(sid: str, n: int) -> int:
            arrived.setdefault(n, []).append(sid)
            gate = both.setdefault(n, asyncio.Event())
            if len(arrived[n]) == 2:
                gate.set()
            await asyncio.wait_for(gate.wait(), 5)
            return n

        alice, bob = await connected(url, "alice"), await connected(url, "bob")
        sids = {alice.get_sid("/"): "alice", bob.get_sid("/"): "bob"}
        for n in range(rounds):
            answers = await asyncio.gather(alice.call("meet", n, timeout=5),
                                           bob.call("meet", n, timeout=5))
            assert list(answers) == [n, n]
        await wait_for(log, lambda line: line["event"] == "event", count=2 * rounds)
        await alice.disconnect()
        await bob.disconnect()
    lines = event_lines(log)
    assert len(lines) == 2 * rounds
    assert all(sids[line["sid"]] == line["user"] for line in lines)
    assert sorted(line["user"] for line in lines) == ["alice"] * rounds + ["bob"] * rounds
    # the two events of a round overlapped: both were inside the chain for the wait
    assert all(len(sids_of_round) == 2 for sids_of_round in arrived.values())


# --- level filtering: no processor runs for a filtered-out line -----------------------

class Counting:
    """A structlog processor counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, logger: Any, method: str, event_dict: EventDict) -> EventDict:
        self.calls += 1
        return event_dict


def counting_output(target: Any, level: int, counter: Counting) -> Output:
    logger = structlog.wrap_logger(
        target, processors=[counter, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(level), context_class=dict)
    return Output(logger.bind(), None,
                  target if isinstance(target, logging.Logger) else None)


async def test_filtered_level_runs_no_processor(tmp_path: Path) -> None:
    """With the logger at warning, accepted events (info) run no processor at all; a
    refused one (warning) runs it once."""
    log = tmp_path / "siomw.log"
    counter = Counting()
    with (tmp_path / "out.log").open("w") as out:
        output = counting_output(structlog.WriteLogger(out), logging.WARNING, counter)
        async with event_server(log, events=False) as (url, mw):
            mw.event.use(event_logger(output, args=siomw_logging.ArgsView()), priority=3000)
            mw.event.use(refuse_forbidden)
            client = await connected(url)
            for n in range(5):
                assert await client.call("echo", n, timeout=5) == [n]
            assert counter.calls == 0
            await client.call("forbidden", timeout=5)
            await client.disconnect()
    assert counter.calls == 1
    [line] = [json.loads(raw) for raw in (tmp_path / "out.log").read_text().splitlines()]
    assert (line["name"], line["outcome"]) == ("forbidden", "refused")


async def test_filtered_by_the_stdlib_logger_runs_no_processor(tmp_path: Path) -> None:
    """``file = "logging"``: the stdlib logger's own level filters too, before any
    processor runs (the application may raise it at run time)."""
    log = tmp_path / "siomw.log"
    counter = Counting()
    stdlib = logging.getLogger("tests.logging.events.filtered")
    stdlib.setLevel(logging.ERROR)
    output = counting_output(stdlib, logging.INFO, counter)
    async with event_server(log, events=False) as (url, mw):
        mw.event.use(event_logger(output), priority=3000)
        mw.event.use(refuse_forbidden)
        client = await connected(url)
        await client.call("echo", timeout=5)
        await client.call("forbidden", timeout=5)
        assert counter.calls == 0
        stdlib.setLevel(logging.INFO)
        await client.call("echo", timeout=5)
        await client.disconnect()
    assert counter.calls == 1


async def test_level_warning_logs_refused_events_only(tmp_path: Path) -> None:
    """``level = "warning"`` through the plugin's own configuration: refusals only."""
    log = tmp_path / "siomw.log"
    async with event_server(log, level="warning") as (url, mw):
        mw.event.use(refuse_forbidden)
        client = await connected(url)
        await client.call("echo", timeout=5)
        await client.call("forbidden", timeout=5)
        await wait_for(log, lambda line: line["event"] == "event")
        await client.disconnect()
    assert [(x["name"], x["outcome"]) for x in read_lines(log)] == [("forbidden", "refused")]


async def test_connect_lines_filtered_by_the_stdlib_logger_run_no_processor(
        tmp_path: Path) -> None:
    """The same check for the connect and disconnect lines (``file = "logging"``)."""
    from siomw_logging.connect import connect_logger

    counter = Counting()
    stdlib = logging.getLogger("tests.logging.connect.filtered")
    stdlib.setLevel(logging.WARNING)
    output = counting_output(stdlib, logging.INFO, counter)
    async with event_server(tmp_path / "siomw.log", events=False) as (url, mw):
        mw.use(connect_logger(output.logger, enabled=output.enabled), name="counted",
               priority=4000)
        client = await connected(url)
        await client.disconnect()
        await asyncio.sleep(0.2)
        assert counter.calls == 0
        stdlib.setLevel(logging.INFO)
        client = await connected(url)
        await client.disconnect()
        for _ in range(100):
            if counter.calls == 2:
                break
            await asyncio.sleep(0.02)
    assert counter.calls == 2  # connect and disconnect


def test_plugin_wires_the_stdlib_check(tmp_path: Path) -> None:
    """With ``file = "logging"`` the plugin's output asks the stdlib logger's level."""
    stdlib = logging.getLogger("tests.logging.wired")
    stdlib.setLevel(logging.ERROR)
    output = siomw_logging.output.build_output(
        siomw_logging.LoggingOptions(file="logging", logger_name="tests.logging.wired"))
    assert output.stdlib is stdlib
    assert (output.enabled(logging.INFO), output.enabled(logging.WARNING)) == (False, False)
    stdlib.setLevel(logging.INFO)
    assert (output.enabled(logging.INFO), output.enabled(logging.WARNING)) == (True, True)
    file_output = siomw_logging.output.build_output(
        siomw_logging.LoggingOptions(file=str(tmp_path / "x.log"), level="warning"))
    assert (file_output.enabled(logging.INFO), file_output.enabled(logging.WARNING)) == (
        False, True)


async def test_client_gone_during_the_chain_is_abandoned(tmp_path: Path) -> None:
    """A client that leaves while an inner member holds its event: the handler does not
    run, the line is ``abandoned`` with the core's code ``client_gone``."""
    log = tmp_path / "siomw.log"
    received: list[Any] = []
    left = asyncio.Event()
    async with event_server(log, received=received) as (url, mw):
        @mw.event.use
        async def slow(event: Event, call_next: CallNext) -> None:
            await asyncio.wait_for(left.wait(), 5)
            await asyncio.sleep(0.1)  # python-socketio handles the disconnect meanwhile
            await call_next()

        @mw.sio.event
        async def disconnect(sid: str, reason: str) -> None:
            left.set()

        client = await connected(url)
        await client.emit("echo", 1)
        await asyncio.sleep(0.1)
        await client.disconnect()
        [line] = await wait_for(log, lambda line: line["event"] == "event")
    assert (line["outcome"], line["code"], line["level"]) == ("abandoned", "client_gone", "info")
    assert received == []


async def test_duration_includes_the_handler(tmp_path: Path) -> None:
    """``duration_ms`` covers the inner members and the handler."""
    log = tmp_path / "siomw.log"
    async with event_server(log) as (url, mw):
        @mw.sio.event
        async def slow(sid: str) -> str:
            await asyncio.sleep(0.2)
            return "done"

        client = await connected(url)
        assert await client.call("slow", timeout=5) == "done"
        [line] = await wait_for(log, lambda line: line["event"] == "event")
        await client.disconnect()
    assert 200 <= line["duration_ms"] < 5000


def test_options_from_the_environment(tmp_path: Path) -> None:
    """Every event key can be set with SIOMW_LOGGING__<KEY>; a bad value names its
    variable."""
    from siomw_core import ConfigError, attach, load_config

    (tmp_path / "none.toml").write_text('plugins = ["logging"]\n')

    environ = {"SIOMW_LOGGING__EVENTS": "true", "SIOMW_LOGGING__EVENT_SAMPLE": "0.25",
               "SIOMW_LOGGING__EVENT_INCLUDE": '["chat message"]',
               "SIOMW_LOGGING__EVENT_ARGS": "yes", "SIOMW_LOGGING__EVENT_ARG_MAX": "32",
               "SIOMW_LOGGING__EVENT_REDACT": '["otp"]'}
    config = load_config(tmp_path / "none.toml", environ=environ, check=False)
    mw = attach(socketio.AsyncServer(async_mode="asgi"), config=config, entry_points=False,
                local_plugins=[("logging", siomw_logging)])
    [record] = [r for r in mw.registry.plugins() if r.name == "logging"]
    options = record.options
    assert "logging-events" in [m.name for m in record.middlewares]
    assert (options.events, options.event_sample, options.event_include, options.event_args,
            options.event_arg_max, options.event_redact) == (
        True, 0.25, ["chat message"], True, 32, ["otp"])
    sio = socketio.AsyncServer(async_mode="asgi")
    bad = load_config(tmp_path / "none.toml", check=False,
                      environ={"SIOMW_LOGGING__EVENT_SAMPLE": "2"})
    with pytest.raises(ConfigError) as info:
        attach(sio, config=bad, entry_points=False,
               local_plugins=[("logging", siomw_logging)])
    assert "environment variable SIOMW_LOGGING__EVENT_SAMPLE" in str(info.value)
    assert "less than or equal to 1" in str(info.value)
