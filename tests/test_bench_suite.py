"""bench/suite.py runs end to end with tiny counts (``--quick``: this checks that the suite
produces its table, JSON, chart and profile and publishes them, never how fast; the figures
come from running it by hand on a quiet machine)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PNG = b"\x89PNG\r\n\x1a\n"


def test_quick_suite_writes_table_json_chart_profile_and_page(tmp_path: Path) -> None:
    """One group of each shape (a ratio group, Node's, the in-process no-op costs, memory,
    the py-spy profile) on the asgi kind: a row each with a measured figure, the markdown
    table, the JSON, a PNG, the profile's summary, and --publish rewriting a copy of the
    docs page between its markers with the chart copied beside it."""
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(ROOT / "docs" / "performance.md", docs / "performance.md")
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, str(BENCH / "suite.py"), "--quick", "--kinds", "asgi",
         "--only", "connect-asgi,node,noop,memory,profile", "--out", str(out),
         "--publish", "--docs", str(docs)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads((out / "suite.json").read_text())
    rows = {row["id"]: row for row in result["rows"]}
    assert {"connect-asgi", "node-connect", "node-connect-hot", "noop-connect", "noop-engine",
            "noop-event", "memory-asgi"} <= set(rows), sorted(rows)
    assert rows["connect-asgi"]["ratio"] > 0 and rows["connect-asgi"]["goal"] == 0.90
    assert isinstance(rows["connect-asgi"]["pass"], bool)
    node_installed = (BENCH / "node" / "node_modules" / "socket.io").is_dir()
    if node_installed and shutil.which("node"):
        assert rows["node-connect"]["ratio"] > 0, rows["node-connect"]
    else:  # said, not skipped silently
        assert "npm ci" in rows["node-connect"]["note"] or "node" in rows["node-connect"]["note"]
    assert rows["memory-asgi"]["per_socket"][1] > 0  # bare's bytes per socket, traced
    assert all(rows[f"noop-{level}"]["unit"] == "us" for level in ("connect", "engine", "event"))
    assert result["machine"]["cores"] and result["machine"]["python"]
    assert result["command"].startswith(".venv/bin/python ") and "--quick" in result["command"]

    table = (out / "suite.md").read_text()
    assert "| target | kind | side | goal | measured | result |" in table
    assert "connect, full chain, many client addresses | asgi | siomw | ≥ 0.90 |" in table
    assert (out / "ratios.png").read_bytes().startswith(PNG)
    profile = result["profile"]
    assert profile.get("error") or profile["samples"] > 0, profile
    if not profile.get("error"):
        assert (out / "profile-full.txt").stat().st_size > 0
        assert "| component | own time |" in table

    page = (docs / "performance.md").read_text()
    assert "No results published yet" not in page
    assert "tiny counts" in page and "![The ratios of this run](img/bench-ratios.png)" in page
    assert page.count("<!-- bench/suite.py:begin -->") == 1
    assert (docs / "img" / "bench-ratios.png").read_bytes().startswith(PNG)


def test_unknown_kind_is_refused_in_one_line() -> None:
    """--kinds names a bad kind rather than measuring something else."""
    done = subprocess.run([sys.executable, str(BENCH / "suite.py"), "--quick", "--kinds",
                           "tornado"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        "bench/suite.py: --kinds: unknown kind 'tornado' (asgi, wsgi)")


def test_profile_summary_charges_the_standard_library_to_its_caller(tmp_path: Path) -> None:
    """py-spy's raw lines: the event loop's select is idle (left out of the shares), own time
    is the innermost frame, and hmac's time is charged to PyJWT, which called it."""
    sys.path.insert(0, str(BENCH))
    try:
        import pyspy_profile
    finally:
        sys.path.remove(str(BENCH))
    raw = tmp_path / "raw.txt"
    raw.write_text(
        "<module> (server.py:1);run_forever (asyncio/base_events.py:607);"
        "EpollSelector.select (selectors.py:468) 50\n"
        "<module> (server.py:1);_step (siomw_core/chain.py:268);"
        "build_middleware.<locals>.jwt_middleware (siomw_jwt/middleware.py:159);"
        "PyJWS._verify_signature (jwt/api_jws.py:445);HMAC.__init__ (hmac.py:60) 30\n"
        "<module> (server.py:1);_step (siomw_core/chain.py:268) 20\n")
    summary = pyspy_profile.summarise(raw)
    assert summary["samples"] == 100 and summary["idle"] == 0.5
    shares = {name: (own, charged) for name, own, charged in summary["components"]}
    assert shares["standard library (other)"] == (0.6, 0.0)
    assert shares["PyJWT"] == (0.0, 0.6)
    assert shares["siomw core"] == (0.4, 0.4)
    assert summary["functions"][0] == ["HMAC.__init__", "hmac.py", 0.6]
