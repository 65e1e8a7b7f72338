"""Events per second with acks through siomw's event chain against bare python-socketio.

Usage: python bench/event_rate.py [--seconds 5] [--connections 50] [--rounds 2]
       [--modes bare,empty,noop1,noop10]

Each mode's server (``bench/event_server.py``; a mode is one line in its ``MODES``) runs in
its own process pinned to one core, the load from this process (pinned to the other core
when there are two), over loopback, with ``connect_rate.py``'s helpers: ``--connections``
WebSocket clients, each connected to ``"/"`` with a token in ``auth`` (for modes with the
jwt plugin), each sending ``42<id>["echo",<n>]`` and awaiting its ack ``43<id>[<n>]``, one
at a time, for ``--seconds``. Modes alternate in rounds so that drift affects all alike.
Reported: events per second and each mode's ratio against bare in the same run, server
CPU microseconds per event (from /proc), and, with ``noop0``/``empty`` and ``noop10``, the
CPU cost of one no-op event member.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

import jwt
import websockets

from connect_rate import SECRET, timed


async def client(url: str, auth: str, deadline: float) -> int:
    """One connection sending acked events until ``deadline``; returns the acks seen."""
    async with websockets.connect(url, compression=None) as ws:
        assert str(await ws.recv()).startswith("0")
        await ws.send("40" + auth)
        while not str(await ws.recv()).startswith("40"):
            pass
        acks = 0
        while time.monotonic() < deadline:
            ack_id = acks % 1000
            await ws.send(f'42{ack_id}["echo",{acks}]')
            while True:
                msg = str(await ws.recv())
                if msg.startswith("43"):
                    break
                if msg == "2":  # Engine.IO ping
                    await ws.send("3")
            if msg != f"43{ack_id}[{acks}]":
                raise RuntimeError(f"unexpected ack {msg!r}")
            acks += 1
        return acks


async def load(port: int, seconds: float, connections: int) -> int:
    url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    token = jwt.encode({"sub": "bench", "exp": int(time.time()) + 3600}, SECRET,
                       algorithm="HS256")
    auth = json.dumps({"token": token})
    deadline = time.monotonic() + seconds
    counts = await asyncio.gather(*(client(url, auth, deadline) for _ in range(connections)))
    return sum(counts)


def measure(mode: str, seconds: float, connections: int, kind: str = "asgi",
            warmup: float = 1.0) -> dict[str, float]:
    """One timed run of ``mode`` (``event_server.py``) on ``kind``: ``{"eps", "cpu_us",
    "n"}`` (events per second, server CPU microseconds per event, events)."""
    done, elapsed, cpu = timed(
        mode, lambda port, s: asyncio.run(load(port, s, connections)), seconds,
        script="event_server.py", kind=kind, warmup=warmup,
    )
    return {"eps": done / elapsed, "cpu_us": cpu / max(done, 1) * 1e6, "n": done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--modes", default="bare,empty,noop1,noop10")
    parser.add_argument("--kind", default="asgi", choices=("asgi", "wsgi"))
    args = parser.parse_args()
    if os.cpu_count() and os.cpu_count() >= 2:  # type: ignore[operator]
        os.sched_setaffinity(0, {1})
    modes = args.modes.split(",")
    if "bare" not in modes:
        modes.insert(0, "bare")
    results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:
            results[mode].append(measure(mode, args.seconds, args.connections, args.kind))

    def mean(mode: str, key: str) -> float:
        return sum(r[key] for r in results[mode]) / len(results[mode])

    bare = mean("bare", "eps")
    print(f"{'mode':<10} {'events/s':>9} {'ratio':>6} {'server CPU us/event':>20}")
    for mode in modes:
        print(f"{mode:<10} {mean(mode, 'eps'):9.1f} {mean(mode, 'eps') / bare:6.3f} "
              f"{mean(mode, 'cpu_us'):20.2f}")
    base = next((m for m in ("noop0", "empty") if m in results), None)
    if base and "noop10" in results:
        print(f"\nsiomw's fixed cost (no event member): "
              f"{mean(base, 'cpu_us') - mean('bare', 'cpu_us'):.2f} us CPU per event")
        print(f"each no-op event member: "
              f"{(mean('noop10', 'cpu_us') - mean(base, 'cpu_us')) / 10:.2f} us CPU per event")


if __name__ == "__main__":
    main()
