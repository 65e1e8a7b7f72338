"""The examples of docs/plugins/headers.md run and do what the page says (checked with
curl -i, as the page shows)."""

from __future__ import annotations

import asyncio
import runpy
import shutil
import tomllib
from pathlib import Path

import pytest
import siomw_headers
import socketio

from siomw_core import Config, ConfigError, CoreSettings, attach, load_config
from siomw_core.testing import serve

from .support import DEFAULTS

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"
requires_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


async def curl_i(url: str, *args: str) -> tuple[int, list[tuple[str, str]], str]:
    """``curl -si url``: ``(status, [(lower-case name, value)], body)``."""
    proc = await asyncio.create_subprocess_exec(
        "curl", "-si", "--max-time", "5", *args, url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()
    head, _, body = out.decode("latin-1").partition("\r\n\r\n")
    lines = head.split("\r\n")
    pairs = [(n.strip().lower(), v.strip())
             for n, _, v in (line.partition(":") for line in lines[1:])]
    return int(lines[0].split()[1]), pairs, body


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("SIOMW_CONFIG", "SIOMW_PLUGINS", "SIOMW_DISABLE_PLUGINS"):
        monkeypatch.delenv(var, raising=False)


def test_example_toml_is_the_defaults() -> None:
    """headers_siomw.toml spells out every key with its embedded default."""
    table = tomllib.loads((EXAMPLES / "headers_siomw.toml").read_text())["headers"]
    assert table == siomw_headers.HeadersOptions().model_dump()


def test_proxy_example_applies() -> None:
    """headers_proxy.toml: trusted proxy, HSTS with preload, DENY, two headers left out and
    two extra headers (the entry point "headers" is installed)."""
    config = load_config(EXAMPLES / "headers_proxy.toml", environ={})
    mw = attach(socketio.AsyncServer(async_mode="asgi"), config=config)
    options = mw.registry.records["headers"].options
    assert isinstance(options, siomw_headers.HeadersOptions)
    plain, secure = siomw_headers.build_headers(options)
    names = {n.lower() for n, _ in plain}
    assert "x-download-options" not in names and "x-dns-prefetch-control" not in names
    assert ("X-Frame-Options", "DENY") in plain
    assert ("Permissions-Policy", "camera=(), microphone=(), geolocation=()") in plain
    assert ("Strict-Transport-Security",
            "max-age=63072000; includeSubDomains; preload") in secure
    assert config.core.trusted_proxies == ["10.0.0.5"]
    assert [row["name"] for row in mw.describe()["engine"]] == ["headers"]


@requires_curl
async def test_example_app_with_curl() -> None:
    """headers_app.py: `curl -i` of a handshake shows the defaults; the 401 of its inner
    member shows them as well, with its JSON body."""
    app = runpy.run_path(str(EXAMPLES / "headers_app.py"))["app"]
    async with serve(app) as url:
        status, got, body = await curl_i(
            f"{url}/socket.io/?EIO=4&transport=polling&key=demo",
            "-H", "Origin: https://app.example")
        assert status == 200 and body.startswith('0{"sid":')
        assert {n: v for n, v in got if n in DEFAULTS} == DEFAULTS
        assert ("access-control-allow-origin", "https://app.example") in got
        assert "strict-transport-security" not in dict(got)  # plain HTTP
        status, got, body = await curl_i(f"{url}/socket.io/?EIO=4&transport=polling")
        assert status == 401
        assert body == ('{"message": "an API key is required", '
                        '"data": {"code": "invalid_request"}}')
        assert {n: v for n, v in got if n in DEFAULTS} == DEFAULTS
        status, got, _ = await curl_i(f"{url}/socket.io/?EIO=4&transport=polling", "-X",
                                      "OPTIONS", "-H", "Origin: https://app.example",
                                      "-H", "Access-Control-Request-Method: POST")
        assert status == 200
        assert {n: v for n, v in got if n in DEFAULTS} == DEFAULTS


@pytest.mark.parametrize("table", [
    {"content_security_policy": "default-src 'none'\r\nSet-Cookie: a=b"},
    {"extra": {"X-Custom": "v\r\nSet-Cookie: session=evil"}},
    {"extra": {"Content-Type": "text/html"}},
    {"x_frame_options": "ALLOW-FROM https://evil.example"},
    {"x_frame_options": True},
    {"strict_transport_security": "includeSubDomains"},
])
def test_documented_errors(table: dict[str, object]) -> None:
    """The error messages shown on the page are the ones startup gives, word for word."""
    page = (EXAMPLES.parent / "plugins" / "headers.md").read_text()
    config = Config(source="siomw.toml", core=CoreSettings(), tables={"headers": table})
    with pytest.raises(ConfigError) as info:
        attach(socketio.AsyncServer(async_mode="asgi"), config=config, entry_points=False,
               local_plugins=[("headers", siomw_headers)])
    assert str(info.value) in page
