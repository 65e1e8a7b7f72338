"""In a real browser (headless Chromium): a page on another origin connects to the engine
over polling and WebSocket with the default headers, because Cross-Origin-Resource-Policy
only guards no-cors loads (Fetch §3.7), which the same page shows being blocked."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from siomw_core.testing import serve
from tests.jsclient import JS_DIR

from .support import make_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BUNDLE = JS_DIR / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"

PAGE = """<!doctype html><meta charset="utf-8"><script src="/io.js"></script><script>
const params = new URLSearchParams(location.search);
const out = {};
async function probe(name, server) {
  const url = server + "/socket.io/?EIO=4&transport=polling";
  try { out[name + ".cors"] = (await fetch(url)).status; }
  catch (e) { out[name + ".cors"] = "blocked"; }
  try { out[name + ".no-cors"] = (await fetch(url, {mode: "no-cors"})).type; }
  catch (e) { out[name + ".no-cors"] = "blocked"; }
  for (const t of ["polling", "websocket"]) {
    out[name + "." + t] = await new Promise((done) => {
      const s = io(server, {transports: [t], reconnection: false, forceNew: true,
                            timeout: 4000});
      s.on("connect", () => { s.disconnect(); done("connect"); });
      s.on("connect_error", (e) => done("error: " + e.message));
    });
  }
}
(async () => {
  await probe("default", params.get("default"));
  await probe("cross", params.get("cross"));
  await fetch("/result", {method: "POST", body: JSON.stringify(out)});
})();
</script>"""


def page_app(result: asyncio.Future[dict[str, Any]]) -> Any:
    """The other origin: serves the page, the client bundle, and takes the result."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/result":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            if not result.done():
                result.set_result(json.loads(body))
            content, kind = b"ok", b"text/plain"
        elif scope["path"] == "/io.js":
            content, kind = BUNDLE.read_bytes(), b"text/javascript"
        else:
            content, kind = PAGE.encode(), b"text/html"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", kind)]})
        await send({"type": "http.response.body", "body": content})

    return app


@pytest.mark.skipif(CHROMIUM is None or not BUNDLE.is_file(),
                    reason="needs chromium and tests/js/node_modules")
async def test_browser_connects_cross_origin(tmp_path: Path) -> None:
    """Chromium on origin A connects to the engine on origin B over polling and WebSocket
    with CORP same-origin, and CORS fetches read it; a no-cors load is blocked by CORP
    same-origin and allowed (opaque) with CORP cross-origin."""
    assert CHROMIUM is not None
    result: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    async with serve(page_app(result), host="127.0.0.1") as page:
        origin = page.replace("127.0.0.1", "localhost")  # another origin than the engine's
        _, default = make_server(cors=[origin])
        _, cross = make_server({"cross_origin_resource_policy": "cross-origin"},
                               cors=[origin])
        async with serve(default.asgi_app()) as default_url, \
                serve(cross.asgi_app()) as cross_url:
            proc = await asyncio.create_subprocess_exec(
                CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--disable-background-networking", "--disable-sync",
                "--disable-component-update", "--disable-default-apps",
                "--disable-extensions", "--disable-dev-shm-usage",
                # loopback only: every other host name fails to resolve, nothing leaves the machine
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
                f"--user-data-dir={tmp_path / 'profile'}",
                f"{origin}/?default={default_url}&cross={cross_url}",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                out = await asyncio.wait_for(result, 30)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
    assert out == {
        "default.cors": 200, "default.no-cors": "blocked",
        "default.polling": "connect", "default.websocket": "connect",
        "cross.cors": 200, "cross.no-cors": "opaque",
        "cross.polling": "connect", "cross.websocket": "connect",
    }
