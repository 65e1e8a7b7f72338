"""The bundled demo app that ``siomw serve`` runs when no APP is given.

- namespace ``/``: an ``echo`` event answers through its ack with what it received, and
  ``whoami`` returns the claims the middlewares stored in the session;
- namespace ``/admin``: the same, and the jwt plugin requires the scope ``admin`` there;
- ``/`` (through :func:`demo_asgi_app`): a page that loads socket.io-client's browser build,
  connects with ``auth: {token}`` from the page's ``?token=...`` and shows ``connect`` or
  ``connect_error`` (message and data);
- ``/socket.io/metrics``, when the metrics plugin is installed: its page, which
  ``scripts/demo.sh`` reads after its clients ran (:func:`metrics_summary`).
"""

from __future__ import annotations

import importlib.metadata as md
import os
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import socketio

from .config import EMBEDDED, Config

if TYPE_CHECKING:  # server.py is a higher floor: imported for the annotation only
    from .server import Siomw

__all__ = [
    "CLIENT_JS_ENV",
    "DEMO_CONNECT_LIMIT",
    "DEMO_ORIGIN",
    "DemoPage",
    "client_js_path",
    "create_server",
    "demo_asgi_app",
    "demo_config",
    "metrics_summary",
    "print_metrics",
]

#: the demo's connect limit per client address, so the refusal shows after a few tries
DEMO_CONNECT_LIMIT = "20/minute"


def create_server() -> socketio.AsyncServer:
    """A new ``AsyncServer`` with the demo's handlers on ``/`` and ``/admin``."""
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")

    for namespace in ("/", "/admin"):

        async def echo(sid: str, data: Any = None) -> Any:
            return data

        async def whoami(sid: str, _data: Any = None, namespace: str = namespace) -> Any:
            session = await sio.get_session(sid, namespace=namespace)
            return session.get("user")

        async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
            return None

        sio.on("echo", echo, namespace=namespace)
        sio.on("whoami", whoami, namespace=namespace)
        sio.on("connect", connect, namespace=namespace)
    return sio


#: the place errors name for a key the demo added (``siomw serve`` without APP, no file)
DEMO_ORIGIN = "the demo's defaults (siomw serve without APP)"


def demo_config(config: Config) -> Config:
    """The demo's additions to a config that came from the embedded defaults.

    When no file was found: ``/admin`` requires the scope ``admin`` (jwt plugin) and the
    connect limit is :data:`DEMO_CONNECT_LIMIT` (ratelimit plugin); a key the environment
    sets wins. A config from a file is used as it is. Returns a copy (``config`` is left as
    it is) that keeps every origin and problem of ``config``, so errors still name the
    environment variable or the keyword a value came from; the demo's own keys are named
    :data:`DEMO_ORIGIN`.
    """
    if config.source != EMBEDDED:
        return config
    installed = {ep.name for ep in md.entry_points(group="siomw")}
    tables = dict(config.tables)
    origins = dict(config.origins)
    additions = {"jwt": ("namespaces", {"/admin": {"scopes": ["admin"]}}),
                 "ratelimit": ("connect", DEMO_CONNECT_LIMIT)}
    for plugin, (key, value) in additions.items():
        if plugin in installed and key not in tables.get(plugin, {}):
            tables[plugin] = {**tables.get(plugin, {}), key: value}
            origins[(plugin, key)] = DEMO_ORIGIN
    return replace(config, tables=tables, origins=origins)


# --- the browser page (served beside the engine by demo_asgi_app) ---------------------------

