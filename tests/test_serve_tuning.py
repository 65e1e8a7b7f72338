"""siomw serve's speed settings (siomw_core.serve_tuning): the defaults, each variable's
switch, a bad value's one line, and what a served process really runs with."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
import socketio
import websockets

from siomw_core.serve_tuning import GC_THRESHOLD_MAX, Tuning, TuningError, tuning
from siomw_core.testing import close_client
from tests.test_serve import BIN, serve_output, siomw_serve

APP = '''
import gc
import socketio

sio = socketio.AsyncServer(async_mode="asgi")


@sio.event
async def tuned(sid, data=None):
    return {"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()[0]}
'''


def test_defaults() -> None:
    assert tuning({}) == Tuning(gc_freeze=True, gc_threshold=10_000,
                                ws_per_message_deflate=False)


def test_each_variable_switches_its_setting() -> None:
    assert tuning({"SIOMW_GC_FREEZE": "0"}).gc_freeze is False
    assert tuning({"SIOMW_GC_FREEZE": "true"}).gc_freeze is True
    assert tuning({"SIOMW_GC_THRESHOLD": "0"}).gc_threshold is None
    assert tuning({"SIOMW_GC_THRESHOLD": "50000"}).gc_threshold == 50_000
    assert tuning({"SIOMW_WS_PER_MESSAGE_DEFLATE": "1"}).ws_per_message_deflate is True
    assert tuning({"SIOMW_WS_PER_MESSAGE_DEFLATE": " Off "}).ws_per_message_deflate is False


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("SIOMW_GC_FREEZE", "maybe", "SIOMW_GC_FREEZE: expected 1 or 0 (true/false); found 'maybe'"),
    ("SIOMW_GC_THRESHOLD", "-5", "SIOMW_GC_THRESHOLD: expected a whole number from 0 to "
     "2147483647"),
    # gc.set_threshold's C int: one more would be an OverflowError in the served process
    ("SIOMW_GC_THRESHOLD", "2147483648", "SIOMW_GC_THRESHOLD: expected a whole number from 0 "
     "to 2147483647 (0: the interpreter's threshold); found '2147483648'"),
    ("SIOMW_WS_PER_MESSAGE_DEFLATE", "2", "SIOMW_WS_PER_MESSAGE_DEFLATE: expected 1 or 0"),
])
def test_a_bad_value_names_its_variable(name: str, value: str, expected: str) -> None:
    with pytest.raises(TuningError) as caught:
        tuning({name: value})
    assert str(caught.value).startswith(expected)


def test_the_bound_is_the_largest_threshold_gc_takes() -> None:
    before = gc.get_threshold()
    try:
        assert tuning({"SIOMW_GC_THRESHOLD": str(GC_THRESHOLD_MAX)}).gc_threshold == \
            GC_THRESHOLD_MAX
        Tuning(gc_threshold=GC_THRESHOLD_MAX).at_start()
        with pytest.raises(OverflowError):
            gc.set_threshold(GC_THRESHOLD_MAX + 1)
    finally:
        gc.set_threshold(*before)


def test_at_start_and_after_startup_apply_them() -> None:
    before = gc.get_threshold()
    try:
        Tuning(gc_threshold=12_345).at_start()
        assert gc.get_threshold() == (12_345, *before[1:])
        Tuning(gc_freeze=True).after_startup()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    Tuning(gc_freeze=False, gc_threshold=None).at_start()
    Tuning(gc_freeze=False, gc_threshold=None).after_startup()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


async def _served_state(url: str) -> dict[str, int]:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, transports=["websocket"], wait_timeout=10)
    try:
        state: dict[str, int] = await client.call("tuned", timeout=10)
    finally:
        await close_client(client)
    return state


async def _deflate_offered_and_taken(url: str) -> bool:
    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with websockets.connect(ws_url, compression="deflate") as ws:
        assert ws.response is not None
        return "permessage-deflate" in (ws.response.headers.get("Sec-WebSocket-Extensions")
                                        or "")


async def test_siomw_serve_runs_with_them(tmp_path: Path) -> None:
    (tmp_path / "tunedapp.py").write_text(APP)
    async with siomw_serve("tunedapp:sio", cwd=tmp_path, SIOMW_PLUGINS="") as served:
        state = await _served_state(served.url)
        assert state["frozen"] > 10_000  # the imports and the stack
        assert state["threshold"] == 10_000
        assert not await _deflate_offered_and_taken(served.url)


async def test_siomw_serve_switched_back_to_the_interpreters(tmp_path: Path) -> None:
    (tmp_path / "tunedapp.py").write_text(APP)
    async with siomw_serve("tunedapp:sio", cwd=tmp_path, SIOMW_PLUGINS="", SIOMW_GC_FREEZE="0",
                           SIOMW_GC_THRESHOLD="0", SIOMW_WS_PER_MESSAGE_DEFLATE="1") as served:
        state = await _served_state(served.url)
        assert state == {"frozen": 0, "threshold": gc.get_threshold()[0]}
        assert await _deflate_offered_and_taken(served.url)


async def test_a_bad_value_stops_siomw_serve_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "tunedapp.py").write_text(APP)
    status, err = await serve_output(str(BIN / "siomw"), "serve", "--port", "0", "tunedapp:sio",
                                     cwd=tmp_path, SIOMW_PLUGINS="", SIOMW_GC_THRESHOLD="lots")
    assert status != 0
    assert ("Error: SIOMW_GC_THRESHOLD: expected a whole number from 0 to 2147483647 (0: the "
            "interpreter's threshold); found 'lots'") in err
    assert "Traceback" not in err, err


ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("app", "mode"), [
    ("tunedapp:sio", ""),
    ("tests.serve_apps.aiohttp_bare:app", ""),
    ("tests.serve_apps.wsgi_bare:app", "threading"),
])
async def test_a_threshold_too_large_stops_every_server_before_it_listens(
        tmp_path: Path, app: str, mode: str) -> None:
    """Not an OverflowError traceback (uvicorn, aiohttp) nor a worker failing to boot after
    ``listening on`` (gunicorn): one line naming the variable, nothing listening."""
    (tmp_path / "tunedapp.py").write_text(APP)
    status, err = await serve_output(str(BIN / "siomw"), "serve", "--port", "0", app,
                                     cwd=tmp_path, SIOMW_PLUGINS="", SERVE_MODE=mode,
                                     PYTHONPATH=str(ROOT), SIOMW_GC_THRESHOLD="3000000000")
    assert status == 1, err
    assert err.splitlines()[-1] == (
        "Error: SIOMW_GC_THRESHOLD: expected a whole number from 0 to 2147483647 (0: the "
        "interpreter's threshold); found '3000000000'"), err
    assert "Traceback" not in err and "listening on" not in err, err
