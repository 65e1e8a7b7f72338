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

from siomw_core.cli import cli
from siomw_core.testing import connect_result

SIOMW = str(Path(sys.executable).parent / "siomw")
SECRET = "cli-test-secret-of-at-least-32-bytes!!"
#: what `siomw --help` lists with the jwt plugin enabled: every built-in command and its one
BUILT_IN_AND_TOKEN = sorted([*cli.commands, "token"])


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
    for app, words in [("nosuchmodule:sio", "cannot import"),
                       ("json:dumps", "not a python-socketio server"),
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


# --- --config before or after the command name (issue 6 item 10) -------------------------
USER_KEYED = '[ratelimit]\nkey = "user"\n'


@pytest.mark.parametrize("place", ["before", "after"])
def test_config_before_or_after_every_command(tmp_path: Path, place: str) -> None:
    """chain, plugins and the jwt plugin's token take --config in both places, with the same
    effect: the file's ordering, its allow-list, its [jwt] issuer."""
    (tmp_path / "f.toml").write_text(USER_KEYED)
    (tmp_path / "only.toml").write_text('plugins = ["jwt"]\n')
    (tmp_path / "iss.toml").write_text('[jwt]\nissuer = "https://issuer.example"\n')

    def siomw(command: list[str], path: str) -> subprocess.CompletedProcess[str]:
        args = (["--config", path, *command] if place == "before"
                else [*command, "--config", path])
        result = run(*args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result

    chains = json.loads(siomw(["chain", "--json"], "f.toml").stdout)
    assert [m["name"] for m in chains["connect"]["/"]] == ["logging", "jwt", "ratelimit"]
    records = {r["name"]: r for r in json.loads(siomw(["plugins", "--json"], "only.toml").stdout)}
    assert [n for n, r in records.items() if r["enabled"]] == ["jwt"]
    assert records["ratelimit"]["error"] == "not in the allow-list (SIOMW_PLUGINS / plugins)"
    token = siomw(["token", "--sub", "a"], "iss.toml").stdout.strip()
    import jwt

    claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="https://issuer.example")
    assert claims["sub"] == "a"


def test_config_after_wins_and_bad_file_is_named(tmp_path: Path) -> None:
    """Given twice, the one after the command name wins; a missing file is named wherever
    --config stands."""
    (tmp_path / "f.toml").write_text(USER_KEYED)
    result = run("--config", "missing.toml", "chain", "--json", "--config", "f.toml",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    names = [m["name"] for m in json.loads(result.stdout)["connect"]["/"]]
    assert names == ["logging", "jwt", "ratelimit"]
    for args in (["plugins", "--config", "missing.toml"], ["token", "--sub", "a", "--config",
                                                           "missing.toml"]):
        result = run(*args, cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr == "Error: missing.toml: config file not found\n"


# --- plugin commands from the registry that serves (item 4) ----------------------------
@pytest.mark.parametrize(
    ("env", "config"),
    [({"SIOMW_DISABLE_PLUGINS": "jwt"}, None), ({"SIOMW_PLUGINS": "logging"}, None),
     ({}, 'disable_plugins = ["jwt"]\n'), ({}, 'plugins = ["ratelimit"]\n')],
)
def test_blocked_plugin_has_no_commands(
    tmp_path: Path, env: dict[str, str], config: str | None
) -> None:
    """A plugin the block-list or the allow-list leaves out (environment or file) adds no
    command: `siomw token` does not exist and --help does not list it, as it does not serve."""
    args: list[str] = []
    if config is not None:
        (tmp_path / "c.toml").write_text(config)
        args = ["--config", "c.toml"]
    result = run(*args, "token", "--sub", "a", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == "Error: No such command 'token'."
    shown = run(*args, "--help", cwd=tmp_path, env=env)
    assert shown.returncode == 0
    assert "  token " not in shown.stdout and "  chain " in shown.stdout
    listed = {r["name"]: r for r in json.loads(run(*args, "plugins", "--json", cwd=tmp_path,
                                                   env=env).stdout)}
    assert not listed["jwt"]["enabled"]


def test_enabled_plugin_commands_listed(tmp_path: Path) -> None:
    """With jwt enabled, --help lists token beside the built-in commands."""
    shown = run("--help", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    commands = [line.split()[0] for line in shown.stdout.split("Commands:")[1].splitlines()
                if line.strip()]
    assert commands == BUILT_IN_AND_TOKEN


def test_plugin_command_with_broken_config_names_the_problem(tmp_path: Path) -> None:
    """A plugin command cannot be found without its configuration: the config error is the
    answer (not `No such command`), and --help still lists the built-in commands."""
    (tmp_path / "siomw.toml").write_text('[jwt]\nleway = 5\n')
    result = run("token", "--sub", "a", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: siomw.toml: [jwt] leway: unknown key")
    shown = run("--help", cwd=tmp_path)
    assert shown.returncode == 0 and "  serve " in shown.stdout and "  token " in shown.stdout
    assert shown.stderr.startswith("siomw: the configuration has problems (a command that "
                                   "needs it reports them): siomw.toml: [jwt] leway")


def test_plugin_commands_listed_without_the_secret(tmp_path: Path) -> None:
    """Without SIOMW_JWT_SECRET, --help still lists `token` (commands come from the enabled
    plugins, not from a configuration that builds), saying what is wrong on stderr; running
    `siomw token` is then the one-line error naming the variable."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SIOMW_JWT_SECRET", "SIOMW_CONFIG", "SIOMW_PLUGINS",
                        "SIOMW_DISABLE_PLUGINS")}
    missing = ("<embedded defaults>: [jwt]: secret_env: environment variable "
               "'SIOMW_JWT_SECRET' is not set; expected the HMAC secret for HS256")

    def bare(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SIOMW, *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=60, check=False)

    shown = bare("--help")
    assert shown.returncode == 0, shown.stderr
    commands = [line.split()[0] for line in shown.stdout.split("Commands:")[1].splitlines()
                if line.strip()]
    assert commands == BUILT_IN_AND_TOKEN
    assert shown.stderr.splitlines() == [
        f"siomw: the configuration has problems (a command that needs it reports them): "
        f"{missing}"]
    result = bare("token", "--sub", "a")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"Error: {missing}"]


# --- chain of any ASGI app (item 12) ------------------------------------------------------
def test_chain_of_a_starlette_app(tmp_path: Path) -> None:
    """`siomw chain mod:api` finds the siomw app mounted in a Starlette app and shows its
    chains, its own engine member included."""
    (tmp_path / "web.py").write_text(
        "import socketio\nfrom starlette.applications import Starlette\nimport siomw_core\n"
        "sio = socketio.AsyncServer(async_mode='asgi')\n"
        "mw = siomw_core.attach(sio, plugins=['logging'])\n"
        "@mw.engine.use\nasync def mine(request, call_next):\n    await call_next()\n"
        "api = Starlette()\napi.mount('/realtime', mw.asgi_app())\n")
    result = run("chain", "--json", "web:api", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    described = json.loads(result.stdout)
    assert [m["name"] for m in described["engine"]] == ["logging-http", "mine"]
    assert [m["name"] for m in described["connect"]["/"]] == ["logging"]


def test_chain_table_shows_where_each_event_rule_comes_from() -> None:
    """The table view of `siomw chain` names the source of each handler rule: "decorator",
    or the config table as written (``[jwt.events."admin:ban"]`` is text, not markup)."""
    root = Path(__file__).resolve().parents[1]
    result = run("chain", "docs.examples.jwt_events_app:sio", cwd=root,
                 env={"SIOMW_JWT_SECRET": "s" * 40})
    assert result.returncode == 0, result.stderr
    rows = [" ".join(line.strip("│ ").split()) for line in result.stdout.splitlines()
            if line.startswith("│")]
    assert "admin:kick │ jwt │ scopes: scopes=['admin'] │ decorator" in rows
    assert "admin:ban │ jwt │ scopes: scopes=['admin'] │ [jwt.events.\"admin:ban\"]" in rows