#: environment variable naming socket.io-client's browser build (``dist/socket.io.min.js``)
CLIENT_JS_ENV = "SIOMW_CLIENT_JS"
#: where ``npm ci --prefix tests/js`` puts the browser build, relative to the repository
REPO_CLIENT_JS = Path("tests/js/node_modules/socket.io-client/dist/socket.io.min.js")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>siomw demo</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 50rem; }
#status { font-size: 1.4rem; font-weight: bold; }
.connect { color: #176b2c; } .connect_error, .missing { color: #b00020; }
pre { background: #f4f4f4; padding: 1rem; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>siomw demo</h1>
<p>Connects to namespace <code id="namespace"></code> with <code>auth: {token}</code> taken
from this page's URL (<code>?token=...</code>; also <code>?ns=/admin</code>,
<code>?transports=polling</code>). Get a token with <code>siomw token</code>.</p>
<p id="status">connecting...</p>
<pre id="events"></pre>
__CLIENT__
<script>
(function () {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  const namespace = params.get("ns") || "/";
  const events = document.getElementById("events");
  const status = document.getElementById("status");
  document.getElementById("namespace").textContent = namespace;
  window.siomwEvents = [];
  function show(event, detail) {
    const record = Object.assign({event: event}, detail);
    window.siomwEvents.push(record);
    if (event !== "whoami") {
      status.textContent = event + (detail.message ? ": " + detail.message : "");
      status.className = event;
    }
    events.textContent += JSON.stringify(record) + "\\n";
  }
  if (typeof io === "undefined") {
    show("missing", {message: "socket.io-client's browser build is missing (see above)"});
    return;
  }
  const options = {reconnection: false, auth: token === null ? {} : {token: token}};
  if (params.get("transports")) options.transports = params.get("transports").split(",");
  const socket = io(namespace, options);
  socket.on("connect", function () {
    show("connect", {id: socket.id, transport: socket.io.engine.transport.name});
    socket.timeout(5000).emit("whoami", null, function (err, user) {
      show("whoami", err ? {message: String(err)} : {user: user === undefined ? null : user});
    });
  });
  socket.on("connect_error", function (err) {
    const detail = {message: err.message, data: err.data === undefined ? null : err.data};
    if (err.description !== undefined) {
      detail.description = typeof err.description === "number"
        ? err.description : String(err.description);
    }
    show("connect_error", detail);
  });
  socket.on("disconnect", function (reason) { show("disconnect", {reason: reason}); });
})();
</script>
</body>
</html>
"""

MISSING = """<p class="missing" id="missing"><strong>The JS client is missing:</strong>
socket.io-client's <code>dist/socket.io.min.js</code> was not found. Run
<code>npm ci --prefix tests/js</code> in the repository, or set <code>SIOMW_CLIENT_JS</code>
to the file's path, and restart <code>siomw serve</code>.</p>"""


def client_js_path() -> Path | None:
    """socket.io-client's browser build: ``$SIOMW_CLIENT_JS``, else the repository's
    ``tests/js/node_modules`` copy (relative to this package's source tree), else None.

    An ``SIOMW_CLIENT_JS`` naming a file that does not exist gives None (the page says so)
    rather than falling back silently.
    """
    configured = os.environ.get(CLIENT_JS_ENV)
    if configured:
        path = Path(configured)
        return path if path.is_file() else None
    path = Path(__file__).resolve().parent.parent / REPO_CLIENT_JS
    return path if path.is_file() else None


class DemoPage:
    """A tiny ASGI app: ``/`` is the demo page, ``/socket.io.min.js`` the JS client.

    Args:
        client_js: the browser build to serve (None: the page says it is missing and
            ``/socket.io.min.js`` answers 404). Read once, when the app is built.
    """

    def __init__(self, client_js: Path | None) -> None:
        self.client_js = client_js.read_bytes() if client_js is not None else None
        script = ('<script src="/socket.io.min.js"></script>' if self.client_js is not None
                  else MISSING)
        self.page = PAGE.replace("__CLIENT__", script).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan and stray WebSockets: nothing to do
            return
        path = scope["path"]
        if path == "/":
            await _respond(send, 200, "text/html; charset=utf-8", self.page)
        elif path == "/socket.io.min.js" and self.client_js is not None:
            await _respond(send, 200, "application/javascript; charset=utf-8", self.client_js)
        else:
            await _respond(send, 404, "text/plain; charset=utf-8", b"not found\n")


async def _respond(send: Send, status: int, content_type: str, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]})
    await send({"type": "http.response.body", "body": body})


def demo_asgi_app(stack: Siomw, client_js: Path | None = None) -> Any:
    """What ``siomw serve`` serves for the demo: the engine (behind the engine chain) on
    ``/socket.io/`` and the demo page on ``/``.

    Args:
        stack: the demo server's :class:`~siomw_core.server.Siomw`.
        client_js: the JS client's browser build (None: :func:`client_js_path`; when that
            finds nothing the page says the client is missing).

    Returns:
        The ASGI application, ``stack.asgi_app(other_asgi_app=DemoPage(...))``.
    """
    return stack.asgi_app(other_asgi_app=DemoPage(client_js or client_js_path()))


# --- after the clients: what the metrics plugin counted -----------------------------------

#: where the metrics plugin serves its page on the demo's own server (its default path)
METRICS_PATH = "/socket.io/metrics"


def metrics_summary(text: str) -> list[str]:
    """A few lines of a metrics page (Prometheus' text format, parsed by prometheus_client):
    the attempts per level, namespace, outcome and refusal code, each member's mean own
    time, the sockets still connected.

    Raises:
        ValueError: ``text`` is not the text format.
    """
    from prometheus_client.parser import text_string_to_metric_families

    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    lines = ["attempts (siomw_attempts_total):"]
    attempts = sorted((s for s in samples if s.name == "siomw_attempts_total" and s.value),
                      key=lambda s: (s.labels["level"], s.labels["namespace"],
                                     s.labels["outcome"], s.labels["code"]))
    for s in attempts:
        where = f"{s.labels['level']} {s.labels['namespace']}".strip()
        why = f"{s.labels['outcome']} {s.labels['code']}".strip()
        lines.append(f"  {where:<16} {why:<32} {int(s.value)}")
    sums: dict[tuple[str, str], list[float]] = {}  # (level, member) -> [seconds, runs]
    for s in samples:
        part = s.name.removeprefix("siomw_member_duration_seconds_")
        if part in ("sum", "count"):
            pair = sums.setdefault((s.labels["level"], s.labels["member"]), [0.0, 0.0])
            pair[0 if part == "sum" else 1] += s.value
    if sums:
        lines.append("mean own time per member (siomw_member_duration_seconds):")
        for (level, member), (total, count) in sorted(sums.items()):
            if count:
                lines.append(f"  {level:<8} {member:<18} {total / count * 1000:8.3f} ms "
                             f"over {int(count)} runs")
    gauge = [s for s in samples if s.name == "siomw_connected_sockets"]
    lines.append("connected sockets (siomw_connected_sockets): " + (", ".join(
        f"{s.labels['namespace']} {int(s.value)}" for s in gauge) or "none yet"))
    return lines


def print_metrics(url: str) -> int:
    """Print :func:`metrics_summary` of the demo server at ``url``'s metrics page.

    Returns:
        0, or 1 when the page cannot be read (the metrics plugin is not installed or not
        enabled: the line says so).
    """
    import urllib.error
    import urllib.request

    page = url.rstrip("/") + METRICS_PATH
    try:
        with urllib.request.urlopen(page, timeout=5) as response:
            text = response.read().decode()
        lines = metrics_summary(text)
    except (urllib.error.URLError, ValueError) as exc:
        print(f"metrics: cannot read {page} ({exc}); is siomw-metrics installed and "
              f"enabled? (siomw plugins)")
        return 1
    print(f"--- metrics ({page}, the metrics plugin) ---")
    print("\n".join(lines))
    return 0
