"""Polling requests per second through siomw's engine chain against bare python-socketio.

Usage: python bench/polling_rate.py [--seconds 5] [--concurrency 5] [--rounds 2]

Servers as in ``connect_rate.py`` (one process each, pinned to one core): ``bare`` and
``engine`` (logging + jwt handshake check + ratelimit HTTP limit + headers, all at the engine
level, plus the connect chain). Each client session is four HTTP long-polling requests, as
socket.io-client makes them: the handshake GET (bearer token), a POST carrying CONNECT, the
GET that returns CONNECT's answer, and a POST closing the session; 5 keep-alive clients at a
time by default, each from its own loopback address (python-engineio 4.15 collapses under
many concurrent polling sessions, bare or not: 50 give about 60 requests per second).
Reported: requests per second, server CPU microseconds per request, and the ratio against
bare in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

import aiohttp
import jwt

from connect_rate import SECRET, timed


async def session(http: aiohttp.ClientSession, base: str, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(f"{base}&t=1", headers=headers) as resp:
        body = await resp.text()
        assert resp.status == 200, (resp.status, body)
    sid = json.loads(body[1:])["sid"]
    url = f"{base}&sid={sid}"
    async with http.post(url, data="40" + json.dumps({"token": token})) as resp:
        assert resp.status == 200
    async with http.get(url) as resp:
        text = await resp.text()
        assert text.startswith("40"), text
    async with http.post(url, data="1") as resp:
        await resp.read()
    return 4


async def load(port: int, seconds: float, concurrency: int) -> int:
    base = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling"
    token = jwt.encode({"sub": "bench", "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")
    deadline = time.monotonic() + seconds
    done = 0

    async def worker(n: int) -> None:
        nonlocal done
        # one keep-alive client per worker, each from its own loopback address
        connector = aiohttp.TCPConnector(local_addr=(f"127.1.0.{2 + n}", 0))
        async with aiohttp.ClientSession(connector=connector) as http:
            while time.monotonic() < deadline:
                done += await session(http, base, token)

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return done


def measure(mode: str, seconds: float, concurrency: int, kind: str = "asgi",
            warmup: float = 1.0) -> dict[str, float]:
    """One timed run of ``mode`` (``server.py``) on ``kind``: ``{"rps", "cpu_us", "n"}``
    (requests per second, server CPU microseconds per request, requests)."""
    done, elapsed, cpu = timed(
        mode, lambda port, s: asyncio.run(load(port, s, concurrency)), seconds, kind=kind,
        warmup=warmup,
    )
    return {"rps": done / elapsed, "cpu_us": cpu / max(done, 1) * 1e6, "n": done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--kind", default="asgi", choices=("asgi", "aiohttp", "wsgi", "gevent"))
    args = parser.parse_args()
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {1})
    modes = ["bare", "engine"]
    results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:
            results[mode].append(measure(mode, args.seconds, args.concurrency, args.kind))
    bare = sum(r["rps"] for r in results["bare"]) / args.rounds
    print(f"{'mode':<7} {'req/s':>9} {'ratio':>6} {'server CPU us/req':>18}")
    for mode in modes:
        rps = sum(r["rps"] for r in results[mode]) / args.rounds
        cpu = sum(r["cpu_us"] for r in results[mode]) / args.rounds
        print(f"{mode:<7} {rps:9.1f} {rps / bare:6.3f} {cpu:18.1f}")


if __name__ == "__main__":
    main()
