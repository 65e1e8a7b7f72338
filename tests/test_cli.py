"""The ``siomw`` command line, run as a user runs it: a subprocess with real output."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from siomw_core.testing import connect_result

SIOMW = str(Path(sys.executable).parent / "siomw")
SECRET = "cli-test-secret-of-at-least-32-bytes!!"


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "SIOMW_JWT_SECRET": SECRET, **(env or {})}
    for var in ("SIOMW_CONFIG", "SIOMW_PLUGINS", "SIOMW_DISABLE_PLUGINS"):
        if var not in (env or {}):
            full_env.pop(var, None)
    return subprocess.run([SIOMW, *args], cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_plugins_lists_the_bundled_three_with_versions(tmp_path: Path) -> None:
    """`siomw plugins --json` lists logging, jwt and ratelimit, enabled, with versions."""
    result = run("plugins", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    records = {r["name"]: r for r in json.loads(result.stdout)}
    for name in ("logging", "jwt", "ratelimit"):
        assert records[name]["enabled"], records[name]
        assert records[name]["distribution"] == f"siomw-{name}"
        assert records[name]["version"]
        assert records[name]["middlewares"][0]["level"] == "connect"
    table = run("plugins", cwd=tmp_path)
    assert table.returncode == 0 and "siomw-jwt" in table.stdout


def test_plugins_reports_blocked_plugin(tmp_path: Path) -> None:
    """A blocked plugin is listed as not enabled, with the reason."""
    result = run("plugins", "--json", cwd=tmp_path, env={"SIOMW_DISABLE_PLUGINS": "ratelimit"})
    records = {r["name"]: r for r in json.loads(result.stdout)}
    assert not records["ratelimit"]["enabled"]
    assert "blocked" in records["ratelimit"]["error"]


@pytest.mark.parametrize(
    ("key", "expected"),
    [("ip", ["logging", "ratelimit", "jwt"]), ("user", ["logging", "jwt", "ratelimit"])],
)
def test_chain_order_follows_the_rate_limit_key(
    tmp_path: Path, key: str, expected: list[str]
) -> None:
    """An IP-keyed limit runs before jwt, a user-keyed one after it."""
    (tmp_path / "siomw.toml").write_text(f'[ratelimit]\nkey = "{key}"\n')
    result = run("chain", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    chains = json.loads(result.stdout)["connect"]
    assert [m["name"] for m in chains["/"]] == expected
    assert [m["name"] for m in chains["/admin"]] == expected
    for member in chains["/"]:
        assert member["plugin"] == member["name"]
        assert member["reason"]
    shown = run("chain", cwd=tmp_path)
    assert shown.returncode == 0 and "connect chain of '/'" in shown.stdout


def test_bad_config_names_file_table_key(tmp_path: Path) -> None:
    """A misspelt key stops the command with a message naming file, table and key."""
    (tmp_path / "bad.toml").write_text('[ratelimit]\nconect = "3/minute"\n')
    result = run("--config", "bad.toml", "chain", cwd=tmp_path)
    assert result.returncode == 1
    assert "bad.toml: [ratelimit] conect: unknown key" in result.stderr
    (tmp_path / "bad2.toml").write_text("connect_timeout = 'soon'\n")
    result = run("--config", "bad2.toml", "plugins", cwd=tmp_path)
    assert result.returncode == 1
    assert "bad2.toml: connect_timeout: expected" in result.stderr and "'soon'" in result.stderr


def test_serve_rejects_a_bad_app(tmp_path: Path) -> None:
    """An APP that does not name an AsyncServer is a usage error, not a traceback."""
    for app, words in [("nosuchmodule:sio", "cannot import"), ("json:dumps", "not a socketio"),
                       ("json", "module:attribute")]:
        result = run("serve", app, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert words in result.stderr
        assert "Traceback" not in result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_demo_end_to_end(tmp_path: Path) -> None:
    """`siomw serve` (the demo) accepts a `siomw token` token and refuses a missing one."""
    port = free_port()
    env = {**os.environ, "SIOMW_JWT_SECRET": SECRET}
    for var in ("SIOMW_CONFIG", "SIOMW_PLUGINS", "SIOMW_DISABLE_PLUGINS"):
        env.pop(var, None)
    proc = await asyncio.create_subprocess_exec(
        SIOMW, "serve", "--port", str(port), cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        token = run("token", "--sub", "alice", "--scope", "admin", cwd=tmp_path)
        assert token.returncode == 0, token.stderr
        outcome, data, client = await connect_result(url, auth={"token": token.stdout.strip()})
        assert outcome == "connect", data
        assert await client.call("echo", {"x": 1}, timeout=5) == {"x": 1}
        await client.disconnect()
        outcome, data, client = await connect_result(url, namespace="/admin",
                                                     auth={"token": token.stdout.strip()})
        assert outcome == "connect", data
        await client.disconnect()
        outcome, data, _ = await connect_result(url)
        assert outcome == "connect_error"
        assert data["data"]["code"] == "invalid_request"
    finally:
        proc.terminate()
        _, stderr = await asyncio.wait_for(proc.communicate(), 10)
    log = stderr.decode()
    assert '"outcome": "accepted"' in log or '"outcome":"accepted"' in log
    assert token.stdout.strip() not in log
