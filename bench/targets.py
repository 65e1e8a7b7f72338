"""Issue 10's targets as ``bench/suite.py`` measures them: groups of servers run in
interleaved rounds, and the rows (target, measured ratio or value, pass/fail) they give.

A :class:`Group` is a set of modes (one server each, started by the existing scripts:
``connect_rate.py``, ``polling_rate.py``, ``event_rate.py``, ``storage_rate.py``, Node's
``node/server.mjs``, ``siomw serve``); every round runs each mode once, in order, so that
drift on a shared machine hits all alike, and each figure is the median of the rounds. A
:class:`Ratio` row divides one mode's rate by another's from the same group (the same run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import event_rate
import polling_rate
import storage_rate

import connect_rate

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node"


@dataclass
class Options:
    """The suite's counts (``bench/suite.py --help`` names each)."""

    seconds: float = 5.0
    warmup: float = 1.0
    rounds: int = 3
    concurrency: int = 50
    addresses: int = 250
    polling_concurrency: int = 5
    event_connections: int = 50
    memory_sockets: int = 10000
    memory_sockets_wsgi: int = 1000
    noop_runs: int = 20000
    redis: str = "redis://127.0.0.1:6379"
    kinds: tuple[str, ...] = ("asgi", "wsgi")


#: one server's measurement: {"rate", "cpu_us", "busy", "n"} (rate per second, server CPU
#: microseconds per unit, server CPU seconds per second, units done)
Runner = Callable[[Options], dict[str, float]]


@dataclass
class Ratio:
    """A row: ``num``'s rate over ``den``'s, both modes of one group; ``goal`` None is
    reported without a target (Node's side, bare against bare)."""

    id: str
    target: str
    num: str
    den: str
    goal: float | None
    side: str = "siomw"


@dataclass
class Group:
    """Modes measured in interleaved rounds, and the rows they give."""

    name: str
    kind: str
    level: str
    unit: str
    modes: dict[str, Runner]
    rows: list[Ratio]
    #: why the group cannot run here (None: it can)
    missing: Callable[[], str | None] = lambda: None
    #: called once after the rounds (deleting a run's Redis keys)
    cleanup: Callable[[], None] = lambda: None
    results: dict[str, list[dict[str, float]]] = field(default_factory=dict)


def _rate(result: dict[str, float], key: str) -> dict[str, float]:
    return {"rate": result[key], "cpu_us": result["cpu_us"],
            "busy": result.get("busy", result["cpu_us"] * result[key] / 1e6),
            "n": result.get("n", 0)}


def connect(mode: str, kind: str, hot: bool = False, deflate: bool = False,
            command: connect_rate.Command | None = None,
            env: dict[str, str] | None = None, tokens: str = "fresh") -> Runner:
    """``connect_rate.py``'s load on ``mode`` (every client on 127.0.0.1 when ``hot``;
    ``command``, ``env``: the server's, see ``connect_rate.start``; ``tokens``: each
    connection its own token, ``"fresh"``, as in a deployment, or ``"one"`` for all: see
    ``connect_rate.load``)."""
    def run(o: Options) -> dict[str, float]:
        return _rate(connect_rate.measure(
            mode, o.seconds, o.concurrency, kind, o.warmup, 0 if hot else o.addresses,
            deflate=deflate, tokens=tokens, command=command, env=env), "cps")
    return run


def node(mode: str) -> connect_rate.Command:
    """The command of Node's server in ``mode`` (``node/server.mjs``)."""
    return lambda port: ["node", str(NODE_DIR / "server.mjs"), mode, str(port)]


def node_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE_DIR / "node_modules" / "socket.io").is_dir():
        return "bench/node has no node_modules: run `npm ci` in bench/node"
    return None


def quiet(cmd: list[str]) -> list[str]:
    """``cmd`` with its standard output and error sent to /dev/null (uvicorn's default
    access log writes a line per request); ``exec`` keeps the pid (its CPU is measured)."""
    return ["sh", "-c", 'exec "$@" >/dev/null 2>&1', "sh", *cmd]


