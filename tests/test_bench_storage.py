"""bench/storage_rate.py and bench/ratelimit_check.py run against the local Redis (tiny
counts: this checks that the benchmarks work and clean up after themselves, never how fast;
the figures come from running them by hand)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import redis

BENCH = Path(__file__).resolve().parent.parent / "bench"
REDIS_URL = "redis://127.0.0.1:6379"
MODES = ("memory", "redis", "redis-redispy")


def _rows(stdout: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in stdout.splitlines()
            if line.split() and line.split()[0] in MODES}


def _leftover(base: str) -> list[bytes]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return list(client.scan_iter(match=f"*{base}*"))
    finally:
        client.close()


def test_storage_rate_runs_and_deletes_its_keys() -> None:
    """One short round of the full chain on memory and on Redis (both clients): every
    connection accepted (the script raises on a refusal), a row each, one script call per
    connection on Redis, and none of the run's keys left behind."""
    base = f"siomw-test-bench-{uuid.uuid4().hex[:12]}"
    done = subprocess.run(
        [sys.executable, str(BENCH / "storage_rate.py"), "--seconds", "0.2", "--warmup", "0.1",
         "--rounds", "1", "--concurrency", "2", "--addresses", "3", "--redis", REDIS_URL,
         "--key-prefix", base],
        cwd=BENCH, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = _rows(done.stdout)
    assert set(rows) == set(MODES), done.stdout
    assert all(float(row[0]) > 0 for row in rows.values()), done.stdout
    assert float(rows["redis"][5]) >= 1.0, done.stdout  # scripts/conn: Redis was used
    assert "Redis keys of this run deleted:" in done.stdout
    assert _leftover(base) == []


def test_ratelimit_check_runs_and_deletes_its_keys() -> None:
    """A few checks on each storage: a row each with p50 <= p99, no key left behind."""
    base = f"siomw-test-bench-check-{uuid.uuid4().hex[:12]}"
    done = subprocess.run(
        [sys.executable, str(BENCH / "ratelimit_check.py"), "--iterations", "50",
         "--warmup", "5", "--rounds", "1", "--redis", REDIS_URL, "--key-prefix", base],
        cwd=BENCH, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = _rows(done.stdout)
    assert set(rows) == set(MODES), done.stdout
    assert all(0 < float(row[0]) <= float(row[1]) for row in rows.values()), done.stdout
    assert _leftover(base) == []


def test_unknown_mode_is_refused_in_one_line() -> None:
    """bench/storage_server.py names a bad mode rather than serving something else."""
    done = subprocess.run([sys.executable, str(BENCH / "storage_server.py"), "disk", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith("bench/storage_server.py: unknown mode")
