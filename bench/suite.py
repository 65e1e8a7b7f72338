"""Every target of issue 10 in one run: each a ratio (or a cost) against bare python-socketio
measured in the same run, Node's socket.io beside it, a table, a chart and a profile.

Usage: .venv/bin/python bench/suite.py [--quick] [--only GROUPS] [--skip GROUPS]
[--kinds asgi,wsgi] [--seconds 5] [--rounds 3] [--concurrency 50] [--out bench/results]
[--publish] [--no-profile]

Groups (``--only``/``--skip`` take their names, or a prefix: ``connect``, ``node``):
``connect-KIND`` (full chain, many client addresses), ``connect-hot-KIND`` (one address: one
hot rate-limit key), ``engine-KIND`` (the engine chain on polling), ``event-KIND`` (the event
chain), ``storage-asgi`` (Redis against memory), ``serve-asgi`` (``siomw serve`` against plain
``uvicorn``, and bare against bare under the same settings), ``node`` (Node's socket.io bare
and with jsonwebtoken + rate-limiter-flexible + pino in ``io.use``), ``noop`` (one more no-op
member per level, in process), ``memory-KIND`` (bytes per connected socket at 10 000
sockets). KIND: ``asgi`` (uvicorn) and ``wsgi`` (threading, gunicorn gthread).

Every server runs in its own process pinned to core 0, the load from this process on core 1
(the scripts' own helpers: ``connect_rate.py``, ``polling_rate.py``, ``event_rate.py``,
``storage_rate.py``, ``memory_rate.py``, ``chain_overhead.py``); the modes of a group
alternate in rounds and each figure is the median of the rounds. Written to ``--out``:
``suite.json``, ``suite.md`` (the table, the machine, the command, the profile) and
``ratios.png``; the py-spy samples as ``profile-full.txt``. ``--publish`` also copies the
chart to ``docs/img/bench-ratios.png`` and rewrites the generated part of
``docs/performance.md``. ``--quick`` is tiny counts: it checks that everything runs, it
measures nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pyspy_profile
import report
import targets

from connect_rate import load_average

HERE = Path(__file__).resolve().parent
QUICK = {"seconds": 0.3, "warmup": 0.2, "rounds": 1, "concurrency": 4, "addresses": 3,
         "polling_concurrency": 2, "event_connections": 4, "memory_sockets": 40,
         "memory_sockets_wsgi": 20, "noop_runs": 300}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = targets.Options()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny counts: checks that the suite runs, measures nothing")
    parser.add_argument("--only", default="", help="comma-separated groups (or prefixes)")
    parser.add_argument("--skip", default="", help="comma-separated groups (or prefixes)")
    parser.add_argument("--kinds", default=",".join(defaults.kinds),
                        help="server kinds: asgi, wsgi (default both)")
    for name in ("seconds", "warmup"):
        parser.add_argument(f"--{name}", type=float, default=None,
                            help=f"default {getattr(defaults, name):g}")
    for name in ("rounds", "concurrency", "addresses", "polling_concurrency",
                 "event_connections", "memory_sockets", "memory_sockets_wsgi", "noop_runs"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=None,
                            help=f"default {getattr(defaults, name)}")
    parser.add_argument("--redis", default=defaults.redis)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--publish", action="store_true",
                        help="copy the chart into docs/img and the table into "
                             "docs/performance.md")
    parser.add_argument("--docs", type=Path, default=HERE.parent / "docs",
                        help="the docs folder --publish writes into (default docs/)")
    parser.add_argument("--merge", type=Path, default=None,
                        help="a suite.json of an earlier run: its rows are kept where this "
                             "run (say --only one group, rerun) has none of the same id")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    parser.add_argument("--profile-seconds", type=float, default=None,
                        help="seconds of sampled load (default --seconds)")
    return parser.parse_args(argv)


def options(args: argparse.Namespace) -> targets.Options:
    """The counts: the defaults, ``--quick``'s, then each option given."""
    values: dict[str, Any] = dict(QUICK) if args.quick else {}
    for name in ("seconds", "warmup", "rounds", "concurrency", "addresses",
                 "polling_concurrency", "event_connections", "memory_sockets",
                 "memory_sockets_wsgi", "noop_runs"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    kinds = tuple(k for k in args.kinds.split(",") if k)
    bad = [k for k in kinds if k not in ("asgi", "wsgi")]
    if bad:
        raise SystemExit(f"bench/suite.py: --kinds: unknown kind {bad[0]!r} (asgi, wsgi)")
    return targets.Options(redis=args.redis, kinds=kinds, **values)


def selected(name: str, args: argparse.Namespace) -> bool:
    def matches(spec: str) -> bool:
        return any(name.startswith(s) for s in spec.split(",") if s)
    return (not args.only or matches(args.only)) and not matches(args.skip)


def progress(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measure every selected group; the result ``report.write`` takes."""
    opts = options(args)
    info = report.machine()
    info["load_before"] = load_average()
    busy = float(info["load_before"].split()[0])
    if busy > 1.5:  # the servers and the load generator need a core each
        progress(f"warning: load average {busy:g} before the run: other processes share "
                 "the cores, the rate ratios will be noisy (read the CPU ratios)")
    rows: list[dict[str, Any]] = []
    profile: dict[str, Any] | None = None
    for group in targets.groups(opts):
        if selected(group.name, args):
            rows += targets.run_group(group, opts, progress)
        if group.name == "connect-asgi" and selected("profile", args) \
                and not args.no_profile and "asgi" in opts.kinds:
            profile = run_profile(args, opts)
    if selected("noop", args):
        progress("noop: one more no-op member per level, in process")
        rows += targets.noop_rows(opts)
    memory = [k for k in opts.kinds if selected(f"memory-{k}", args)]
    if memory:
        rows += targets.memory_rows(targets.Options(**{**vars(opts), "kinds": tuple(memory)}),
                                    progress)
    info["load_after"] = load_average()
    return {"command": report.command_line(), "machine": info,
            "options": {**vars(opts), "quick": args.quick},
            "rows": rows, "profile": profile}


def run_profile(args: argparse.Namespace, opts: targets.Options) -> dict[str, Any]:
    """py-spy on the full chain's server during one connect run (not in the medians)."""
    progress("profile: py-spy record on the full chain's server during a connect run")
    args.out.mkdir(parents=True, exist_ok=True)
    out: Path = args.out
    seconds: float = args.profile_seconds or opts.seconds
    try:
        summary: dict[str, Any] = pyspy_profile.record(
            out / "profile-full.txt", seconds, opts.concurrency, opts.addresses, opts.warmup)
        return summary
    except RuntimeError as exc:
        progress(f"profile: not made: {exc}")
        return {"error": str(exc)}


def merged(earlier: dict[str, Any], rerun: dict[str, Any]) -> dict[str, Any]:
    """``earlier``'s rows with those ``rerun`` measured again replaced (same id, in place),
    then ``rerun``'s new ones; the machine and command of both are kept."""
    fresh = {row["id"]: row for row in rerun["rows"]}
    rows = [fresh.pop(row["id"], row) for row in earlier["rows"]]
    rows += list(fresh.values())
    return {**earlier, "rows": rows,
            "profile": rerun["profile"] or earlier.get("profile"),
            "command": f"{earlier['command']}; then {rerun['command']}",
            "machine": {**earlier["machine"],
                        "rerun_load": rerun["machine"].get("load_before")}}


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {1})
    result = run(args)
    if args.merge is not None:
        result = merged(json.loads(args.merge.read_text()), result)
    paths = report.write(result, args.out)
    print(report.table(result["rows"]))
    for name, path in paths.items():
        print(f"{name}: {path}")
    if args.publish:
        docs: Path = args.docs
        report.publish(result, paths["png"], docs / "performance.md",
                       docs / "img" / "bench-ratios.png")
        print(f"published: {docs / 'performance.md'}, {docs / 'img' / 'bench-ratios.png'}")
    failed = [r["id"] for r in result["rows"] if r.get("pass") is False]
    if failed:
        print(f"below target: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
