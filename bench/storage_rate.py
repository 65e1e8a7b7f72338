"""Connections per second through siomw's full chain with Redis storage against memory
storage, in the same run.

Usage: python bench/storage_rate.py [--seconds 5] [--warmup 1] [--rounds 3]
[--concurrency 50] [--addresses 250] [--modes memory,redis,redis-redispy]
[--redis redis://127.0.0.1:6379]

Each mode's server (``bench/storage_server.py MODE PORT``: the full chain of
``bench/server.py`` -- logging, jwt, ratelimit on a moving window -- on memory storage, on
Redis through coredis, or on Redis through ``redis.asyncio``) runs pinned to core 0 and gets
``bench/connect_rate.py``'s load (WebSocket handshake, CONNECT with a token, close; 50 at a
time from many loopback addresses) from this process on core 1. Modes alternate in rounds;
each figure is the median of the rounds. Every server start gets its own ``key_prefix``
(``siomw-bench-<pid>-<time>-<mode>-<round>``), so that no run meets an earlier one's counters;
the run's keys are deleted from Redis at the end.

Reported per mode: connections per second and the ratio against memory; the server's CPU
microseconds per connection, the CPU ratio (memory's CPU per connection over the mode's: the
conn/s ratio on a saturated core, less disturbed by other processes on a shared machine) and
how busy the server was (its CPU seconds per second; below 1.00 it waited, for Redis or
for a core); and, from Redis' ``INFO`` (the whole server's, so other clients
of a shared Redis add to them; warm-up included): the scripts Redis ran per connection (the
round trips of the moving window: one ``EVALSHA`` per hit), every command it ran (a
script's own commands included) and Redis' own CPU microseconds, per connection.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Any, cast

import redis

from connect_rate import load, load_average, timed

PREFIX_ENV = "SIOMW_BENCH_KEY_PREFIX"
REDIS_ENV = "SIOMW_BENCH_REDIS"


#: the commands that run a script (``INFO commandstats`` also counts every command a script
#: runs, so the scripts' calls are the round trips of the Lua-scripted strategies)
SCRIPT_COMMANDS = ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_fcall")


def redis_counters(client: redis.Redis) -> tuple[int, int, float]:
    """Redis' script calls so far (:data:`SCRIPT_COMMANDS`), its commands (``INFO
    commandstats``: every command's ``calls``, those run inside scripts and the ``INFO``
    calls themselves included) and its CPU seconds (``used_cpu_user`` + ``used_cpu_sys``)."""
    stats = cast(dict[str, Any], client.info("commandstats"))
    calls = sum(int(entry["calls"]) for entry in stats.values())
    scripts = sum(int(stats[name]["calls"]) for name in SCRIPT_COMMANDS if name in stats)
    cpu = cast(dict[str, Any], client.info("cpu"))
    return scripts, calls, float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def delete_keys(client: redis.Redis, base: str) -> int:
    """Delete every key containing ``base`` (limits adds its own prefix before the
    plugin's ``key_prefix``); returns how many were deleted."""
    deleted = 0
    batch: list[Any] = []
    for key in client.scan_iter(match=f"*{base}*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            deleted += cast(int, client.delete(*batch))
            batch.clear()
    if batch:
        deleted += cast(int, client.delete(*batch))
    return deleted


def measure(mode: str, prefix: str, client: redis.Redis, args: argparse.Namespace
            ) -> dict[str, float]:
    """One timed run of ``mode`` with counters under ``prefix``: ``{"cps", "cpu_us", "busy",
    "redis_scripts", "redis_cmds", "redis_cpu_us", "n"}`` (the Redis figures span the
    warm-up too, and are divided by every connection made, the warm-up's included).

    Raises:
        RuntimeError: a connection was refused (the benchmark measures accepted ones).
    """
    os.environ[PREFIX_ENV] = prefix  # the server inherits it (connect_rate.start)
    scripts0, calls0, rcpu0 = redis_counters(client)
    warm: list[int] = []

    def run(port: int, seconds: float) -> tuple[int, int]:
        done, refused = asyncio.run(load(port, seconds, args.concurrency, args.addresses))
        warm.append(done + refused)
        return done, refused

    (done, refused), elapsed, cpu = timed(mode, run, args.seconds, script="storage_server.py",
                                          kind=getattr(args, "kind", "asgi"),
                                          warmup=args.warmup)
    scripts1, calls1, rcpu1 = redis_counters(client)
    if refused:
        raise RuntimeError(f"{mode}: {refused} connections were refused")
    total = max(sum(warm), 1)
    return {"cps": done / elapsed, "cpu_us": cpu / max(done, 1) * 1e6, "busy": cpu / elapsed,
            "redis_scripts": (scripts1 - scripts0) / total,
            "redis_cmds": (calls1 - calls0) / total, "redis_cpu_us": (rcpu1 - rcpu0) / total * 1e6,
            "n": done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds of load before each timed run")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--addresses", type=int, default=250, choices=range(1, 251),
                        metavar="1..250", help="client addresses per concurrent client")
    parser.add_argument("--modes", default="memory,redis,redis-redispy",
                        help="redis-redispy: asgi only (the sync storage is redis-py anyway)")
    parser.add_argument("--kind", default="asgi", choices=("asgi", "wsgi"),
                        help="the server kind (storage_server.py); default asgi (uvicorn)")
    parser.add_argument("--redis", default=os.environ.get(REDIS_ENV, "redis://127.0.0.1:6379"),
                        help="the Redis the redis modes count on")
    parser.add_argument("--key-prefix", default=None, help="the base of this run's key "
                        "prefixes (default siomw-bench-<pid>-<time>); its keys are deleted")
    args = parser.parse_args()
    if os.cpu_count() and os.cpu_count() >= 2:  # type: ignore[operator]
        os.sched_setaffinity(0, {1})
    modes = args.modes.split(",")
    if "memory" not in modes:
        parser.error("--modes must include memory (the ratios are against it)")
    os.environ[REDIS_ENV] = args.redis
    client = redis.Redis.from_url(args.redis)
    client.ping()  # fails here, in one line, when Redis does not answer
    base = args.key_prefix or f"siomw-bench-{os.getpid()}-{int(time.time())}"
    print(f"full chain (logging + jwt + ratelimit, moving window); {args.rounds} rounds of "
          f"{args.seconds:g} s, concurrency {args.concurrency}, "
          f"{args.concurrency * args.addresses} client addresses; Redis {args.redis}; "
          f"load average before: {load_average()}")
    results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    try:
        for n in range(args.rounds):
            for mode in modes:
                results[mode].append(measure(mode, f"{base}-{mode}-{n}", client, args))
    finally:
        deleted = delete_keys(client, base)
        client.close()

    def median(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in results[mode])

    memory = median("memory", "cps")
    memory_cpu = median("memory", "cpu_us")
    print(f"{'mode':<14} {'conn/s':>9} {'ratio':>6} {'server CPU us/conn':>19} "
          f"{'CPU ratio':>9} {'server busy':>11} {'scripts/conn':>12} {'cmds/conn':>9} "
          f"{'Redis CPU us/conn':>17}")
    for mode in modes:
        cps, cpu = median(mode, "cps"), median(mode, "cpu_us")
        print(f"{mode:<14} {cps:9.1f} {cps / memory:6.3f} {cpu:19.1f} {memory_cpu / cpu:9.3f} "
              f"{median(mode, 'busy'):11.2f} {median(mode, 'redis_scripts'):12.2f} "
              f"{median(mode, 'redis_cmds'):9.2f} {median(mode, 'redis_cpu_us'):17.1f}")
    print("each round's conn/s: " + "; ".join(
        f"{mode} " + " ".join(f"{r['cps']:.0f}" for r in results[mode]) for mode in modes))
    for mode in (m for m in modes if m != "memory"):
        for n, result in enumerate(results[mode]):
            if result["redis_scripts"] < 0.99:
                print(f"warning: {mode} round {n + 1}: Redis ran {result['redis_scripts']:.2f} "
                      "scripts per connection, not 1: the storage failed (storage_timeout) and "
                      "the limiter counted in memory; the machine is too busy for this run")
    print(f"Redis keys of this run deleted: {deleted}")
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
