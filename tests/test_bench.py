"""bench/connect_rate.py runs on every server kind (tiny counts: this checks that the benchmark
works, bare and through siomw's full chain, never how fast; the figures come from running it
by hand)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
MODES = ("bare", "noop1", "full", "full-noaccess")


@pytest.mark.parametrize("kind", ["asgi", "aiohttp", "wsgi", "gevent"])
def test_connect_rate_runs_on_every_kind(kind: str) -> None:
    """One short round of bare, one no-op member and the full chain (logging + jwt +
    ratelimit): every connection accepted (the script raises on a refusal), a table row each."""
    done = subprocess.run(
        [sys.executable, str(BENCH / "connect_rate.py"), "--kind", kind, "--seconds", "0.2",
         "--warmup", "0.1", "--rounds", "1", "--concurrency", "2", "--addresses", "3",
         "--modes", ",".join(MODES)],
        cwd=BENCH, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines()
            if line.split() and line.split()[0] in MODES}
    assert set(rows) == set(MODES), done.stdout
    assert all(float(row[0]) > 0 for row in rows.values()), done.stdout
    assert f"kind {kind};" in done.stdout and "6 client addresses" in done.stdout


def test_unknown_kind_is_refused_in_one_line() -> None:
    """bench/server.py names a bad kind rather than serving something else."""
    done = subprocess.run([sys.executable, str(BENCH / "server.py"), "bare", "0", "tornado"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith("bench/server.py: unknown kind")


def test_memory_top_block_of_the_performance_page_runs_as_written() -> None:
    """docs/performance.md's ``memory_rate.py --top`` block, run as written from the
    repository's root: both modes' tables, then bare's source lines and full's beyond
    bare's, in bytes per socket, siomw's own files among full's."""
    from tests.test_docs import REPO, code_blocks

    [block] = code_blocks("docs/performance.md", "Where the memory goes, and instruction "
                          "counts", "bash")
    command = block.strip().replace(".venv/bin/python", sys.executable, 1)
    done = subprocess.run(command, shell=True, cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "kind asgi; 500 sockets held" in out
    assert "bare: bytes per socket by source line" in out
    full = out.split("full: bytes per socket by source line, beyond bare's on that line",
                     1)[1].strip().splitlines()
    assert len(full) == 10
    assert all(float(line.split()[0]) != 0 for line in full)
    assert any("siomw_core" in line or "plugins/siomw-" in line for line in full), full


def test_memory_and_instructions_refuse_bad_arguments_in_one_line() -> None:
    """Counts below one, a negative --top and an unknown mode are refused before any server
    starts (exit status 2, argparse's one line)."""
    cases = [("memory_rate.py", "--sockets", "0"), ("memory_rate.py", "--top", "-1"),
             ("memory_rate.py", "--modes", "bare,bogus"),
             ("instructions.py", "--connections", "0"),
             ("instructions.py", "--modes", "bare,nonsense")]
    for script, *args in cases:
        done = subprocess.run([sys.executable, str(BENCH / script), *args], cwd=BENCH,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, (script, args, done.stderr)
        assert done.stderr.strip().splitlines()[-1].startswith(
            f"{script}: error: "), done.stderr
