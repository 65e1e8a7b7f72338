"""The examples of docs/plugins/ratelimit.md run and do what the page says."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import tomllib
from pathlib import Path
from types import ModuleType

import socketio
from siomw_ratelimit.options import RateLimitOptions

from siomw_core import load_config
from siomw_core.testing import serve
from tests.conftest import requires_js
from tests.jsclient import JS_DIR

from .support import REDIS_URL, assert_rate_limited, attempt, make_server

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "docs" / "examples"


def load_app() -> ModuleType:
    """A fresh import of docs/examples/ratelimit_app.py (a new server each time)."""
    spec = importlib.util.spec_from_file_location("ratelimit_app", EXAMPLES / "ratelimit_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_toml_is_the_defaults() -> None:
    """ratelimit_siomw.toml spells out every key with its embedded default."""
    table = tomllib.loads((EXAMPLES / "ratelimit_siomw.toml").read_text())["ratelimit"]
    assert table == RateLimitOptions().model_dump()


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


@requires_js
async def test_example_client_reads_retry_after(tmp_path: Path) -> None:
    """ratelimit_client.mjs prints three connects, then the limit and retry_after it was sent."""
    script = tmp_path / "ratelimit_client.mjs"
    script.write_text((EXAMPLES / "ratelimit_client.mjs").read_text())
    (tmp_path / "node_modules").symlink_to(JS_DIR / "node_modules")
    app = load_app()
    async with serve(app.app) as url:
        proc = await asyncio.create_subprocess_exec(
            "node", str(script), env={**os.environ, "URL": url, "ATTEMPTS": "4"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert lines[:3] == [f"attempt {i}: connected" for i in (1, 2, 3)]
    assert re.fullmatch(
        r"attempt 4: Too many connection attempts: 3 per 1 minute, retry in (\d+) s", lines[3]
    ), lines


async def test_redis_example_shares_user_budgets(prefix: str) -> None:
    """ratelimit_redis.toml: two servers share each user's budget in Redis (3/second holds)."""
    config = load_config(EXAMPLES / "ratelimit_redis.toml", environ={})
    assert config.tables["ratelimit"]["storage"] == f"{REDIS_URL}/0"
    config.tables["ratelimit"]["key_prefix"] = prefix  # a private counter space for the test
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
