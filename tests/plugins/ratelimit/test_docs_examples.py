"""The examples of docs/plugins/ratelimit.md run and do what the page says."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType

import socketio
from siomw_ratelimit.options import RateLimitOptions

from siomw_core import load_config
from siomw_core.testing import close_client, connect_result, serve
from tests.docs_js import requires_docs_js, run_example_js

from .support import (
    POLLING,
    REDIS_URL,
    assert_http_rate_limited,
    assert_rate_limited,
    attempt,
    curl,
    make_server,
    serving,
)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "docs" / "examples"


def load_app(name: str = "ratelimit_app") -> ModuleType:
    """A fresh import of docs/examples/<name>.py (a new server each time)."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_toml_is_the_defaults() -> None:
    """ratelimit_siomw.toml spells out every key with its embedded default (http and
    event, unset by default, as comments: TOML has no null)."""
    text = (EXAMPLES / "ratelimit_siomw.toml").read_text()
    table = tomllib.loads(text)["ratelimit"]
    assert table == RateLimitOptions().model_dump(exclude_none=True)
    assert RateLimitOptions().http is None and '\n# http = "100/minute"' in text
    assert RateLimitOptions().event is None and '\n# event = "20/second"' in text


def test_page_includes_every_example() -> None:
    """docs/plugins/ratelimit.md includes each docs/examples/ratelimit_* file, and documents
    every config key in its table."""
    page = (ROOT / "docs" / "plugins" / "ratelimit.md").read_text()
    for path in EXAMPLES.glob("ratelimit_*"):
        assert f'--8<-- "docs/examples/{path.name}"' in page, path.name
    for key in RateLimitOptions.model_fields:
        assert re.search(rf"^\| `{key}` \|", page, re.M), key


async def test_example_app_refuses_the_fourth_attempt() -> None:
    """ratelimit_app.py (with ratelimit_demo.toml) lets 3 attempts in and refuses the 4th."""
    app = load_app()
    async with serve(app.app) as url:
        outcomes = [await attempt(url) for _ in range(4)]
    assert [o for o, _ in outcomes] == ["connect"] * 3 + ["connect_error"]
    assert_rate_limited(outcomes[3][1], "3 per 1 minute")


@requires_docs_js
async def test_example_client_reads_retry_after() -> None:
    """ratelimit_client.mjs prints three connects, then the limit and retry_after it was sent."""
    app = load_app()
    async with serve(app.app) as url:
        lines = await run_example_js("ratelimit_client.mjs", URL=url, ATTEMPTS="4")
    assert lines[:3] == [f"attempt {i}: connected" for i in (1, 2, 3)]
    assert re.fullmatch(
        r"attempt 4: Too many connection attempts: 3 per 1 minute, retry in (\d+) s", lines[3]
    ), lines


async def test_redis_example_shares_user_budgets(prefix: str) -> None:
    """ratelimit_redis.toml: two servers share each user's budget in Redis (3/second holds)."""
    config = load_config(EXAMPLES / "ratelimit_redis.toml", environ={})
    assert config.tables["ratelimit"]["storage"] == f"{REDIS_URL}/0"
    config.tables["ratelimit"]["key_prefix"] = prefix  # a private counter space for the test
    assert config.core.plugins == ["jwt", "ratelimit"]
    # the test's stand-in jwt is an application middleware, not an installed plugin
    config.core = config.core.model_copy(update={"plugins": ["ratelimit"]})
    sio_a, mw_a = make_server({}, config=config, fake_jwt=True)
    sio_b, _ = make_server({}, config=config, fake_jwt=True)
    assert [p.middleware.name for p in mw_a.placed("connect", "/")] == ["jwt", "ratelimit"]
    erin = {"user": {"sub": "erin"}}
    async with serve(socketio.ASGIApp(sio_a)) as url_a, serve(socketio.ASGIApp(sio_b)) as url_b:
        assert (await attempt(url_a, auth=erin))[0] == "connect"
        assert (await attempt(url_b, auth=erin))[0] == "connect"
        assert (await attempt(url_a, auth=erin))[0] == "connect"
        outcome, data = await attempt(url_b, auth=erin)
        assert outcome == "connect_error"
        assert_rate_limited(data, "3 per 1 second", most=1)
        assert (await attempt(url_b, auth={"user": {"sub": "frank"}}))[0] == "connect"


async def test_http_example_limits_engine_sessions() -> None:
    """ratelimit_http_app.py: five handshakes a minute with RateLimit-* headers counting
    down, the sixth a 429; a polling session's events are never counted."""
    app = load_app("ratelimit_http_app")
    assert [m["name"] for m in app.mw.describe()["engine"]] == ["ratelimit-http"]
    async with serving(app.sio, app.mw) as url:
        outcome, _, client = await connect_result(url, transports=["polling"])
        assert outcome == "connect"
        try:
            for i in range(8):
                assert await client.call("echo", i, timeout=5) == i
        finally:
            await close_client(client)
        answers = [await curl(url + POLLING) for _ in range(5)]
    assert [a[0] for a in answers] == [200] * 4 + [429]
    assert [a[1]["ratelimit-remaining"] for a in answers[:4]] == ["3", "2", "1", "0"]
    assert all(a[1]["ratelimit-limit"] == "5" for a in answers)
    assert_http_rate_limited(*answers[4], "5 per 1 minute", 5)
