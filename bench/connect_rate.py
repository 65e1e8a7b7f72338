"""Connections per second through siomw's connect chain against bare python-socketio.

Usage: python bench/connect_rate.py [--kind asgi|aiohttp|wsgi|gevent] [--seconds 5]
[--concurrency 50] [--addresses 250] [--tokens fresh|one] [--rounds 3]
[--modes bare,full,noop0,noop10]

Each mode's server (``bench/server.py MODE PORT KIND``: uvicorn, aiohttp's runner, gunicorn's
gthread or gevent worker) runs in its own process pinned to one core; the load comes from this
process (pinned to the other core when there are two) over loopback: WebSocket-only Engine.IO
handshakes, then a Socket.IO CONNECT with a token, then close; 50 at a time, from many
client addresses of 127.0.0.0/8 (``--addresses`` per concurrent client: so the IP-keyed
rate limit keeps per-client windows, as in production, instead of one window holding every
hit). Each connection sends its own token (``--tokens fresh``, the default: each client
its own, as in a deployment; signed before the timed window, so that signing is not the load
generator's cost inside it), or every connection the same one (``--tokens one``: after the
first, every connection is a hit of the jwt plugin's cache of verified tokens). Modes alternate
in rounds so that drift affects both alike. Reported: connections per second, server CPU
microseconds per connection (from /proc, the server's process and its children: gunicorn's
worker), how busy the server's core was (1.00: saturated; less: the server waited, or other
processes took the core), each the median of the rounds, and each mode's ratio of
connections per second against bare in the same run, and its CPU ratio (bare's CPU per
connection over the mode's: the ratio of connections per second on a saturated core, less
sensitive to other processes sharing the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import jwt
import websockets

HERE = Path(__file__).resolve().parent
#: bench/server.py's server kinds
KINDS = ("asgi", "aiohttp", "wsgi", "gevent")
SECRET = "bench-secret-of-at-least-thirty-two-bytes!"
CLK = os.sysconf("SC_CLK_TCK")
#: ``--tokens``: ``fresh``, a distinct token per connection; ``one``, one token for all
TOKENS = ("fresh", "one")
#: fresh tokens signed ahead per second of a run (several times this machine's bare rate):
#: a run that uses them all up fails (it never reuses one: that would be a cache hit)
FRESH_PER_SECOND = 4000
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stat(pid: int) -> list[str]:
    """``/proc/PID/stat``'s fields after the command name (field 3 onwards)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system, every thread) of ``pid`` and of its live descendants
    (gunicorn's worker under its arbiter), from ``/proc``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
            except (OSError, IndexError, ValueError):
                continue  # exited meanwhile
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent and p not in tree]
        tree.update(children)
        frontier.extend(children)
    total = 0
    for p in tree:
        try:
            fields = _stat(p)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK


async def one_connection(url: str, auth: str, source: str,
                         deflate: bool = False) -> str | None:
    """One WebSocket connection from ``source``: None when accepted, else the refusal's
    CONNECT_ERROR packet. ``deflate``: offer permessage-deflate, as browsers and Node's
    ``ws`` do (RFC 7692)."""
    compression = "deflate" if deflate else None
    async with websockets.connect(url, compression=compression,
                                  local_addr=(source, 0)) as ws:
        opened = await ws.recv()
        assert str(opened).startswith("0")
        await ws.send("40" + auth)
        while True:
            msg = str(await ws.recv())
            if msg.startswith("40"):
                return None
            if msg.startswith("44"):
                return msg


def auths(tokens: str, count: int) -> list[str]:
    """CONNECT payloads ``{"token": ...}`` (HS256, ``SECRET``, an hour's ``exp``): ``count``
    of them, each with its own ``sub`` (``bench-N``), when ``tokens`` is ``"fresh"``; one
    when ``"one"``.

    Raises:
        ValueError: ``tokens`` is not one of :data:`TOKENS`.
    """
    if tokens not in TOKENS:
        raise ValueError(f"tokens must be one of {', '.join(TOKENS)}, not {tokens!r}")
    exp = int(time.time()) + 3600
    subs = ["bench"] if tokens == "one" else [f"bench-{i}" for i in range(count)]
    return [json.dumps({"token": jwt.encode({"sub": sub, "exp": exp}, SECRET,
                                            algorithm="HS256")}) for sub in subs]