def serve_commands() -> dict[str, connect_rate.Command]:
    """The three servers of the ``siomw serve`` target (see ``serve_app.py``)."""
    siomw = str(Path(sys.executable).parent / "siomw")
    config = str(HERE / "serve_full.toml")
    return {
        "uvicorn-bare": lambda port: quiet([sys.executable, "-m", "uvicorn", "serve_app:app",
                                            "--host", "127.0.0.1", "--port", str(port)]),
        "serve-full": lambda port: quiet([siomw, "--config", config, "serve", "serve_app:app",
                                          "--host", "127.0.0.1", "--port", str(port)]),
        "serve-bare": lambda port: quiet([sys.executable, str(HERE / "serve_app.py"),
                                          str(port)]),
    }


#: each ``siomw serve`` setting's variable (``siomw_core.serve_tuning.ENV``) and the value
#: that leaves it as plain uvicorn and the interpreter have it
PLAIN_SETTINGS = {"SIOMW_GC_FREEZE": "0", "SIOMW_GC_THRESHOLD": "0",
                  "SIOMW_WS_PER_MESSAGE_DEFLATE": "1"}


def serve_settings() -> dict[str, str]:
    """``siomw serve``'s settings, by variable: the value that switches each back to plain
    uvicorn's (empty when this siomw has none)."""
    try:
        from siomw_core.serve_tuning import ENV
    except ImportError:
        return {}
    return {var: PLAIN_SETTINGS[var] for var in ENV.values() if var in PLAIN_SETTINGS}


def settings_group(kind: str) -> Group:
    """``siomw serve``'s full chain with all its settings, and with each one switched back
    to plain uvicorn's: each setting's effect, in the same run."""
    serve = serve_commands()["serve-full"]
    settings = serve_settings()
    modes = {"serve-full": connect("serve-full", kind, deflate=True, command=serve)}
    rows = []
    for var, plain in settings.items():
        name = f"{var}={plain}"
        modes[name] = connect(name, kind, deflate=True, command=serve, env={var: plain})
        rows.append(Ratio(f"serve-setting-{var.lower()}", f"`siomw serve` full chain with "
                          f"{name} (as plain uvicorn) vs with every setting (no target)",
                          name, "serve-full", None))

    def missing() -> str | None:
        return None if settings else "this siomw has no serve settings (siomw_core.serve_tuning)"

    return Group(f"serve-settings-{kind}", kind, "connect", "conn/s", modes, rows or [
        Ratio("serve-settings", "`siomw serve` settings", "serve-full", "serve-full", None)],
        missing=missing)


def polling(mode: str, kind: str) -> Runner:
    def run(o: Options) -> dict[str, float]:
        return _rate(polling_rate.measure(mode, o.seconds, o.polling_concurrency, kind,
                                          o.warmup), "rps")
    return run


def events(mode: str, kind: str) -> Runner:
    def run(o: Options) -> dict[str, float]:
        return _rate(event_rate.measure(mode, o.seconds, o.event_connections, kind,
                                        o.warmup), "eps")
    return run


class Storage:
    """``storage_rate.py``'s modes against one Redis, with a key prefix per server start."""

    def __init__(self, options: Options, kind: str = "asgi") -> None:
        self.options = options
        self.kind = kind
        self.base = f"siomw-bench-suite-{os.getpid()}-{int(time.time())}-{kind}"
        self.count = 0
        self.client: Any = None

    def missing(self) -> str | None:
        import redis

        try:
            self.client = redis.Redis.from_url(self.options.redis)
            self.client.ping()
        except (redis.RedisError, OSError) as exc:
            return f"Redis at {self.options.redis} does not answer ({exc})"
        os.environ[storage_rate.REDIS_ENV] = self.options.redis
        return None

    def runner(self, mode: str) -> Runner:
        def run(o: Options) -> dict[str, float]:
            self.count += 1
            args = argparse.Namespace(concurrency=o.concurrency, addresses=o.addresses,
                                      seconds=o.seconds, warmup=o.warmup, kind=self.kind)
            result = storage_rate.measure(mode, f"{self.base}-{mode}-{self.count}",
                                          self.client, args)
            if mode != "memory" and result["redis_scripts"] < 0.99:
                raise RuntimeError(f"storage {mode}: the limiter fell back to memory "
                                   "(Redis past storage_timeout): the machine is too busy")
            return _rate(result, "cps")
        return run

    def cleanup(self) -> None:
        if self.client is not None:
            storage_rate.delete_keys(self.client, self.base)
            self.client.close()


