"""The demo page in a real browser: headless Chromium (Debian's ``chromium``) driven by
Playwright, loading socket.io-client's browser build from the demo app.

The server is the demo's (``create_server()`` served by ``demo_asgi_app``) with in-test
members: Starlette's ``SessionMiddleware`` with a member counting visits in the session on
the handshake and refusing it with 401 when the cookie ``deny=engine`` is sent (engine level),
a connect member refusing a missing token, and the ``headers`` plugin when it is installed.
Without chromium or playwright these tests skip, except under ``CI`` where they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.metadata as md
import importlib.util
import os
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest

from siomw_core import CallNext, Config, CoreSettings, Refusal, Request, Siomw, Socket
from siomw_core.demo import CLIENT_JS_ENV, create_server, demo_asgi_app
from siomw_core.serving import GRACEFUL_TIMEOUT
from siomw_core.testing import serve

CHROMIUM = os.environ.get("SIOMW_CHROMIUM", "/usr/bin/chromium")
HAVE_PLAYWRIGHT = importlib.util.find_spec("playwright") is not None
HAVE_CHROMIUM = Path(CHROMIUM).is_file() or shutil.which(CHROMIUM) is not None


def headers_plugin() -> ModuleType | None:
    """The ``siomw_headers`` plugin module, or None when it is not installed."""
    if importlib.util.find_spec("siomw_headers") is None:
        return None
    return importlib.import_module("siomw_headers")


def demo_stack() -> Siomw:
    """The demo server with this module's members (and the headers plugin if installed)."""
    from starlette.middleware.sessions import SessionMiddleware

    sio = create_server()
    plugin = headers_plugin()
    stack = Siomw(sio, config=Config(source="test", core=CoreSettings()), entry_points=False,
                  local_plugins=[("headers", plugin)] if plugin is not None else [])
    stack.engine.use_asgi(SessionMiddleware, secret_key="browser test", name="session",
                          priority=100)

    @stack.engine.use(after="session")
    async def engine_gate(request: Request, call_next: CallNext) -> None:
        if request.is_handshake:
            # the engine sees headers and cookies, not auth (it comes later, in CONNECT)
            if request.cookies.get("deny") == "engine":
                raise Refusal("refused at the engine", {"code": "engine_denied"}, status=401)
            request.session["visits"] = request.session.get("visits", 0) + 1
        await call_next()

    @stack.use
    async def require_token(socket: Socket, call_next: CallNext) -> None:
        token = socket.handshake.auth.get("token")
        if not isinstance(token, str) or not token:
            raise Refusal("no token", {"code": "invalid_request"})
        session = socket.handshake.session or {}
        socket.data["user"] = {"token": token, "visits": session.get("visits")}
        await call_next()

    return stack


@contextlib.asynccontextmanager
async def browser_page() -> AsyncIterator[Any]:
    """A fresh page of headless Chromium (skip without it; fail under CI)."""
    if not (HAVE_PLAYWRIGHT and HAVE_CHROMIUM):
        why = (f"the browser tests need chromium at {CHROMIUM} (apt-get install chromium) "
               "and the playwright package (pip install playwright)")
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM,
                                           args=["--no-sandbox", "--disable-gpu"])
        try:
            context = await browser.new_context()
            yield await context.new_page()
        finally:
            await browser.close()


async def events_after(page: Any, url: str, count: int = 1) -> list[dict[str, Any]]:
    """Open ``url`` and return the page's event records once ``count`` of them arrived."""
    await page.goto(url)
    await page.wait_for_function(f"window.siomwEvents && window.siomwEvents.length >= {count}",
                                 timeout=8000)
    events: list[dict[str, Any]] = await page.evaluate("window.siomwEvents")
    return events


# --- without a browser --------------------------------------------------------------------------


async def test_page_and_client_served() -> None:
    """demo_asgi_app serves the page at / and the JS client at /socket.io.min.js; other
    paths are 404; the engine still answers on /socket.io/."""
    async with serve(demo_asgi_app(demo_stack())) as url, aiohttp.ClientSession() as http:
        async with http.get(url + "/") as r:
            page = await r.text()
            assert r.status == 200 and r.content_type == "text/html"
        assert '<script src="/socket.io.min.js"></script>' in page
        assert 'id="missing"' not in page
        async with http.get(url + "/socket.io.min.js") as r:
            assert r.status == 200 and r.content_type == "application/javascript"
            assert len(await r.read()) > 10_000
        async with http.get(url + "/nothing") as r:
            assert r.status == 404
        async with http.get(url + "/socket.io/?EIO=4&transport=polling") as r:
            assert r.status == 200 and (await r.text()).startswith("0{")


