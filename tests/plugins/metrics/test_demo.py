"""The demo shows real numbers: ``siomw serve`` with no APP (the demo, every installed
plugin, metrics included), real clients, then what ``scripts/demo.sh`` prints after them
(:func:`siomw_core.demo.print_metrics`)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from siomw_core.demo import metrics_summary, print_metrics
from siomw_core.testing import assert_accepted, assert_refused
from siomw_core.testing.clients import connect

from .support import until

LISTENING = re.compile(r"siomw: listening on (http://\S+)")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The demo server as demo.sh starts it; yields (its URL, its jwt secret)."""
    secret = secrets.token_urlsafe(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIOMW_")}
    env["SIOMW_JWT_SECRET"] = secret
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "siomw_core.cli", "serve", "--host", "127.0.0.1",
             "--port", "0"], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        found = until(lambda: LISTENING.search(log.read_text()) or proc.poll() is not None,
                      timeout=60)
        assert proc.poll() is None, log.read_text()
        yield found.group(1), secret
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_demo_prints_real_numbers(demo: tuple[str, str],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    url, secret = demo
    now = int(time.time())
    token = jwt.encode({"sub": "alice", "iat": now, "exp": now + 600}, secret,
                       algorithm="HS256")
    assert_accepted(connect(url, auth={"token": token}))
    assert_refused(connect(url), code="invalid_request")
    assert_refused(connect(url, auth={"token": "nonsense"}), code="invalid_token")
    assert print_metrics(url) == 0
    printed = capsys.readouterr().out
    assert re.search(r"connect /\s+accepted\s+1\n", printed), printed
    assert re.search(r"connect /\s+refused invalid_request\s+1\n", printed), printed
    assert re.search(r"connect /\s+refused invalid_token\s+1\n", printed), printed
    assert re.search(r"connect\s+jwt\s+[\d.]+ ms over 3 runs", printed), printed
    assert "connected sockets (siomw_connected_sockets): / " in printed


def test_without_the_page_it_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert print_metrics("http://127.0.0.1:9") == 1  # nothing listens on the discard port
    assert "is siomw-metrics installed and enabled?" in capsys.readouterr().out


def test_the_summary_reads_the_text_format() -> None:
    text = (
        '# TYPE siomw_attempts counter\n'
        'siomw_attempts_total{level="event",namespace="/",outcome="refused",code="nope"} 4\n'
        '# TYPE siomw_connected_sockets gauge\n'
        'siomw_connected_sockets{namespace="/"} 2\n'
    )
    assert metrics_summary(text) == [
        "attempts (siomw_attempts_total):",
        "  event /          refused nope                     4",
        "connected sockets (siomw_connected_sockets): / 2",
    ]
