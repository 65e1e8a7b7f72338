"""``siomw serve``'s speed flags (``--gc-freeze``, ``--gc-threshold``,
``--ws-per-message-deflate``, docs/cli.md): each one reaches the served process, and a flag
wins over its environment variable."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from tests.test_serve import BIN, serve_output, siomw_serve
from tests.test_serve_tuning import APP, _deflate_offered_and_taken, _served_state


async def test_flags_switch_each_setting_back(tmp_path: Path) -> None:
    (tmp_path / "tunedapp.py").write_text(APP)
    async with siomw_serve("tunedapp:sio", "--no-gc-freeze", "--gc-threshold", "0",
                           "--ws-per-message-deflate", "true", cwd=tmp_path,
                           SIOMW_PLUGINS="") as served:
        state = await _served_state(served.url)
        assert state == {"frozen": 0, "threshold": gc.get_threshold()[0]}
        assert await _deflate_offered_and_taken(served.url)


async def test_a_flag_wins_over_its_variable(tmp_path: Path) -> None:
    (tmp_path / "tunedapp.py").write_text(APP)
    async with siomw_serve("tunedapp:sio", "--gc-freeze", "--gc-threshold", "25000",
                           "--ws-per-message-deflate", "false", cwd=tmp_path,
                           SIOMW_PLUGINS="", SIOMW_GC_FREEZE="0", SIOMW_GC_THRESHOLD="0",
                           SIOMW_WS_PER_MESSAGE_DEFLATE="1") as served:
        state = await _served_state(served.url)
        assert state["frozen"] > 10_000 and state["threshold"] == 25_000
        assert not await _deflate_offered_and_taken(served.url)


async def test_a_threshold_too_large_is_a_usage_error(tmp_path: Path) -> None:
    """click's one line naming the option and the C int range gc.set_threshold takes."""
    (tmp_path / "tunedapp.py").write_text(APP)
    status, err = await serve_output(str(BIN / "siomw"), "serve", "--port", "0",
                                     "--gc-threshold", "3000000000", "tunedapp:sio",
                                     cwd=tmp_path, SIOMW_PLUGINS="")
    assert status == 2, err
    assert err.splitlines()[-1] == ("Error: Invalid value for '--gc-threshold': 3000000000 is "
                                    "not in the range 0<=x<=2147483647."), err
    assert "Traceback" not in err and "listening on" not in err, err


ROOT = Path(__file__).resolve().parent.parent
APPS = "tests.serve_apps"


@pytest.mark.parametrize(("app", "mode", "server", "driver"), [
    (f"{APPS}.aiohttp_bare:app", "", "aiohttp's runner", ""),
    (f"{APPS}.wsgi_bare:app", "threading", "gunicorn (gthread)", ", simple-websocket"),
    (f"{APPS}.wsgi_bare:app", "gevent", "gunicorn (gevent)", ", simple-websocket"),
])
@pytest.mark.parametrize("value", ["true", "false"])
async def test_deflate_is_refused_on_servers_that_cannot_switch_it(
        app: str, mode: str, server: str, driver: str, value: str) -> None:
    """Never silently ignored (docs/serving.md): one line naming the option and the
    server, status 2, as --threads under uvicorn; either value, since none of them can
    switch the extension (each takes it when offered: test_deflate_variable_warns)."""
    status, err = await serve_output(str(BIN / "siomw"), "serve", "--port", "0",
                                     "--ws-per-message-deflate", value, app, cwd=ROOT,
                                     SIOMW_PLUGINS="", SERVE_MODE=mode)
    assert (status, err) == (2, (
        f"Error: --ws-per-message-deflate: {server} cannot honour it: its WebSocket "
        f"(python-engineio's driver{driver}) always takes per-message deflate when the "
        "client offers it and cannot switch it off; only uvicorn's can\n"))


@pytest.mark.parametrize(("app", "mode", "server"), [
    (f"{APPS}.aiohttp_bare:app", "", "aiohttp's runner"),
    (f"{APPS}.wsgi_bare:app", "threading", "gunicorn (gthread)"),
])
async def test_deflate_variable_warns_and_serves(app: str, mode: str, server: str) -> None:
    """The variable (an environment shared with a uvicorn deployment) is one warning at
    startup, and the server serves, taking the extension as it always does."""
    async with siomw_serve(app, cwd=ROOT, SIOMW_PLUGINS="", SERVE_MODE=mode,
                           SIOMW_WS_PER_MESSAGE_DEFLATE="0") as served:
        assert await _deflate_offered_and_taken(served.url)
        warning = [line for line in served.lines if "SIOMW_WS_PER_MESSAGE_DEFLATE" in line]
        assert warning == [f"WARNING siomw: SIOMW_WS_PER_MESSAGE_DEFLATE=0 has no effect under "
                           f"{server}: its WebSocket (python-engineio's driver"
                           f"{', simple-websocket' if mode else ''}) always takes "
                           "per-message deflate when the client offers it and cannot switch "
                           "it off; only uvicorn's can"], served.lines
