"""Run the reference JS ``socket.io-client`` (npm, ``tests/js``) against a test server."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

JS_DIR = Path(__file__).parent / "js"


def js_available() -> bool:
    """Node is on PATH and ``npm install`` ran in ``tests/js``."""
    installed = (JS_DIR / "node_modules" / "socket.io-client").is_dir()
    return shutil.which("node") is not None and installed


async def js_client(url: str, **spec: Any) -> list[dict[str, Any]]:
    """Drive one JS client; return its observations in order.

    ``spec`` keys (camelCase as in socket.io-client): ``namespace``, ``auth``,
    ``authFunction`` (send ``auth`` through a callback, as ``auth: (cb) => cb(...)``),
    ``transports``, ``extraHeaders``, ``query``, ``emit`` ({event, args}: emitWithAck after
    connect), ``timeoutMs``, ``leaveAfterMs`` (close the connection that long after the engine
    opened), ``listen`` (event names to record; an ack is answered ``"ack:<name>"``),
    ``lingerMs`` (stay connected that long after ``connect``), ``emits`` (a list of
    ``{event, args, ack=True}`` sent in order after connect; acked ones awaited),
    ``afterMs`` (stay that long after them). Arguments may hold ``{"$bytes": n, "fill":
    k}`` (a Buffer) and ``{"$string": n}``; received Buffers are recorded as ``{"$bytes":
    length, "first", "last"}``. Observations:
    ``{"event": "connect", "id", "active"}``,
    ``{"event": "on", "name", "args"}`` (a ``listen`` event and its arguments),
    ``{"event": "connect_error", "message", "data", "active"}``, ``{"event": "ack", "args"}``
    (``"name"`` too for ``emits``), ``{"event": "ack_error", "name", "message"}``,
    ``{"event": "emitted", "name"}``,
    ``{"event": "disconnect", "reason"}``, ``{"event": "timeout"}``, ``{"event": "left"}``.
    """
    payload = json.dumps({"url": url, **spec})
    proc = await asyncio.create_subprocess_exec(
        "node", str(JS_DIR / "connect.mjs"), payload,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    timeout = spec.get("timeoutMs", 5000) / 1000 + 10
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"node exited {proc.returncode}: {stderr.decode()}")
    return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]


async def js_outcome(url: str, **spec: Any) -> dict[str, Any]:
    """The first ``connect`` or ``connect_error`` observation (``timeout`` if none)."""
    for obs in await js_client(url, **spec):
        if obs["event"] in ("connect", "connect_error", "timeout"):
            return obs
    return {"event": "none"}


async def run_node_script(script: Path, url: str, **spec: Any) -> list[dict[str, Any]]:
    """Run a test's own Node script (``node script '{"url", **spec}'``) that prints one JSON
    observation per line; returns them in order. ``spec["overallMs"]`` (default 20000)
    bounds its run, plus 10 s.

    Raises:
        RuntimeError: node exited with a non-zero status (its stderr in the message).
    """
    payload = json.dumps({"url": url, **spec})
    proc = await asyncio.create_subprocess_exec(
        "node", str(script), payload,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(),
                                            spec.get("overallMs", 20000) / 1000 + 10)
    if proc.returncode != 0:
        raise RuntimeError(f"node exited {proc.returncode}: {stderr.decode()}")
    return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]
