"""Shared helpers of the headers plugin's tests: real servers (plain and TLS), raw clients."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import ipaddress
import os
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import siomw_headers
import socketio
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from siomw_core import CallNext, Config, CoreSettings, Refusal, Request, Siomw, attach
from siomw_core.testing import serve

#: the default headers, lower-case names, as sent over plain HTTP (no HSTS)
DEFAULTS: dict[str, str] = {
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "origin-agent-cluster": "?1",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-dns-prefetch-control": "off",
    "x-download-options": "noopen",
    "x-frame-options": "SAMEORIGIN",
    "x-permitted-cross-domain-policies": "none",
}
HSTS = ("strict-transport-security", "max-age=15552000; includeSubDomains")
#: the origin of the "other site" the cross-origin clients pretend to be
OTHER_ORIGIN = "http://app.example"
POLLING = "/socket.io/?EIO=4&transport=polling"


def make_server(
    table: dict[str, Any] | None = None, *, trusted_proxies: list[str] | None = None,
    cors: list[str] | str | None = None,
) -> tuple[socketio.AsyncServer, Siomw]:
    """A server with the headers plugin configured by ``table`` and an in-test engine member
    ``guard`` (priority 10, inside ``headers``) refusing with 401 when the query has
    ``deny`` (``deny=preflight`` refuses preflight requests too)."""
    sio = socketio.AsyncServer(async_mode="asgi",
                               cors_allowed_origins=[OTHER_ORIGIN] if cors is None else cors)
    core = CoreSettings(trusted_proxies=trusted_proxies or [])
    config = Config(source="test", core=core, tables={"headers": table or {}})
    mw = attach(sio, config=config, entry_points=False,
                local_plugins=[("headers", siomw_headers)])
    mw.engine.use(guard, priority=10, preflight=True)
    return sio, mw


async def guard(request: Request, call_next: CallNext) -> None:
    """Refuse with 401 (and a header of its own) when the query has ``deny``."""
    if request.query.get("deny"):
        raise Refusal("go away", {"code": "denied"}, status=401,
                      headers={"WWW-Authenticate": 'Bearer realm="test"'})
    await call_next()


def security_headers(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The ``(lower-case name, value)`` pairs of ``pairs`` that the plugin may send."""
    known = {*DEFAULTS, HSTS[0]}
    return [(n.lower(), v) for n, v in pairs if n.lower() in known]


def assert_defaults(pairs: list[tuple[str, str]], *, hsts: bool = False) -> None:
    """Every default header is present exactly once with its value (and HSTS iff ``hsts``)."""
    expected = dict(DEFAULTS)
    if hsts:
        expected[HSTS[0]] = HSTS[1]
    got = security_headers(pairs)
    assert dict(got) == expected
    assert len(got) == len(expected), f"a header was sent twice: {got}"


async def raw_request(
    url: str, head: str, body: bytes = b""
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Send one raw HTTP/1.1 request (``head`` is the request line and headers, without the
    final blank line) to ``url``'s host and port; return ``(status, headers, body so far)``.

    For WebSocket upgrades the 101 response's headers are returned and the connection is
    closed. Reads at most 64 KiB, for at most 5 seconds.
    """
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head.encode("latin-1") + b"\r\n" + f"Host: {host}:{port}\r\n".encode()
                     + b"Connection: close\r\n" * ("upgrade" not in head.lower()) + b"\r\n"
                     + body)
        await writer.drain()
        data = b""
        async with asyncio.timeout(5):
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = await reader.read(4096)
                if not chunk:
                    break
                data += chunk
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    header_block, _, rest = data.partition(b"\r\n\r\n")
    lines = header_block.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = [(n.strip(), v.strip()) for n, _, v in (line.partition(":") for line in lines[1:])]
    return status, headers, rest


def upgrade_head(query: str) -> str:
    """The head of a WebSocket upgrade request to the engine (RFC 6455 §4.1)."""
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET /socket.io/?EIO=4&transport=websocket{query} HTTP/1.1\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {key}")


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (``cryptography``); ``(certfile, keyfile)``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return certfile, keyfile


def client_context(certfile: Path) -> ssl.SSLContext:
    """A TLS client context that trusts exactly ``certfile``."""
    return ssl.create_default_context(cafile=str(certfile))


@contextlib.asynccontextmanager
async def serve_tls(app: Any, certfile: Path, keyfile: Path) -> AsyncIterator[str]:
    """``siomw_core.testing.serve`` over TLS; yields ``https://127.0.0.1:<port>``."""
    async with serve(app, ssl_certfile=str(certfile), ssl_keyfile=str(keyfile)) as url:
        yield url


@contextlib.asynccontextmanager
async def serve_ipv4_mapped(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on an IPv6 socket bound to ``::ffff:127.0.0.1`` with
    ``IPV6_V6ONLY`` off (a dual-stack socket, as ``--host ::`` gives on Linux): a client
    of ``http://127.0.0.1:<port>`` (the yielded URL) is then seen as the peer
    ``::ffff:127.0.0.1``. Loopback only."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("::ffff:127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", proxy_headers=False,
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(task, 5)
        sock.close()