async def load(port: int, seconds: float, concurrency: int,
               addresses: int = 250, deflate: bool = False,
               tokens: str = "fresh") -> tuple[int, int]:
    """``concurrency`` workers connecting for ``seconds``, worker ``n`` from the loopback
    addresses ``127.0.n.2`` to ``127.0.n.(addresses + 1)`` in turn (``addresses`` at most
    250; 0: every worker from ``127.0.0.1``, one rate-limit key for all). ``deflate``: see
    :func:`one_connection`. ``tokens``: ``"fresh"``, each connection its own token (signed
    before the clock starts, :data:`FRESH_PER_SECOND` per second); ``"one"``, one for all.
    Returns ``(accepted, refused)``.

    Raises:
        RuntimeError: the fresh tokens ran out (none is ever sent twice).
    """
    url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    pool = auths(tokens, int((seconds + 1) * FRESH_PER_SECOND) + concurrency)
    used = 0
    done = refused = 0
    deadline = time.monotonic() + seconds

    async def worker(n: int) -> None:
        nonlocal done, refused, used
        i = 0
        while time.monotonic() < deadline:
            # many client addresses (all loopback), as many clients would have
            source = f"127.0.{n}.{2 + i % addresses}" if addresses else "127.0.0.1"
            i += 1
            if tokens == "one":
                auth = pool[0]
            elif used < len(pool):
                auth, used = pool[used], used + 1
            else:
                raise RuntimeError(f"the {len(pool)} fresh tokens signed ahead ran out "
                                   f"(raise connect_rate.FRESH_PER_SECOND)")
            refusal = await one_connection(url, auth, source, deflate)
            if refusal is None:
                done += 1
            else:
                if not refused:  # the first one says why
                    print(f"connect_rate: refused: {refusal[:300]}", file=sys.stderr)
                refused += 1

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return done, refused


def serving(port: int) -> bool:
    """True once an HTTP server answers ``GET /`` on ``port`` (any status: python-socketio
    answers 404 outside its path), i.e. the server (gunicorn's worker, not only its arbiter's
    socket) is up."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


#: builds a server's command line from its port (``timed``'s ``command``)
Command = Callable[[int], list[str]]


def start(mode: str, port: int, script: str = "server.py",
          kind: str = "asgi", command: Command | None = None,
          env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``bench/<script> MODE PORT [KIND]`` (or ``command(port)``: another server,
    Node's, ``siomw serve``) pinned to core 0, with ``env`` added to the environment; return
    once it serves.

    Raises:
        RuntimeError: it did not serve within 20 seconds, or exited.
    """
    env = {**os.environ, "SIOMW_JWT_SECRET": SECRET, **(env or {})}
    if command is not None:
        cmd = command(port)
    else:
        cmd = [sys.executable, str(HERE / script), mode, str(port)]
        if kind != "asgi":
            cmd.append(kind)
    if os.cpu_count() and os.cpu_count() >= 2:  # type: ignore[operator]
        cmd = ["taskset", "-c", "0", *cmd]
    proc = subprocess.Popen(cmd, env=env, cwd=HERE)
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError(f"{kind} {mode} server exited with status {proc.returncode}")
        if serving(port):
            return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{kind} {mode} server did not start within 20 s")


def timed(mode: str, run: Callable[[int, float], T], seconds: float,
          script: str = "server.py", kind: str = "asgi",
          warmup: float = 1.0, command: Command | None = None,
          env: dict[str, str] | None = None,
          during: Callable[[int], Any] | None = None) -> tuple[T, float, float]:
    """Start ``mode``'s server (``bench/<script>``, as ``kind``, or ``command``: see
    :func:`start`), warm it up for ``warmup`` seconds, then ``run(port, seconds)``;
    ``during(pid)``, if given, is called with the server's pid just before the timed run
    (a profiler attaching) and its result, if callable, just after.

    Returns:
        ``(run's result, elapsed seconds, server CPU seconds)``.
    """
    port = free_port()
    proc = start(mode, port, script, kind, command, env)
    try:
        run(port, warmup)
        after = during(proc.pid) if during else None
        cpu0 = cpu_seconds(proc.pid)
        t0 = time.monotonic()
        result = run(port, seconds)
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(proc.pid) - cpu0
        if callable(after):
            after()
    finally:
        proc.terminate()
        proc.wait(10)
    return result, elapsed, cpu


