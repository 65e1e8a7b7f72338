"""CPU cost of one no-op middleware in the chain runner and at the event level, in us.

Usage: python bench/chain_overhead.py [--runs 20000]

1. Runs ``siomw_core.chain.run_chain`` with 0 and with 10 no-op members around the same
   endpoint, alternating, and reports (cost with 10 - cost with 0) / 10 per run: what one
   more middleware adds to a connection (the design's budget is 2 us); also with the event
   level's deadline (the clock stopped around the endpoint).
2. Dispatches one event (``echo``, no ack) through python-socketio's own
   ``_handle_event_internal`` on a bare ``socketio.AsyncServer`` and through siomw's event
   level with 0, 1 and 10 no-op event members, on a sid registered with the server's manager
   (no transport: this is the dispatch path alone), and reports each against bare and the
   cost of one member (issue 7's budget: 1 us). The end-to-end figures, ratios against bare
   python-socketio over WebSockets, are ``connect_rate.py``'s and ``event_rate.py``'s.

:func:`per_member` gives ``bench/suite.py`` the CPU of one more no-op member at each level as
that level runs its chain: connect (deadline ``connect_timeout``), engine (no deadline),
event (the dispatch, through python-socketio's own path) and the sync server's runner
(driven without a loop, ``siomw_core.drive``, deadline read at each checkpoint).
"""

from __future__ import annotations

import argparse
import asyncio
import time

import socketio

from siomw_core import CallNext, Config, CoreSettings, Middleware, Siomw
from siomw_core.chain import run_chain
from siomw_core.context import Handshake, Socket
from siomw_core.drive import drive


async def noop(subject: object, call_next: CallNext) -> None:
    await call_next()


async def endpoint() -> None:
    return None


async def cost(members: int, runs: int, timeout: float | None, timed: bool = True) -> float:
    chain = tuple(Middleware(name=f"noop{i}", func=noop) for i in range(members))
    start = time.process_time()
    for _ in range(runs):
        await run_chain(chain, None, endpoint, timeout, endpoint_timed=timed)
    return (time.process_time() - start) / runs * 1e6


async def event_server(members: int | None) -> tuple[socketio.AsyncServer, str]:
    """A server with a connected sid (``members`` None: bare python-socketio)."""
    sio = socketio.AsyncServer(async_mode="asgi")

    @sio.event
    async def echo(sid: str, value: object) -> object:
        return value

    sio.manager.initialize()
    sid = await sio.manager.connect("eio", "/")
    if members is not None:
        mw = Siomw(sio, config=Config("bench", CoreSettings(plugins=[])))
        for i in range(members):
            mw.event.use(noop, name=f"noop{i}")
        mw.connect_level.sockets[sid] = Socket(sid, "/", Handshake({}, {}), "eio", sio)
    return sio, sid


async def dispatch_cost(members: int | None, runs: int) -> float:
    sio, sid = await event_server(members)
    handle = sio._handle_event_internal
    data = ["echo", 1]
    start = time.process_time()
    for _ in range(runs):
        await handle(sio, sid, "eio", data, "/", None)
    return (time.process_time() - start) / runs * 1e6


async def event_level(runs: int) -> None:
    modes: dict[str, int | None] = {"bare": None, "empty": 0, "noop1": 1, "noop10": 10}
    totals = dict.fromkeys(modes, 0.0)
    for _ in range(5):
        for name, members in modes.items():
            totals[name] += await dispatch_cost(members, runs) / 5
    bare = totals["bare"]
    for name, us in totals.items():
        print(f"event dispatch {name:<6} {us:6.2f} us/event  ratio {bare / us:5.3f} of bare "
              "(events/s)")
    print(f"event dispatch: siomw's fixed cost {totals['empty'] - bare:.2f} us, "
          f"per no-op event member {(totals['noop10'] - totals['empty']) / 10:.2f} us, "
          f"one member {totals['noop1'] - totals['empty']:.2f} us")


def sync_cost(members: int, runs: int) -> float:
    """:func:`cost` on the sync server's path: each run driven without an event loop."""
    chain = tuple(Middleware(name=f"noop{i}", func=noop) for i in range(members))
    start = time.process_time()
    for _ in range(runs):
        drive(run_chain(chain, None, endpoint, 10.0))
    return (time.process_time() - start) / runs * 1e6


def per_member(runs: int, repeats: int = 5) -> dict[str, float]:
    """CPU microseconds of one more no-op member: ``(cost with 10 - cost with 0) / 10`` at
    each level (``connect``, ``engine``, ``event``, ``sync``; see the module), each the mean
    of ``repeats`` alternating measurements of ``runs`` runs."""
    async def levels() -> dict[str, float]:
        diffs = dict.fromkeys(("connect", "engine", "event"), 0.0)
        for _ in range(repeats):
            diffs["connect"] += await cost(10, runs, 10.0) - await cost(0, runs, 10.0)
            diffs["engine"] += await cost(10, runs, None) - await cost(0, runs, None)
            diffs["event"] += (await dispatch_cost(10, runs)
                               - await dispatch_cost(0, runs))
        return diffs

    diffs = asyncio.run(levels())
    diffs["sync"] = sum(sync_cost(10, runs) - sync_cost(0, runs) for _ in range(repeats))
    return {level: total / repeats / 10 for level, total in diffs.items()}


async def main(runs: int) -> None:
    for timeout in (None, 10.0):
        base = ten = 0.0
        for _ in range(5):
            base += await cost(0, runs, timeout)
            ten += await cost(10, runs, timeout)
        base, ten = base / 5, ten / 5
        print(f"deadline={timeout}: empty chain {base:.2f} us, 10 no-ops {ten:.2f} us, "
              f"per no-op middleware {(ten - base) / 10:.2f} us")
    base = ten = 0.0
    for _ in range(5):  # the event level's deadline: stopped while the endpoint runs
        base += await cost(0, runs, 10.0, timed=False) / 5
        ten += await cost(10, runs, 10.0, timed=False) / 5
    print(f"deadline=10.0, endpoint untimed: empty chain {base:.2f} us, 10 no-ops "
          f"{ten:.2f} us, per no-op middleware {(ten - base) / 10:.2f} us")
    await event_level(runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20000)
    asyncio.run(main(parser.parse_args().runs))
