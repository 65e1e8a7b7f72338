"""Instructions per connection (callgrind): siomw's modes against bare python-socketio.

Usage: python bench/instructions.py [--modes bare,full] [--connections 200] [--warmup 40]

Each mode's server (``bench/server.py MODE PORT``: uvicorn, the asgi kind) runs under
``valgrind --tool=callgrind``. It gets ``--warmup`` connections, then its counters are
zeroed (``callgrind_control --zero``), then ``--connections`` more, one at a time, each from
its own loopback address (``127.3.x.y``: no rate-limit window is shared) with its own
token (a fresh HS256 token, as ``connect_rate.py --tokens fresh``), then the counters are
dumped (``callgrind_control --dump``). Reported: the instructions the server executed per
connection, and each mode's ratio to bare (bare's count over the mode's: what the ratio of
connections per second would be if each instruction cost the same).

Instruction counts are repeatable and do not depend on what else the machine runs, unlike
connections per second; they leave out the kernel's time (system calls), and work done on a
clock (the rate limiter's sweep once a second, the engine's pings) is over-counted, since the
server runs about 50 times slower under valgrind. Read them next to ``connect_rate.py``'s
figures, not instead of them. Each mode takes a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from server import check_modes

from connect_rate import SECRET, auths, free_port, one_connection, serving

HERE = Path(__file__).resolve().parent


def total_instructions(dump: Path) -> int:
    """The ``summary:`` (or ``totals:``) count of a callgrind output file.

    Raises:
        ValueError: the file has neither line.
    """
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise ValueError(f"{dump}: no summary or totals line (not a callgrind output file)")


async def _connect(url: str, tokens: list[str], first: int, count: int) -> None:
    for i in range(first, first + count):
        refusal = await one_connection(url, tokens[i], f"127.3.{i // 240}.{2 + i % 240}")
        if refusal is not None:
            raise RuntimeError(f"connection {i} was refused: {refusal[:200]}")


def measure(mode: str, connections: int, warmup: int) -> float:
    """Instructions per connection of ``mode``'s server (see the module).

    Raises:
        RuntimeError: the server did not serve within 5 minutes, a connection was refused,
            or callgrind wrote no dump.
    """
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="siomw-callgrind-"))
    out = folder / "callgrind.out"
    env = {**os.environ, "SIOMW_JWT_SECRET": SECRET}
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
         str(HERE / "server.py"), mode, str(port)],
        env=env, cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not serving(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{mode} server under valgrind did not serve")
            time.sleep(0.5)
        tokens = auths("fresh", warmup + connections)
        url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
        asyncio.run(_connect(url, tokens, 0, warmup))
        subprocess.run(["callgrind_control", "--zero", str(proc.pid)], check=True,
                       capture_output=True)
        asyncio.run(_connect(url, tokens, warmup, connections))
        subprocess.run(["callgrind_control", "--dump", str(proc.pid)], check=True,
                       capture_output=True)
    finally:
        proc.terminate()
        proc.wait(120)
    dumps = [Path(p) for p in glob.glob(f"{out}.*")]  # the --dump's, numbered
    if not dumps:
        raise RuntimeError(f"{mode}: callgrind wrote no dump in {folder}")
    per = total_instructions(min(dumps, key=lambda p: p.stat().st_mtime)) / connections
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    return per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="bare,full",
                        help="bench/server.py modes, bare included (default bare,full)")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=40)
    args = parser.parse_args()
    modes = args.modes.split(",")
    check_modes(parser, modes, "asgi", "ratios")
    if args.connections < 1 or args.warmup < 0:
        parser.error(f"--connections must be at least 1 and --warmup at least 0, not "
                     f"{args.connections} and {args.warmup}")
    counts = {mode: measure(mode, args.connections, args.warmup) for mode in modes}
    print(f"asgi (uvicorn); {args.connections} connections after {args.warmup}")
    print(f"{'mode':<14} {'M instructions/conn':>19} {'ratio':>6}")
    for mode in modes:
        print(f"{mode:<14} {counts[mode] / 1e6:19.3f} {counts['bare'] / counts[mode]:6.3f}")


if __name__ == "__main__":
    main()
