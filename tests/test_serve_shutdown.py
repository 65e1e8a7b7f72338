"""``siomw serve`` stops within its grace period (serving.GRACEFUL_TIMEOUT) on SIGTERM, on
every server it runs, even with a long-poll open (python-engineio answers one only at its next
ping, 25 s later; uvicorn would wait for it for ever, aiohttp 60 s)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from siomw_core.serving import GRACEFUL_TIMEOUT
from tests.test_serve import siomw_serve

ROOT = Path(__file__).resolve().parent.parent
APPS = "tests.serve_apps"


@pytest.mark.parametrize(("app", "mode"), [
    pytest.param("docs.examples.connect_registering:app", "", id="uvicorn"),
    pytest.param(f"{APPS}.aiohttp_bare:app", "", id="aiohttp"),
    pytest.param(f"{APPS}.wsgi_bare:app", "threading", id="gunicorn-threads"),
])
async def test_sigterm_with_a_long_poll_open_stops_within_the_grace(app: str,
                                                                    mode: str) -> None:
    async with siomw_serve(app, cwd=ROOT, SERVE_MODE=mode or "threading") as served, \
            aiohttp.ClientSession() as http:
        async with http.get(served.url + "/socket.io/?EIO=4&transport=polling") as opened:
            body = await opened.text()
        sid = body[body.index('"sid":"') + 7:].split('"')[0]
        poll = asyncio.create_task(http.get(
            served.url + f"/socket.io/?EIO=4&transport=polling&sid={sid}"))
        await asyncio.sleep(0.5)  # the long-poll is held by the server
        started = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(served.proc.wait(), GRACEFUL_TIMEOUT + 10)
        took = time.monotonic() - started
        poll.cancel()
    assert took < GRACEFUL_TIMEOUT + 5
