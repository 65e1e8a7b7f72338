"""Connections per second through siomw's connect chain against bare python-socketio.

Usage: python bench/connect_rate.py [--seconds 5] [--concurrency 50] [--rounds 2]

Each mode's server runs in its own process pinned to one core; the load comes from this
process (pinned to the other core when there are two) over loopback: WebSocket-only Engine.IO
handshakes, then a Socket.IO CONNECT with a token, then close; 50 at a time, from many
client addresses of 127.0.0.0/8 (so the IP-keyed rate limit keeps per-client windows, as in
production, instead of one window holding every hit). Modes alternate
in rounds so that drift affects both alike. Reported: connections per second, server CPU
microseconds per connection (from /proc), and each mode's ratio against bare in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import jwt
import websockets

HERE = Path(__file__).resolve().parent
SECRET = "bench-secret-of-at-least-thirty-two-bytes!"
CLK = os.sysconf("SC_CLK_TCK")
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


async def one_connection(url: str, auth: str, source: str) -> bool:
    async with websockets.connect(url, compression=None, local_addr=(source, 0)) as ws:
        opened = await ws.recv()
        assert str(opened).startswith("0")
        await ws.send("40" + auth)
        while True:
            msg = str(await ws.recv())
            if msg.startswith("40"):
                return True
            if msg.startswith("44"):
                return False


async def load(port: int, seconds: float, concurrency: int) -> tuple[int, int]:
    url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    token = jwt.encode({"sub": "bench", "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")
    auth = json.dumps({"token": token})
    done = refused = 0
    deadline = time.monotonic() + seconds

    async def worker(n: int) -> None:
        nonlocal done, refused
        i = 0
        while time.monotonic() < deadline:
            # many client addresses (all loopback), as many clients would have
            source = f"127.0.{n}.{2 + i % 250}"
            i += 1
            if await one_connection(url, auth, source):
                done += 1
            else:
                refused += 1

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return done, refused


def start(mode: str, port: int, script: str = "server.py") -> subprocess.Popen[bytes]:
    """Start ``bench/<script> MODE PORT`` pinned to core 0; return once it listens."""
    env = {**os.environ, "SIOMW_JWT_SECRET": SECRET}
    cmd = [sys.executable, str(HERE / script), mode, str(port)]
    if os.cpu_count() and os.cpu_count() >= 2:  # type: ignore[operator]
        cmd = ["taskset", "-c", "0", *cmd]
    proc = subprocess.Popen(cmd, env=env)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{mode} server did not start")


def timed(mode: str, run: Callable[[int, float], T], seconds: float,
          script: str = "server.py") -> tuple[T, float, float]:
    """Start ``mode``'s server (``bench/<script>``), warm it up for 1 s, then
    ``run(port, seconds)``.

    Returns:
        ``(run's result, elapsed seconds, server CPU seconds)``.
    """
    port = free_port()
    proc = start(mode, port, script)
    try:
        run(port, 1.0)  # warm-up
        cpu0 = cpu_seconds(proc.pid)
        t0 = time.monotonic()
        result = run(port, seconds)
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(proc.pid) - cpu0
    finally:
        proc.terminate()
        proc.wait(10)
    return result, elapsed, cpu


def measure(mode: str, seconds: float, concurrency: int) -> dict[str, float]:
    (done, refused), elapsed, cpu = timed(
        mode, lambda port, s: asyncio.run(load(port, s, concurrency)), seconds
    )
    if refused:
        raise RuntimeError(f"{mode}: {refused} connections were refused")
    return {"cps": done / elapsed, "cpu_us": cpu / max(done, 1) * 1e6, "n": done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--modes", default="bare,full,noop0,noop10")
    args = parser.parse_args()
    if os.cpu_count() and os.cpu_count() >= 2:  # type: ignore[operator]
        os.sched_setaffinity(0, {1})
    modes = args.modes.split(",")
    results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:
            results[mode].append(measure(mode, args.seconds, args.concurrency))
    bare_cps = sum(r["cps"] for r in results["bare"]) / args.rounds
    bare_cpu = sum(r["cpu_us"] for r in results["bare"]) / args.rounds
    print(f"{'mode':<6} {'conn/s':>9} {'ratio':>6} {'server CPU us/conn':>19}")
    for mode in modes:
        cps = sum(r["cps"] for r in results[mode]) / args.rounds
        cpu = sum(r["cpu_us"] for r in results[mode]) / args.rounds
        print(f"{mode:<6} {cps:9.1f} {cps / bare_cps:6.3f} {cpu:19.1f}")
    if "noop0" in results and "noop10" in results:
        cpu0 = sum(r["cpu_us"] for r in results["noop0"]) / args.rounds
        cpu10 = sum(r["cpu_us"] for r in results["noop10"]) / args.rounds
        print(f"\nsiomw's fixed cost (empty chain): {cpu0 - bare_cpu:.1f} us CPU per connection")
        print(f"each no-op middleware: {(cpu10 - cpu0) / 10:.2f} us CPU per connection")


if __name__ == "__main__":
    main()
