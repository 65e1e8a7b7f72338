"""``siomw serve`` and uvicorn's own log lines: no credential in any of them, at any level;
the startup lines read once (siomw_core.uvicorn_serve, siomw_core.uvicorn_logs)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import jwt as pyjwt
import pytest
import socketio

from siomw_core.secrets import Secrets
from siomw_core.testing import close_client
from siomw_core.uvicorn_logs import SecretsFilter
from tests.test_serve import (
    BIN,
    LISTENING,
    README,
    SECRET,
    environment,
    serve_output,
)

JWT_TABLE = '[jwt]\nquery_param = "access"\ncookie = "jwt"\n'


def token() -> str:
    return pyjwt.encode({"sub": "ann", "exp": int(time.time()) + 600}, SECRET,
                        algorithm="HS256")


async def connect_with_secrets(url: str, secret: str) -> None:
    """Connect (polling then upgrade, and WebSocket only) with the token in the query
    (``?access=``), in a cookie, in ``Authorization`` and in the CONNECT packet's auth, and
    exchange an event: every place uvicorn could print it."""
    for transports in (["polling", "websocket"], ["websocket"]):
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(
            f"{url}?access={secret}", transports=transports, wait_timeout=10,
            headers={"Cookie": f"jwt={secret}; theme=dark", "Authorization": f"Bearer {secret}"},
            auth={"token": secret})
        assert await client.call("echo", {"password": secret}, timeout=5) == {
            "password": secret}
        await close_client(client)


async def serve_all_output(args: list[str], cwd: Path, secret: str) -> str:
    """Run ``siomw serve --port 0 ARGS`` with stdout and stderr in one stream (uvicorn's
    access log goes to stdout, the rest to stderr), connect with ``secret`` everywhere,
    stop it, and return everything it wrote."""
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "siomw"), "serve", "--port", "0", *args, cwd=cwd, env=environment(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not (lines and LISTENING.match(lines[-1])):
                raw = await proc.stdout.readline()
                assert raw, "\n".join(lines)
                lines.append(raw.decode().rstrip("\n"))
        match = LISTENING.match(lines[-1])
        assert match is not None
        await connect_with_secrets(match.group(1), secret)
        await asyncio.sleep(0.3)  # the last lines are written
    finally:
        if proc.returncode is None:
            proc.terminate()
        rest, _ = await asyncio.wait_for(proc.communicate(), 20)
    return "\n".join([*lines, rest.decode()])


@pytest.mark.parametrize(("args", "expected"), [
    # uvicorn's access log is off unless asked for; its WebSocket lines are there anyway
    (["--log-level", "info"], ['"WebSocket /socket.io/?access=[redacted]&transport=websocket']),
    (["--log-level", "info", "--access-log"],
     ['"GET /socket.io/?access=[redacted]&transport=polling',
      '"WebSocket /socket.io/?access=[redacted]&transport=websocket']),
    (["--log-level", "debug", "--access-log"],
     ["< cookie: jwt=[redacted]; theme=dark", "< authorization: [redacted]",
      "< GET /socket.io/?access=[redacted]&transport=websocket", "< TEXT [redacted]"]),
    (["--log-level", "trace", "--access-log"],
     ["'query_string': b'access=[redacted]&transport=polling",
      "< cookie: jwt=[redacted]; theme=dark"]),
])
async def test_no_token_in_any_line_of_uvicorn(
    tmp_path: Path, args: list[str], expected: list[str]
) -> None:
    """With `[jwt] query_param = "access"` and `cookie = "jwt"`, a client sending the token
    in the query, a cookie, Authorization and auth: at info (access log on or off), debug
    and trace, the token is in no line; uvicorn's lines show `[redacted]` where it was."""
    (tmp_path / "siomw.toml").write_text(JWT_TABLE)
    secret = token()
    out = await serve_all_output(args, tmp_path, secret)
    leaked = [line for line in out.splitlines() if secret in line or secret[:40] in line]
    assert leaked == []
    for fragment in expected:
        assert any(fragment in line for line in out.splitlines()), (fragment, out)
    access_lines = [line for line in out.splitlines()
                    if line.startswith("INFO:") and '"GET /socket.io/' in line]
    assert bool(access_lines) == ("--access-log" in args)


def test_filter_on_the_records_uvicorn_emits() -> None:
    """The filter on records shaped as uvicorn and websockets emit them: the access log's
    args stay a 5-tuple for uvicorn's AccessFormatter (path redacted), a header line keeps
    its name, a cookie header keeps the names of the cookies that are not secret, a
    declared query parameter is redacted like the built-in ones."""
    secrets = Secrets()
    secrets.declare(query="access", cookie="jwt")
    redact = SecretsFilter([secrets])

    def record(name: str, msg: str, *args: object) -> logging.LogRecord:
        rec = logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)
        assert redact.filter(rec) is True
        return rec

    access = record("uvicorn.access", '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5",
                    "GET", "/socket.io/?EIO=4&access=abc&token=def&t=1", "1.1", 200)
    assert access.args == ("127.0.0.1:5", "GET",
                           "/socket.io/?EIO=4&access=[redacted]&token=[redacted]&t=1", "1.1",
                           200)
    assert record("uvicorn.error", "< %s: %s", "Cookie",
                  "a=1; jwt=xyz; sid=s1").getMessage() == (
        "< Cookie: a=1; jwt=[redacted]; sid=[redacted]")
    assert record("uvicorn.error", "> %s: %s", "Set-Cookie", "jwt=xyz").getMessage() == (
        "> Set-Cookie: [redacted]")
    assert record("uvicorn.error", "< %s: %s", "Host", "a.example").getMessage() == (
        "< Host: a.example")
    assert record("uvicorn.asgi", "ASGI [%d] Started scope=%s", 1, {
        "query_string": b"access=abc&EIO=4",
        "headers": [(b"authorization", b"Bearer abc"), (b"host", b"h")],
    }).getMessage() == ("ASGI [1] Started scope={'query_string': b'access=[redacted]&EIO=4', "
                        "'headers': [(b'authorization', b'[redacted]'), (b'host', b'h')]}")


async def test_startup_lines_read_once(tmp_path: Path) -> None:
    """No line reads a doubled `siomw: siomw:`, and `--config f.toml` is named `config
    f.toml` whether the demo is served or an APP that attaches itself (it reads the file
    through $SIOMW_CONFIG, made absolute); --workers 2 then refuses both (they accept
    long-polling) in one `Error: --workers 2: ...` line."""
    (tmp_path / "f.toml").write_text('plugins = ["logging"]\n')
    (tmp_path / "myapp.py").write_text(README)
    lines = []
    for app in ([], ["myapp:app"]):
        status, err = await serve_output(str(BIN / "siomw"), "serve", *app, "--config",
                                         "f.toml", "--workers", "2", cwd=tmp_path)
        lines.append([line for line in err.splitlines() if line.startswith("siomw: config")])
        assert status == 2 and err.splitlines()[-1].startswith("Error: --workers 2: "), err
        assert "siomw: siomw:" not in err
    assert lines == [
        ["siomw: config f.toml; engine chain: logging-http; connect chain of '/': logging"],
        ["siomw: config f.toml; engine chain: logging-http; connect chain of '/': logging -> "
         "audit"],
    ]