def measure(mode: str, seconds: float, concurrency: int, kind: str = "asgi",
            warmup: float = 1.0, addresses: int = 250, *, deflate: bool = False,
            tokens: str = "fresh",
            command: Command | None = None, env: dict[str, str] | None = None,
            during: Callable[[int], Any] | None = None) -> dict[str, float]:
    """One timed run of ``mode`` on ``kind`` (or of ``command``'s server; ``addresses``,
    ``deflate``, ``tokens``: see :func:`load`; ``env``, ``during``: see :func:`timed`): ``{"cps",
    "cpu_us", "busy", "n"}`` (connections per second, server CPU microseconds per
    connection, server CPU seconds per second: 1.0 is its core saturated, and the number of
    connections).

    Raises:
        RuntimeError: a connection was refused (the benchmark measures accepted ones).
    """
    (done, refused), elapsed, cpu = timed(
        mode, lambda port, s: asyncio.run(load(port, s, concurrency, addresses, deflate,
                                                tokens)),
        seconds, kind=kind, warmup=warmup, command=command, env=env, during=during,
    )
    if refused:
        raise RuntimeError(f"{kind} {mode}: {refused} connections were refused")
    return {"cps": done / elapsed, "cpu_us": cpu / max(done, 1) * 1e6, "busy": cpu / elapsed,
            "n": done}


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (``/proc/loadavg``), as one string."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="asgi", choices=KINDS,
                        help="the server kind (bench/server.py); default asgi (uvicorn)")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds of load before each timed run")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--addresses", type=int, default=250, choices=range(0, 251),
                        metavar="0..250", help="client addresses per concurrent client "
                        "(distinct rate-limit keys: concurrency x addresses; default 250; "
                        "0: every client from 127.0.0.1, one hot key: use mode full-hot)")
    parser.add_argument("--tokens", default="fresh", choices=TOKENS,
                        help="fresh (default): each connection its own token, signed before "
                        "the timed window, as each client has its own; one: one token for "
                        "every connection (the jwt plugin's cache hits after the first)")
    parser.add_argument("--modes", default="bare,full,noop0,noop10")
    args = parser.parse_args()
    if os.cpu_count() and os.cpu_count() >= 2:  # type: ignore[operator]
        os.sched_setaffinity(0, {1})
    modes = args.modes.split(",")
    if "bare" not in modes:
        parser.error("--modes must include bare (the ratios are against it)")
    print(f"kind {args.kind}; {args.rounds} rounds of {args.seconds:g} s, concurrency "
          f"{args.concurrency}, {args.concurrency * args.addresses or 1} client addresses, "
          f"tokens {args.tokens}; "
          f"load average before: {load_average()}")
    results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:
            results[mode].append(
                measure(mode, args.seconds, args.concurrency, args.kind, args.warmup,
                        args.addresses, tokens=args.tokens))

    def median(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in results[mode])

    bare_cps, bare_cpu = median("bare", "cps"), median("bare", "cpu_us")
    print(f"{'mode':<13} {'conn/s':>9} {'ratio':>6} {'server CPU us/conn':>19} "
          f"{'CPU ratio':>9} {'server busy':>11}")
    for mode in modes:
        cps, cpu = median(mode, "cps"), median(mode, "cpu_us")
        print(f"{mode:<13} {cps:9.1f} {cps / bare_cps:6.3f} {cpu:19.1f} {bare_cpu / cpu:9.3f} "
              f"{median(mode, 'busy'):11.2f}")
    if "noop0" in results and "noop10" in results:
        cpu0, cpu10 = median("noop0", "cpu_us"), median("noop10", "cpu_us")
        print(f"\nsiomw's fixed cost (empty chain): {cpu0 - bare_cpu:.1f} us CPU per connection")
        print(f"each no-op middleware: {(cpu10 - cpu0) / 10:.2f} us CPU per connection")
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
