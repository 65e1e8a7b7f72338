"""bench/instructions.py: its reading of callgrind's output, and its refusal of a run
without bare (running it for real takes minutes under valgrind: the figures in the docs
come from running it by hand)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

from instructions import total_instructions  # noqa: E402


def test_total_instructions_reads_the_summary_line(tmp_path: Path) -> None:
    dump = tmp_path / "callgrind.out.1"
    dump.write_text("# callgrind format\nversion: 1\nevents: Ir\nsummary: 123456789\n"
                    "fn=(1) main\n0 5\n")
    assert total_instructions(dump) == 123456789
    totals = tmp_path / "callgrind.out.2"
    totals.write_text("events: Ir\ntotals: 42\n")
    assert total_instructions(totals) == 42


def test_a_file_without_a_count_is_named(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("nothing here\n")
    with pytest.raises(ValueError, match=r"notes.txt: no summary or totals line"):
        total_instructions(other)


def test_modes_without_bare_are_refused_in_one_line() -> None:
    done = subprocess.run([sys.executable, str(BENCH / "instructions.py"), "--modes", "full"],
                          capture_output=True, text=True, timeout=60, cwd=BENCH)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith(
        "--modes must include bare (the ratios are against it)")
