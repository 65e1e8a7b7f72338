"""The examples of docs/plugins/logging.md run and do what the page says."""

from __future__ import annotations

import asyncio
import json
import logging
import runpy
import tomllib
from pathlib import Path

import pytest
import siomw_logging

from siomw_core.testing import connect_result, serve
from tests.conftest import requires_js
from tests.jsclient import js_outcome

from .support import read_lines, wait_for

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"


def test_example_toml_is_the_defaults() -> None:
    """logging_siomw.toml spells out every key with its embedded default."""
    table = tomllib.loads((EXAMPLES / "logging_siomw.toml").read_text())["logging"]
    assert table == siomw_logging.LoggingOptions().model_dump()


async def test_example_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """logging_app.py logs accepted (with the user), refused (with the code) and disconnect."""
    log = tmp_path / "siomw.log"
    monkeypatch.setenv("SIOMW_LOGGING__FILE", str(log))
    app = runpy.run_path(str(EXAMPLES / "logging_app.py"))["app"]
    async with serve(app) as url:
        outcome, _, client = await connect_result(url, auth={"name": "ada"},
                                                  transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        await wait_for(log, lambda line: line["event"] == "disconnect")
        outcome, data, _ = await connect_result(url, transports=["websocket"])
        assert data == {"message": "who are you?", "data": {"code": "invalid_request"}}
        await wait_for(log, lambda line: line.get("outcome") == "refused")
        await wait_for(log, lambda line: line["event"] == "http", count=2)
    lines = read_lines(log)
    attempts = [x for x in lines if x["event"] != "http"]
    assert [(x["event"], x.get("outcome"), x["user"]) for x in attempts] == [
        ("connect", "accepted", "ada"), ("disconnect", None, "ada"),
        ("connect", "refused", None)]
    assert attempts[2]["code"] == "invalid_request"
    # it serves mw.asgi_app(), so the engine chain runs: one access line per WebSocket
    http = [(x["method"], x["transport"], x["handshake"], x["status"])
            for x in lines if x["event"] == "http"]
    assert http == [("GET", "websocket", True, 101)] * 2


async def test_example_stdlib(caplog: pytest.LogCaptureFixture) -> None:
    """logging_stdlib.py routes lines to the stdlib logger "myapp.socketio"."""
    caplog.set_level(logging.INFO, logger="myapp.socketio")
    app = runpy.run_path(str(EXAMPLES / "logging_stdlib.py"))["app"]
    async with serve(app) as url:
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        for _ in range(250):
            if len([r for r in caplog.records if r.name == "myapp.socketio"]) == 3:
                break
            await asyncio.sleep(0.02)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "myapp.socketio"]
    # the engine chain runs too (mw.asgi_app()): the WebSocket's access line, at its 101
    assert [x["event"] for x in lines] == ["http", "connect", "disconnect"]


async def test_sample_lines_match_real_ones(tmp_path: Path) -> None:
    """The sample lines shown on the page have the keys, in order, of real lines."""
    samples = [json.loads(raw) for raw in
               (EXAMPLES / "logging_lines.jsonl").read_text().splitlines() if raw]
    log = tmp_path / "siomw.log"
    from .support import logged_server

    async def refuse_guests(socket: object, call_next: object) -> None:
        from siomw_core import Refusal

        raise Refusal("Invalid token", {"code": "invalid_token"})

    async with logged_server(log) as (url, mw):
        mw.of("/admin").use(refuse_guests)
        outcome, _, client = await connect_result(url, transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        await wait_for(log, lambda line: line["event"] == "disconnect")
        await connect_result(url, namespace="/admin", transports=["websocket"])
        await wait_for(log, lambda line: line.get("outcome") == "refused")
    real = {(x["event"], x.get("outcome")): list(x) for x in read_lines(log)}
    assert len(samples) == 3
    for sample in samples:
        assert list(sample) == real[(sample["event"], sample.get("outcome"))]


def test_example_http_toml_is_valid() -> None:
    """logging_http.toml is a valid [logging] table."""
    table = tomllib.loads((EXAMPLES / "logging_http.toml").read_text())["logging"]
    options = siomw_logging.LoggingOptions(**table)
    assert (options.access_log, options.redact_params) == (True, ["tenant"])


@pytest.mark.parametrize("client", ["python", pytest.param("js", marks=requires_js)])
async def test_example_http_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: str
) -> None:
    """logging_http.py logs each engine request; the refused handshake with 401 and its
    code; the API key and the tenant never appear."""
    log = tmp_path / "siomw.log"
    monkeypatch.setenv("SIOMW_LOGGING__FILE", str(log))
    app = runpy.run_path(str(EXAMPLES / "logging_http.py"))["app"]
    async with serve(app) as url:
        good, bad = f"{url}/?key=demo-key-1&tenant=acme", f"{url}/?key=guess"
        if client == "python":
            outcome, _, sio_client = await connect_result(good, transports=["websocket"])
            assert outcome == "connect"
            await sio_client.disconnect()
            outcome, data, _ = await connect_result(bad, transports=["polling"])
            assert data == {"message": "unknown API key", "data": {"code": "invalid_token"}}
        else:
            assert (await js_outcome(good))["event"] == "connect"
            obs = await js_outcome(bad, transports=["polling"])
            assert (obs["message"], obs["description"]) == ("xhr poll error", 401)
        await wait_for(log, lambda line: line.get("status") == 401)
    lines = [x for x in read_lines(log) if x["event"] == "http"]
    accepted, refused = lines[:-1], lines[-1]
    assert all(x["query"] == {"key": "[redacted]", "tenant": "[redacted]"} for x in accepted)
    assert [x["status"] for x in accepted if x["upgrade"]] == [101]
    assert (refused["status"], refused["code"], refused["level"]) == (
        401, "invalid_token", "warning")
    text = log.read_text()
    assert "demo-key-1" not in text and "acme" not in text and "guess" not in text


async def test_http_sample_lines_match_real_ones(tmp_path: Path) -> None:
    """The sample http lines shown on the page have the keys, in order, of real lines."""
    samples = [json.loads(raw) for raw in
               (EXAMPLES / "logging_http_lines.jsonl").read_text().splitlines() if raw]
    from .support import engine_server

    log = tmp_path / "siomw.log"
    async with engine_server(log) as (url, _):
        outcome, _, client = await connect_result(f"{url}/?key=k", transports=["websocket"])
        assert outcome == "connect"
        await client.disconnect()
        [real] = await wait_for(log, lambda line: line["event"] == "http")
    assert len(samples) == 4
    for sample in samples:
        assert list(sample) == list(real)