def groups(options: Options) -> list[Group]:
    """Every group of the suite, for ``options.kinds``."""
    found: list[Group] = []
    for kind in options.kinds:
        found += [
            Group(f"connect-{kind}", kind, "connect", "conn/s",
                  {"bare": connect("bare", kind), "full": connect("full", kind),
                   "byhand": connect("byhand", kind),
                   "full-one-token": connect("full", kind, tokens="one")},
                  [Ratio(f"connect-{kind}", "connect, full chain, many client addresses",
                         "full", "bare", 0.90),
                   Ratio(f"connect-one-token-{kind}", "connect, full chain, one token for "
                         "every connection (the jwt plugin's cache hits; no target)",
                         "full-one-token", "bare", None),
                   Ratio(f"byhand-{kind}", "connect, the same work by hand in the handler "
                         "(PyJWT + limits + structlog; no target)", "byhand", "bare", None,
                         "by hand")]),
            Group(f"connect-hot-{kind}", kind, "connect", "conn/s",
                  {"bare": connect("bare", kind, hot=True),
                   "full-hot": connect("full-hot", kind, hot=True)},
                  [Ratio(f"connect-hot-{kind}", "connect, full chain, one client address "
                         "(hot key)", "full-hot", "bare", 0.85)]),
            Group(f"engine-{kind}", kind, "engine", "req/s",
                  {"bare": polling("bare", kind), "engine": polling("engine", kind)},
                  [Ratio(f"engine-{kind}", "engine, full chain on polling (logging + jwt "
                         "handshake + ratelimit http + headers)", "engine", "bare", 0.80)]),
            Group(f"event-{kind}", kind, "event", "events/s",
                  {"bare": events("bare", kind), "full": events("full", kind)},
                  [Ratio(f"event-{kind}", "event, ratelimit + jwt expiry + logging "
                         "(events = false)", "full", "bare", 0.90)]),
        ]
        storage = Storage(options, kind)
        found.append(Group(
            f"storage-{kind}", kind, "connect", "conn/s",
            {"memory": storage.runner("memory"), "redis": storage.runner("redis")},
            [Ratio(f"storage-{kind}", "connect, full chain: Redis storage vs memory",
                   "redis", "memory", 0.80)],
            missing=storage.missing, cleanup=storage.cleanup))
        if kind == "asgi":
            cmds = serve_commands()
            found.append(Group(
                "serve-asgi", kind, "connect", "conn/s",
                {name: connect(name, kind, deflate=True, command=cmd)
                 for name, cmd in cmds.items()},
                [Ratio("serve-asgi", "`siomw serve` full chain vs bare under plain `uvicorn`",
                       "serve-full", "uvicorn-bare", 1.0),
                 Ratio("serve-bare-asgi", "bare under `siomw serve`'s settings vs bare under "
                       "plain `uvicorn` (no target)", "serve-bare", "uvicorn-bare", None)]))
            found.append(settings_group(kind))
            found.append(Group(
                "node", "node", "connect", "conn/s",
                {"bare": connect("bare", kind, command=node("bare")),
                 "full": connect("full", kind, command=node("full")),
                 "bare-hot": connect("bare", kind, hot=True, command=node("bare")),
                 "full-hot": connect("full-hot", kind, hot=True, command=node("full-hot"))},
                [Ratio("node-connect", "Node socket.io + jsonwebtoken + rate-limiter-flexible "
                       "+ pino in io.use, many client addresses", "full", "bare", None, "node"),
                 Ratio("node-connect-hot", "Node socket.io, the same, one client address",
                       "full-hot", "bare-hot", None, "node")],
                missing=node_missing))
    return found


