"""CPU cost of one no-op middleware in the connect chain runner, in microseconds.

Usage: python bench/chain_overhead.py [--runs 20000]

Runs ``siomw_core.chain.run_chain`` with 0 and with 10 no-op members around the same endpoint,
alternating, and reports (cost with 10 - cost with 0) / 10 per run: what one more middleware
adds to a connection (the design's budget is 2 us). The end-to-end figure, a ratio against
bare python-socketio, is ``connect_rate.py``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from siomw_core import CallNext, Middleware
from siomw_core.chain import run_chain


async def noop(subject: object, call_next: CallNext) -> None:
    await call_next()


async def endpoint() -> None:
    return None


async def cost(members: int, runs: int, timeout: float | None) -> float:
    chain = tuple(Middleware(name=f"noop{i}", func=noop) for i in range(members))
    start = time.process_time()
    for _ in range(runs):
        await run_chain(chain, None, endpoint, timeout)
    return (time.process_time() - start) / runs * 1e6


async def main(runs: int) -> None:
    for timeout in (None, 10.0):
        base = ten = 0.0
        for _ in range(5):
            base += await cost(0, runs, timeout)
            ten += await cost(10, runs, timeout)
        base, ten = base / 5, ten / 5
        print(f"deadline={timeout}: empty chain {base:.2f} us, 10 no-ops {ten:.2f} us, "
              f"per no-op middleware {(ten - base) / 10:.2f} us")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20000)
    asyncio.run(main(parser.parse_args().runs))
