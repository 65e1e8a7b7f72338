"""Drive real clients through the demo server and print what each one sees.

Usage: python scripts/demo_clients.py http://127.0.0.1:5000
Needs SIOMW_JWT_SECRET (the server's HS256 secret) in the environment.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt

from siomw_core.testing import connect_result

JS_DRIVER = Path(__file__).resolve().parent.parent / "tests" / "js" / "connect.mjs"


def token(secret: str, *, scope: str = "", ttl: int = 600, sub: str = "alice") -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "iat": now, "exp": now + ttl}
    if scope:
        claims["scope"] = scope
    return jwt.encode(claims, secret, algorithm="HS256")


def alg_none_token() -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'sub': 'mallory', 'exp': 9999999999})}."


def show(label: str, outcome: str, data: Any) -> None:
    print(f"{label:<48} -> {outcome}: {json.dumps(data) if data is not None else ''}")


async def python_client(url: str, label: str, **kwargs: Any) -> str:
    outcome, data, client = await connect_result(url, **kwargs)
    if outcome == "connect":
        ns = kwargs.get("namespace", "/")
        echo = await client.call("echo", {"hello": "siomw"}, namespace=ns, timeout=5)
        who = await client.call("whoami", namespace=ns, timeout=5)
        data = {"echo": echo, "whoami": who}
        await client.disconnect()
    show(label, outcome, data)
    return outcome


def js_client(url: str, label: str, auth: dict[str, Any] | None) -> None:
    if not shutil.which("node") or not JS_DRIVER.parent.joinpath("node_modules").is_dir():
        print(f"{label:<48} -> (skipped: node or tests/js/node_modules missing)")
        return
    spec = {"url": url, "auth": auth, "emit": {"event": "echo", "args": ["from js"]}}
    out = subprocess.run(["node", str(JS_DRIVER), json.dumps(spec)], capture_output=True,
                         text=True, timeout=20, check=False)
    for line in out.stdout.splitlines():
        obs = json.loads(line)
        if obs["event"] in ("connect", "connect_error", "ack"):
            rest = {k: v for k, v in obs.items() if k != "event"}
            print(f"{label:<48} -> {obs['event']}: {json.dumps(rest)}")


async def main(url: str) -> None:
    secret = os.environ["SIOMW_JWT_SECRET"]
    host, port = urlsplit(url).hostname or "127.0.0.1", urlsplit(url).port or 80
    for _ in range(150):  # wait for the server to listen, bounded (15 s)
        try:
            socket.create_connection((host, port), 0.2).close()
            break
        except OSError:
            await asyncio.sleep(0.1)
    else:
        raise SystemExit(f"the demo server did not start at {url}: see .demo-server.log")
    print(f"siomw demo at {url}\n")
    await python_client(url, "python: valid token", auth={"token": token(secret)})
    js_client(url, "js: valid token", {"token": token(secret)})
    await python_client(url, "python: Authorization: Bearer header",
                        headers={"Authorization": f"Bearer {token(secret)}"},
                        transports=["websocket"])
    await python_client(url, "python: no token", auth=None)
    js_client(url, "js: no token", None)
    await python_client(url, "python: expired token", auth={"token": token(secret, ttl=-60)})
    await python_client(url, "python: alg none", auth={"token": alg_none_token()})
    js_client(url, "js: alg none", {"token": alg_none_token()})
    await python_client(url, "python: /admin without the admin scope", namespace="/admin",
                        auth={"token": token(secret, scope="read")})
    await python_client(url, "python: /admin with the admin scope", namespace="/admin",
                        auth={"token": token(secret, scope="read admin")})
    print("\nspending the connect limit (20 per minute per client address in the demo;"
          " the connections above count too):")
    accepted = 0
    for _ in range(100):
        outcome, data, client = await connect_result(url, auth={"token": token(secret)})
        if outcome == "connect":
            accepted += 1
            await client.disconnect()
            continue
        show(f"python: after {accepted} more accepted", outcome, data)
        break
    js_client(url, "js: after the limit", {"token": token(secret)})


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:5000"))