def run_group(group: Group, options: Options,
              progress: Callable[[str], None]) -> list[dict[str, Any]]:
    """Measure ``group`` (``options.rounds`` interleaved rounds) and return its rows."""
    def unmeasured(note: str, verdict: bool | None) -> list[dict[str, Any]]:
        progress(f"{group.name}: {note}")
        return [{"id": r.id, "target": r.target, "side": r.side, "kind": group.kind,
                 "level": group.level, "goal": r.goal, "ratio": None,
                 "pass": verdict if r.goal is not None else None, "note": note}
                for r in group.rows]

    reason = group.missing()
    if reason:
        return unmeasured(f"not run: {reason}", None)
    group.results = {mode: [] for mode in group.modes}
    try:
        for n in range(options.rounds):
            for mode, runner in group.modes.items():
                result = runner(options)
                group.results[mode].append(result)
                progress(f"{group.name} round {n + 1}: {mode} {result['rate']:.1f} "
                         f"{group.unit}, {result['cpu_us']:.1f} us CPU each")
    except (RuntimeError, OSError, AssertionError) as exc:
        # a refused connection, a server that did not start: this group fails, the run goes on
        return unmeasured(f"failed: {type(exc).__name__}: {str(exc)[:200]}", False)
    finally:
        group.cleanup()

    def median(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in group.results[mode])

    rows = []
    for r in group.rows:
        ratio = median(r.num, "rate") / median(r.den, "rate")
        cpu_ratio = median(r.den, "cpu_us") / median(r.num, "cpu_us")
        rows.append({
            "id": r.id, "target": r.target, "side": r.side, "kind": group.kind,
            "level": group.level, "goal": r.goal, "ratio": round(ratio, 3),
            "cpu_ratio": round(cpu_ratio, 3),
            "pass": None if r.goal is None else ratio >= r.goal,
            "unit": group.unit, "modes": [r.num, r.den],
            "rates": [round(median(r.num, "rate"), 1), round(median(r.den, "rate"), 1)],
            "cpu_us": [round(median(r.num, "cpu_us"), 1), round(median(r.den, "cpu_us"), 1)],
            "busy": [round(median(r.num, "busy"), 2), round(median(r.den, "busy"), 2)],
            "rounds": {m: [round(x["rate"], 1) for x in group.results[m]]
                       for m in (r.num, r.den)},
        })
    return rows


def noop_rows(options: Options) -> list[dict[str, Any]]:
    """One more no-op member at each level, in process (``chain_overhead.per_member``)."""
    from chain_overhead import per_member

    costs = per_member(options.noop_runs)
    names = {"connect": ("asgi", "connect"), "engine": ("asgi", "engine"),
             "event": ("asgi", "event"), "sync": ("wsgi", "connect, engine, event")}
    return [{"id": f"noop-{level}", "target": f"one more no-op member, {names[level][1]} "
             "level (CPU us)", "side": "siomw", "kind": names[level][0], "level": level,
             "goal": 1.0, "value": round(us, 2), "unit": "us", "pass": us <= 1.0}
            for level, us in costs.items() if names[level][0] in options.kinds]


def memory_rows(options: Options, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    """Bytes per connected socket added by the full chain (``memory_rate.py``)."""
    import memory_rate

    rows = []
    for kind in options.kinds:
        sockets = options.memory_sockets_wsgi if kind == "wsgi" else options.memory_sockets
        try:
            bare = memory_rate.measure("bare", sockets, kind)
            full = memory_rate.measure("full", sockets, kind)
        except (RuntimeError, OSError, AssertionError) as exc:
            note = f"failed: {type(exc).__name__}: {str(exc)[:200]}"
            progress(f"memory-{kind}: {note}")
            rows.append({"id": f"memory-{kind}", "target": f"memory added per connected "
                         f"socket at {sockets} sockets", "side": "siomw", "kind": kind,
                         "level": "connect", "goal": 2048, "unit": "B", "pass": False,
                         "note": note})
            continue
        added = full["per_socket"] - bare["per_socket"]
        progress(f"memory-{kind}: bare {bare['per_socket']:.0f} B/socket, full "
                 f"{full['per_socket']:.0f} B/socket at {sockets} sockets")
        rows.append({"id": f"memory-{kind}", "target": f"memory added per connected socket "
                     f"at {sockets} sockets (bytes, tracemalloc after GC)", "side": "siomw",
                     "kind": kind, "level": "connect", "goal": 2048, "value": round(added),
                     "unit": "B", "pass": added <= 2048,
                     "per_socket": [round(full["per_socket"]), round(bare["per_socket"])]})
    return rows
