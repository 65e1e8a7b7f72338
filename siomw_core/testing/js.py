"""The reference JS client, ``socket.io-client`` run by Node, against a test's server.

``socket.io-client`` is looked up, in order: ``$SIOMW_JS_MODULES`` (a ``node_modules``
folder), ``node_modules`` in the project's root and each of its parents, the project's
``tests/js/node_modules`` and ``js/node_modules``; else it is installed once with npm into a
cache folder (``$XDG_CACHE_HOME/siomw/js``, ``~/.cache/siomw/js``), saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .outcomes import Outcome

__all__ = ["CLIENT_VERSION", "JsClient", "JsUnavailable", "find_modules", "install_modules"]

#: the socket.io-client npm installs into the cache (the Socket.IO v4 protocol siomw speaks)
CLIENT_VERSION = "4.8.4"

#: one run of the client: connect, send ``emits`` in order (acked), print one JSON line per
#: observation, exit. spec: {url, namespace, auth, extraHeaders, transports, emits, timeoutMs,
#: modules}
SCRIPT = r"""
import { createRequire } from "node:module";
import path from "node:path";
const spec = JSON.parse(process.env.SIOMW_JS_SPEC);
const require = createRequire(path.join(spec.modules, "..", "siomw-testing.cjs"));
const { io } = require("socket.io-client");
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const opts = { reconnection: false, forceNew: true, timeout: spec.timeoutMs };
if (spec.transports) opts.transports = spec.transports;
if (spec.extraHeaders) opts.extraHeaders = spec.extraHeaders;
if (spec.auth !== null && spec.auth !== undefined) opts.auth = spec.auth;
const socket = io(spec.url + spec.namespace, opts);
const finish = () => { socket.disconnect(); setTimeout(() => process.exit(0), 20); };
const timer = setTimeout(() => { out({ event: "timeout" }); finish(); }, spec.timeoutMs + 500);
socket.on("connect", async () => {
  out({ event: "connect" });
  for (const item of spec.emits) {
    try {
      const args = await socket.timeout(spec.timeoutMs).emitWithAck(item.event, ...item.args);
      out({ event: "ack", name: item.event, args: [args] });
    } catch (err) {
      out({ event: "ack_error", name: item.event, message: String(err && err.message) });
    }
  }
  clearTimeout(timer);
  finish();
});
socket.on("connect_error", (err) => {
  let body = null;
  const ctx = err && err.context;
  if (ctx && typeof ctx.responseText === "string") body = ctx.responseText;
  out({ event: "connect_error", message: err.message, data: err.data ?? null,
        description: typeof err.description === "number" ? err.description : null, body });
  clearTimeout(timer);
  finish();
});
"""


class JsUnavailable(RuntimeError):
    """Node, npm or ``socket.io-client`` cannot be had (the message says which)."""


def _has_client(modules: Path) -> bool:
    return (modules / "socket.io-client" / "package.json").is_file()


def find_modules(root: Path) -> Path | None:
    """A ``node_modules`` folder holding ``socket.io-client`` near ``root`` (see the module
    docstring), or None."""
    env = os.environ.get("SIOMW_JS_MODULES")
    candidates = [Path(env)] if env else []
    candidates += [folder / "node_modules" for folder in (root, *root.parents)]
    candidates += [root / "tests" / "js" / "node_modules", root / "js" / "node_modules"]
    return next((c.resolve() for c in candidates if _has_client(c)), None)


def cache_dir() -> Path:
    """Where npm installs ``socket.io-client`` when none is found."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "siomw" / "js"


def install_modules(say: Callable[[str], None]) -> Path:
    """Install ``socket.io-client@CLIENT_VERSION`` with npm into :func:`cache_dir` (once;
    ``say`` tells the user first); returns its ``node_modules``.

    Raises:
        JsUnavailable: npm is missing or failed (its output in the message).
    """
    folder = cache_dir()
    modules = folder / "node_modules"
    if _has_client(modules):
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise JsUnavailable("socket.io-client is not installed near the project and npm is "
                            "not on PATH to install it")
    folder.mkdir(parents=True, exist_ok=True)
    say(f"siomw: installing socket.io-client@{CLIENT_VERSION} with npm into {folder} "
        "(first use; SIOMW_JS_MODULES names a node_modules of your own)")
    done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(folder),
                           f"socket.io-client@{CLIENT_VERSION}"],
                          capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0 or not _has_client(modules):
        raise JsUnavailable(f"npm install socket.io-client failed ({done.returncode}):\n"
                            f"{done.stderr[-2000:]}")
    return modules


