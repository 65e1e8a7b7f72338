"""The latency of one rate-limit check, in process: the ratelimit plugin's limiter on memory
storage against Redis.

Usage: python bench/ratelimit_check.py [--iterations 5000] [--warmup 500] [--rounds 3]
[--storages memory,redis,redis-redispy] [--redis redis://127.0.0.1:6379]

One check is one ``await limiter.acquire([Check(item, identifier)])`` of the plugin's
:class:`~siomw_ratelimit.storage.GuardedLimiter` (built by ``guarded_limiter`` from a
``[ratelimit]`` table: moving window, ``1000/minute``, as ``bench/server.py``'s ``full``
mode), awaited one at a time on one event loop; identifiers rotate over 1000 keys shaped as
the connect middleware's (``<key_prefix>/connect/moving-window/ip/127.0.x.y``), so no check
is refused. This is the call an event's budget makes; a connect makes the same single
atomic storage call through ``limiter.hit`` (connect's ``exhausted``). Each storage's limiter
is opened (``limiter.open()``: the pool's first connection) and warmed up before its
timed checks; storages alternate in rounds. Reported: the median over the rounds of each
round's p50 and p99 (and mean) in microseconds, this process' CPU microseconds per check
(the client library's and the plugin's work, without the wait for Redis), and checks per
second. Every Redis round
uses its own ``key_prefix`` (``siomw-bench-check-<pid>-<time>-...``); the run's keys are
deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import time

import limits
import redis
from siomw_ratelimit import RateLimitOptions
from siomw_ratelimit.storage import Check, guarded_limiter
from storage_rate import delete_keys

from connect_rate import load_average

STORAGES = ("memory", "redis", "redis-redispy")
KEYS = 1000


def options(storage: str, redis_uri: str, prefix: str) -> RateLimitOptions:
    """The ``[ratelimit]`` table of ``storage`` (one of :data:`STORAGES`)."""
    table: dict[str, object] = {"connect": "1000/minute", "strategy": "moving-window",
                                "key_prefix": prefix}
    if storage != "memory":
        table["storage"] = redis_uri
    if storage == "redis-redispy":
        table["redis_client"] = "redispy"
    return RateLimitOptions.model_validate(table)


def percentile(sorted_us: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in (0, 1]) of ascending ``sorted_us``."""
    rank = max(1, math.ceil(fraction * len(sorted_us)))
    return sorted_us[min(rank, len(sorted_us)) - 1]


async def round_of(storage: str, redis_uri: str, prefix: str, iterations: int,
                   warmup: int) -> dict[str, float]:
    """One round on ``storage``: ``{"p50", "p99", "mean"}`` (microseconds per check),
    ``"rate"`` (checks per second) and ``"cpu"`` (this process' CPU microseconds per check:
    what a server pays per check, the wait for Redis excluded).

    Raises:
        RuntimeError: the storage did not answer at open, or a check was refused.
    """
    opts = options(storage, redis_uri, prefix)
    limiter = guarded_limiter(opts)
    item = limits.parse(opts.connect)
    base = f"{prefix}/connect/{opts.strategy}/ip/"
    identifiers = [f"{base}127.0.{i // 250}.{2 + i % 250}" for i in range(KEYS)]
    if not await limiter.open():
        raise RuntimeError(f"ratelimit_check: {storage}: the storage did not answer")
    try:
        for i in range(warmup):
            await limiter.acquire([Check(item, identifiers[i % KEYS])])
        samples: list[float] = []
        clock = time.perf_counter_ns
        cpu0 = time.process_time()
        started = clock()
        for i in range(iterations):
            check = [Check(item, identifiers[(warmup + i) % KEYS])]
            t0 = clock()
            refused = await limiter.acquire(check)
            samples.append((clock() - t0) / 1000)
            if refused is not None:
                raise RuntimeError(f"ratelimit_check: {storage}: a check was refused")
        elapsed = (clock() - started) / 1e9
        cpu = time.process_time() - cpu0
    finally:
        await limiter.close()
    samples.sort()
    return {"p50": percentile(samples, 0.50), "p99": percentile(samples, 0.99),
            "mean": statistics.fmean(samples), "rate": iterations / elapsed,
            "cpu": cpu / iterations * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--storages", default=",".join(STORAGES))
    parser.add_argument("--redis", default=os.environ.get("SIOMW_BENCH_REDIS",
                                                          "redis://127.0.0.1:6379"))
    parser.add_argument("--key-prefix", default=None, help="the base of this run's key "
                        "prefixes (default siomw-bench-check-<pid>-<time>); its keys are deleted")
    args = parser.parse_args()
    storages = args.storages.split(",")
    unknown = set(storages) - set(STORAGES)
    if unknown:
        parser.error(f"unknown storages {sorted(unknown)} (of {', '.join(STORAGES)})")
    if os.cpu_count() and os.cpu_count() >= 2:  # type: ignore[operator]
        os.sched_setaffinity(0, {1})
    client = redis.Redis.from_url(args.redis)
    client.ping()  # fails here, in one line, when Redis does not answer
    base = args.key_prefix or f"siomw-bench-check-{os.getpid()}-{int(time.time())}"
    print(f"one check = limiter.acquire([Check]) (moving window, 1000/minute, {KEYS} keys); "
          f"{args.rounds} rounds of {args.iterations} checks after {args.warmup} warm-up; "
          f"Redis {args.redis}; load average before: {load_average()}")
    results: dict[str, list[dict[str, float]]] = {s: [] for s in storages}
    try:
        for n in range(args.rounds):
            for storage in storages:
                results[storage].append(asyncio.run(round_of(
                    storage, args.redis, f"{base}-{storage}-{n}", args.iterations,
                    args.warmup)))
    finally:
        deleted = delete_keys(client, base)
        client.close()

    def median(storage: str, key: str) -> float:
        return statistics.median(r[key] for r in results[storage])

    print(f"{'storage':<14} {'p50 us':>8} {'p99 us':>8} {'mean us':>8} {'CPU us':>7} "
          f"{'checks/s':>9}")
    for storage in storages:
        print(f"{storage:<14} {median(storage, 'p50'):8.1f} {median(storage, 'p99'):8.1f} "
              f"{median(storage, 'mean'):8.1f} {median(storage, 'cpu'):7.1f} "
              f"{median(storage, 'rate'):9.0f}")
    print(f"Redis keys of this run deleted: {deleted}")
    print(f"load average after: {' '.join(open('/proc/loadavg').read().split()[:3])}")


if __name__ == "__main__":
    main()
