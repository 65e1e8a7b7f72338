"""A JWKS provider on loopback for the jwt plugin's key-set tests: a real HTTP server
(``http.server`` in a thread) whose document, status and ``Cache-Control`` a test changes
mid-run, counting the requests it answers; and RSA keys with their public JWKs."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.plugins.jwt.helpers import claims


class Provider:
    """What the loopback provider serves; a test edits it between steps.

    Attributes:
        url: the JWKS URL (``http://127.0.0.1:<port>/.well-known/jwks.json``).
        keys: the public JWKs published (``{"keys": keys}``).
        status: the HTTP status answered (200; 500 to fail).
        cache_control: the ``Cache-Control`` header (None: none).
        hits: requests answered so far.
        stall: True: each request waits for ``release`` (at most 10 s) before answering, a
            provider that accepts and does not answer.
    """

    def __init__(self) -> None:
        self.url = ""
        self.keys: list[dict[str, Any]] = []
        self.status = 200
        self.cache_control: str | None = "public, max-age=3600"
        self.hits = 0
        self.lock = threading.Lock()
        self.stall = False
        self.release = threading.Event()

    def publish(self, *jwks: dict[str, Any]) -> None:
        """Serve exactly these public JWKs from now on."""
        self.keys = list(jwks)


@contextlib.contextmanager
def provider() -> Iterator[Provider]:
    """A running loopback JWKS provider (stopped after)."""
    state = Provider()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with state.lock:
                state.hits += 1
                stall = state.stall
            if stall:
                state.release.wait(10)
            with state.lock:
                status, body = state.status, json.dumps({"keys": state.keys}).encode()
                cache_control = state.cache_control
            payload = body if status == 200 else b'{"error": "unavailable"}'
            with contextlib.suppress(OSError):  # a client that gave up (jwks_timeout)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if cache_control is not None:
                    self.send_header("Cache-Control", cache_control)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


class SigningKey:
    """An RSA key pair named by ``kid``: signs tokens, publishes its public JWK."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self, **extra: Any) -> dict[str, Any]:
        """The public JWK (``kty``, ``n``, ``e``, ``kid``, ``use: sig``, ``alg: RS256``)."""
        data: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**data, "kid": self.kid, "use": "sig", "alg": "RS256", **extra}

    def token(self, kid: str | None = "", headers: dict[str, Any] | None = None,
              **extra: Any) -> str:
        """A token of :func:`tests.plugins.jwt.helpers.claims` signed RS256 with this key,
        its header naming ``kid`` (default this key's; None: no kid)."""
        head = dict(headers or {})
        if kid is not None:
            head["kid"] = kid or self.kid
        return jwt.encode(claims(**extra), self.private, algorithm="RS256", headers=head)