class JsClient:
    """Drives the JS ``socket.io-client`` (one Node process per attempt).

    Attributes:
        node: the ``node`` executable.
        modules: the ``node_modules`` folder holding ``socket.io-client``.
    """

    def __init__(self, node: str, modules: Path) -> None:
        self.node = node
        self.modules = modules

    def run(self, url: str, *, auth: Any = None, namespace: str = "/",
            headers: dict[str, str] | None = None, transport: str | None = None,
            emits: list[tuple[str, list[Any]]] | None = None,
            timeout: float = 5) -> list[dict[str, Any]]:
        """One client run: connect, then each ``(event, args)`` of ``emits`` with an ack;
        its observations in order (``{"event": "connect"}``, ``{"event": "connect_error",
        "message", "data", "description", "body"}``, ``{"event": "ack", "name", "args"}``,
        ``{"event": "ack_error", "name", "message"}``, ``{"event": "timeout"}``).

        Raises:
            RuntimeError: node failed (its stderr in the message).
        """
        spec = {"url": url, "namespace": "" if namespace == "/" else namespace, "auth": auth,
                "extraHeaders": headers, "transports": [transport] if transport else None,
                "emits": [{"event": e, "args": list(a)} for e, a in emits or []],
                "timeoutMs": int(timeout * 1000), "modules": str(self.modules)}
        done = subprocess.run([self.node, "--input-type=module", "-e", SCRIPT],
                              env={**os.environ, "SIOMW_JS_SPEC": json.dumps(spec)},
                              capture_output=True, text=True, timeout=timeout + 20, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"node exited {done.returncode}: {done.stderr[-2000:]}")
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    def connect(self, url: str, *, auth: Any = None, namespace: str = "/",
                headers: dict[str, str] | None = None, transport: str | None = None,
                timeout: float = 5) -> Outcome:
        """One connection attempt (closed after). ``transport``: None (the client's default:
        polling, then the upgrade), ``"polling"`` or ``"websocket"``. A refused handshake
        is ``connect_error`` with the HTTP status (polling) and the engine's JSON body."""
        seen = self.run(url, auth=auth, namespace=namespace, headers=headers,
                        transport=transport, timeout=timeout)
        return _outcome(seen[0] if seen else {"event": "timeout"}, timeout)

    def call(self, url: str, event: str, *args: Any, auth: Any = None, namespace: str = "/",
             headers: dict[str, str] | None = None, transport: str | None = None,
             timeout: float = 5) -> Any:
        """Connect, emit ``event`` with ``args`` and return its ack's value (as
        :meth:`siomw_core.testing.clients.Client.call`).

        Raises:
            AssertionError: the connection was refused.
            TimeoutError: no ack within ``timeout`` seconds.
        """
        seen = self.run(url, auth=auth, namespace=namespace, headers=headers,
                        transport=transport, emits=[(event, list(args))], timeout=timeout)
        first = seen[0] if seen else {"event": "timeout"}
        if first["event"] != "connect":
            raise AssertionError(f"expected the JS client to connect; got "
                                 f"{_outcome(first, timeout).describe()}")
        for item in seen[1:]:
            if item["event"] == "ack":
                return item["args"][0]
        raise TimeoutError(f"no ack for {event!r} within {timeout} s (JS client: {seen})")


def _outcome(obs: dict[str, Any], timeout: float) -> Outcome:
    if obs["event"] == "connect":
        return Outcome(True)
    if obs["event"] == "connect_error":
        status = obs.get("description")
        body = obs.get("body")
        if body:
            engine = Outcome.from_http(status or 500, {}, body)
            if not engine.accepted and engine.data is not None:
                return Outcome(False, engine.message, engine.data, status, "connect")
        return Outcome(False, obs.get("message"), obs.get("data"), status, "connect")
    return Outcome(False, f"no answer to the CONNECT within {timeout} s")