async def test_page_says_when_client_missing(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    """With SIOMW_CLIENT_JS naming a missing file the page says the client is missing."""
    monkeypatch.setenv(CLIENT_JS_ENV, str(tmp_path / "absent.js"))
    async with serve(demo_asgi_app(demo_stack())) as url, aiohttp.ClientSession() as http:
        async with http.get(url + "/") as r:
            page = await r.text()
        async with http.get(url + "/socket.io.min.js") as r:
            assert r.status == 404
    assert 'id="missing"' in page and "SIOMW_CLIENT_JS" in page
    assert 'src="/socket.io.min.js"' not in page


async def test_client_js_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """SIOMW_CLIENT_JS names the browser build to serve."""
    built = tmp_path / "socket.io.min.js"
    built.write_text("/* a build */ window.io = undefined;")
    monkeypatch.setenv(CLIENT_JS_ENV, str(built))
    async with serve(demo_asgi_app(demo_stack())) as url, aiohttp.ClientSession() as http:
        async with http.get(url + "/socket.io.min.js") as r:
            assert await r.text() == built.read_text()


# --- in the browser -----------------------------------------------------------------------------


async def test_browser_connects_with_session_cookie() -> None:
    """The page connects with auth {token} from its URL; the session cookie set on the
    handshake is stored by the browser and sent back on the next visit; the headers plugin's
    security headers are on the engine's responses."""
    async with serve(demo_asgi_app(demo_stack())) as url, browser_page() as page:
        engine_responses: list[Any] = []
        page.on("response", lambda r: engine_responses.append(r)
                if "/socket.io/?" in r.url else None)
        first = await events_after(page, url + "/?token=abc", count=2)
        assert first[0]["event"] == "connect"
        assert first[1] == {"event": "whoami", "user": {"token": "abc", "visits": 1}}
        assert (await page.inner_text("#status")) == "connect"
        cookies = await page.context.cookies()
        session = [c for c in cookies if c["name"] == "session"]
        assert session and session[0]["httpOnly"] is True
        second = await events_after(page, url + "/?token=abc", count=2)
        assert second[1]["user"] == {"token": "abc", "visits": 2}  # the cookie came back
        assert engine_responses
        if headers_plugin() is not None:
            for response in engine_responses:
                headers = await response.all_headers()
                assert headers.get("x-content-type-options") == "nosniff", response.url
                assert "x-frame-options" in headers, response.url


@pytest.mark.parametrize(
    ("transports", "message", "description"),
    [("polling", "xhr poll error", 401), ("websocket", "websocket error", "[object Event]")],
)
async def test_browser_engine_refusal(transports: str, message: str,
                                      description: Any) -> None:
    """An engine-level refusal (401) shows as connect_error "xhr poll error" with the status
    over polling and "websocket error" (no status) over WebSocket; no err.data."""
    async with serve(demo_asgi_app(demo_stack())) as url, browser_page() as page:
        await page.context.add_cookies([{"name": "deny", "value": "engine", "url": url}])
        events = await events_after(page, f"{url}/?token=abc&transports={transports}")
        assert events[0] == {"event": "connect_error", "message": message, "data": None,
                             "description": description}
        assert (await page.inner_text("#status")) == f"connect_error: {message}"


async def test_browser_connect_refusal() -> None:
    """A connect-level refusal shows as connect_error with the refusal's message and data."""
    async with serve(demo_asgi_app(demo_stack())) as url, browser_page() as page:
        events = await events_after(page, url + "/")
        assert events[0] == {"event": "connect_error", "message": "no token",
                             "data": {"code": "invalid_request"}}
        assert (await page.inner_text("#status")) == "connect_error: no token"


async def test_browser_page_without_client(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    """Without the JS client, the page itself says so."""
    monkeypatch.setenv(CLIENT_JS_ENV, str(tmp_path / "absent.js"))
    async with serve(demo_asgi_app(demo_stack())) as url, browser_page() as page:
        events = await events_after(page, url + "/")
        assert events[0]["event"] == "missing"
        assert "The JS client is missing" in await page.inner_text("#missing")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def siomw_serve(env: dict[str, str], cwd: Path) -> AsyncIterator[str]:
    """Run ``siomw serve`` (the demo: installed plugins, embedded defaults) on a free port."""
    port = free_port()
    siomw = Path(sys.executable).with_name("siomw")
    log = cwd / "serve.log"  # a file, not a pipe: the logging plugin writes a line a request
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            str(siomw), "serve", "--port", str(port), env=env, cwd=cwd,
            stdout=asyncio.subprocess.DEVNULL, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(url + "/") as r:
                        if r.status == 200:
                            break
                if proc.returncode is not None:
                    raise AssertionError(log.read_text())
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"siomw serve did not answer within 10 s: {log.read_text()}")
        yield url
    finally:
        if proc.returncode is None:
            proc.terminate()  # siomw serve gives open connections GRACEFUL_TIMEOUT seconds
            try:
                await asyncio.wait_for(proc.wait(), GRACEFUL_TIMEOUT + 10)
            except TimeoutError:
                proc.kill()
                raise AssertionError(f"siomw serve did not stop: {log.read_text()}") from None


async def test_browser_siomw_serve_demo(tmp_path: Path) -> None:
    """`siomw serve` without APP serves the page; with a token from `siomw token` the browser
    connects and whoami shows the claims; without one the jwt plugin's refusal is shown."""
    if "jwt" not in {ep.name for ep in md.entry_points(group="siomw")}:
        pytest.skip("the demo's refusals come from the jwt plugin (siomw-jwt not installed)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIOMW_")}
    env["SIOMW_JWT_SECRET"] = "browser-test-secret-0123456789-abcdefghijkl"
    token_proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("siomw")), "token", "--sub", "ann", env=env,
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE)
    token = (await token_proc.communicate())[0].decode().strip()
    assert token.count(".") == 2
    async with siomw_serve(env, tmp_path) as url, browser_page() as page:
        accepted = await events_after(page, f"{url}/?token={token}", count=2)
        assert accepted[0]["event"] == "connect"
        assert accepted[1]["event"] == "whoami" and accepted[1]["user"]["sub"] == "ann"
        refused = await events_after(page, f"{url}/")
        assert refused[0]["event"] == "connect_error"
        assert refused[0]["data"]["code"] == "invalid_request"
