"""A startup error is one line and ends the server, under the servers siomw does not run
itself: uvicorn (covered by the serve tests) and plain gunicorn, where a worker that exits
with a ``SystemExit`` is booted again for ever (errors.exiting)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from siomw_core.errors import ConfigError, exiting

GUNICORN = Path(sys.executable).with_name("gunicorn")

APP = """
import socketio, siomw_core
sio = socketio.Server(async_mode="threading")
mw = siomw_core.attach(sio, plugins=[], connect_timeout="lots")
app = socketio.WSGIApp(sio)
"""


def test_exiting_outside_gunicorn_is_a_system_exit_with_the_line() -> None:
    error = exiting(ConfigError("connect_timeout: bad"))
    assert isinstance(error, ConfigError) and isinstance(error, SystemExit)
    assert error.code == "siomw: connect_timeout: bad"


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn is not installed beside python")
@pytest.mark.parametrize("worker", [["--threads", "4"], ["-k", "gevent"]])
def test_config_error_under_plain_gunicorn_stops_it_with_one_line(
        tmp_path: Path, worker: list[str]) -> None:
    """``gunicorn app:app`` with a bad config: the worker prints siomw's one line, gunicorn
    stops ("App failed to load", status 4) instead of booting workers in a loop."""
    (tmp_path / "app.py").write_text(APP)
    done = subprocess.run(
        [str(GUNICORN), "-w", "1", *worker, "-b", "127.0.0.1:0", "app:app"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 4, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("siomw:")]
    assert len(lines) == 1
    assert lines[0].startswith("siomw: code (attach / Siomw keyword): connect_timeout: ")
    assert done.stderr.count("Booting worker") == 1
    assert "Traceback" not in done.stderr
