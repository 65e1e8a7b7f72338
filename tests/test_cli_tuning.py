"""``siomw serve``'s speed flags (``--gc-freeze``, ``--gc-threshold``,
``--ws-per-message-deflate``, docs/cli.md): each one reaches the served process, and a flag
wins over its environment variable."""

from __future__ import annotations

import gc
from pathlib import Path

from tests.test_serve import siomw_serve
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
