"""Where the full chain's server time goes: py-spy on the server during a connect run.

``bench/suite.py`` starts ``bench/server.py full PORT`` (uvicorn), warms it up, attaches
``py-spy record --pid PID --format raw`` (collapsed stacks, one line per distinct stack
with its sample count; py-spy needs ptrace: root, or ``CAP_SYS_PTRACE``) for the timed part
of one ``connect_rate.py`` load, and summarises the samples: the share of each component
(the innermost frame of each sample, by package: siomw's core, each plugin, python-socketio,
python-engineio, uvicorn, websockets, limits, PyJWT, structlog, asyncio, the rest of the
standard library) and the top functions by own time. The raw file is kept next to the
results (``speedscope`` and ``flamegraph.pl`` read it).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import connect_rate

#: (component, a regular expression on a frame's file as py-spy prints it: from the package
#: on, ``siomw_core/chain.py``) in order: the first that matches
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("siomw core", r"(^|/)siomw_core/"),
    ("siomw logging plugin", r"(^|/)siomw_logging/"),
    ("siomw jwt plugin", r"(^|/)siomw_jwt/"),
    ("siomw ratelimit plugin", r"(^|/)siomw_ratelimit/"),
    ("siomw headers plugin", r"(^|/)siomw_headers/"),
    ("python-socketio", r"(^|/)socketio/"),
    ("python-engineio", r"(^|/)engineio/"),
    ("uvicorn", r"(^|/)uvicorn/"),
    ("websockets", r"(^|/)websockets/"),
    ("h11", r"(^|/)h11/"),
    ("limits", r"(^|/)limits/"),
    ("PyJWT", r"(^|/)jwt/"),
    ("structlog", r"(^|/)structlog/"),
    ("asyncio", r"(^|/)asyncio/"),
)
#: components whose time is charged to their caller in the "charged" figures: a sample is
#: charged to its innermost frame of any other component (hmac's time to PyJWT, a socket
#: write's to uvicorn or python-engineio)
CHARGED_TO_CALLER = ("asyncio", "standard library (other)", "interpreter (no Python frame)")
#: the event loop waiting for sockets: idle, not work (py-spy samples it all the same)
IDLE = ("EpollSelector.select", "select")
FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    """The py-spy executable (the venv's, else on PATH), or None."""
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def component(file: str) -> str:
    """The component a frame's ``file`` belongs to (see :data:`COMPONENTS`)."""
    for name, pattern in COMPONENTS:
        if re.search(pattern, file):
            return name
    if not file or file.startswith("<"):
        return "interpreter (no Python frame)"
    top = file.split("/", 1)[0].removesuffix(".py")
    if top in sys.stdlib_module_names:
        return "standard library (other)"
    return "other (the benchmark's server module, other packages)"


def parse_frame(frame: str) -> tuple[str, str]:
    """``(function, file)`` of one raw frame ``func (file:line)``."""
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip(), ""
    return match["func"], match["file"]


def summarise(raw: Path, top: int = 15) -> dict[str, Any]:
    """``{"samples", "idle", "components": [[name, own share, charged share]],
    "functions": [[func, file, share]]}`` from py-spy's raw output: shares of the busy
    samples (those not waiting in the event loop's ``select``: ``idle`` is their share of
    all); own: each sample's innermost frame; charged: see :data:`CHARGED_TO_CALLER`."""
    components: Counter[str] = Counter()
    charged: Counter[str] = Counter()
    functions: Counter[tuple[str, str]] = Counter()
    total = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [parse_frame(f) for f in stack.split(";")]
        total += n
        func, file = frames[-1]
        if func in IDLE:
            idle += n
            continue
        components[component(file)] += n
        functions[(func, file)] += n
        owner = next((c for c in (component(f) for _, f in reversed(frames))
                      if c not in CHARGED_TO_CALLER), component(file))
        charged[owner] += n
    busy = total - idle

    def share(n: int) -> float:
        return round(n / busy, 4) if busy else 0.0

    return {"samples": total, "idle": round(idle / total, 4) if total else 0.0,
            "components": [[name, share(components[name]), share(charged[name])]
                           for name, _ in (components + charged).most_common()],
            "functions": [[f, file, share(n)] for (f, file), n in functions.most_common(top)]}


def record(out: Path, seconds: float, concurrency: int, addresses: int,
           warmup: float = 1.0, rate: int = 250) -> dict[str, Any]:
    """Profile ``bench/server.py full`` (uvicorn) during ``seconds`` of connect load; write
    the raw samples to ``out`` and return :func:`summarise`'s summary plus the run's
    ``cps``.

    Raises:
        RuntimeError: py-spy is missing or could not attach (no ptrace permission).
    """
    exe = py_spy()
    if exe is None:
        raise RuntimeError("py-spy is not installed (pip install py-spy)")

    def attach(pid: int) -> Callable[[], None]:
        spy = subprocess.Popen([exe, "record", "--pid", str(pid), "--format", "raw",
                                "--rate", str(rate), "--nonblocking", "--output", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

        def stop() -> None:
            spy.send_signal(signal.SIGINT)
            output, _ = spy.communicate(timeout=60)
            if not out.exists():
                raise RuntimeError(f"py-spy wrote no profile: {output.decode()[-500:]}")
        return stop

    result = connect_rate.measure("full", seconds, concurrency, "asgi", warmup, addresses,
                                  during=attach)
    return {**summarise(out), "cps": round(result["cps"], 1)}
