"""Helpers for the jwt plugin's tests: tokens, refusal payloads, a real server."""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import jwt
import siomw_jwt

from siomw_core import Config, CoreSettings, attach
from tests.plugins.kinds import new_server, served

#: 64 bytes: long enough for HS512 too (RFC 7518 §3.2)
SECRET = "test-secret-of-the-siomw-jwt-suite-0123456789-abcdefghijklmnopqr"
AUDIENCE = "siomw-tests"
ISSUER = "https://issuer.test"
#: the [jwt] table most tests run with
TABLE: dict[str, Any] = {
    "audience": AUDIENCE,
    "issuer": ISSUER,
    "namespaces": {
        "/admin": {"scopes": ["admin"]},
        "/public": {"anonymous": True},
    },
}
NAMESPACES = ("/", "/admin", "/public")


def claims(**extra: Any) -> dict[str, Any]:
    """Valid claims for TABLE (sub alice, an hour left), updated with ``extra``; a value of
    None removes that claim."""
    now = int(time.time())
    out: dict[str, Any] = {"sub": "alice", "iat": now, "exp": now + 3600,
                           "aud": AUDIENCE, "iss": ISSUER}
    for key, value in extra.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def token(key: Any = SECRET, algorithm: str = "HS256", **extra: Any) -> str:
    """A token of :func:`claims` signed with ``key``."""
    return jwt.encode(claims(**extra), key, algorithm=algorithm)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned_token(**extra: Any) -> str:
    """A hand-crafted ``alg: none`` token (RFC 7519 §6: empty signature)."""
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims(**extra))}."


def refusal(message: str, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The CONNECT_ERROR payload a client receives."""
    return {"message": message, "data": {"code": code, "detail": detail, **extra}}


@contextlib.asynccontextmanager
async def jwt_server(
    table: dict[str, Any] | None = None, namespaces: Iterable[str] = NAMESPACES,
    kind: str = "async",
) -> AsyncIterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """A real server of ``kind`` (:mod:`tests.plugins.kinds`) with the jwt plugin; yields
    ``(url, sessions)`` where ``sessions`` gets ``(namespace, session)`` from each connect
    handler (python-socketio's own session)."""
    sio = new_server(kind)
    sessions: list[tuple[str, dict[str, Any]]] = []
    async def connect(sid: str, environ: Any, auth: Any, namespace: str) -> None:
        sessions.append((namespace, await sio.get_session(sid, namespace=namespace)))

    def connect_sync(sid: str, environ: Any, auth: Any, namespace: str) -> None:
        sessions.append((namespace, sio.get_session(sid, namespace=namespace)))

    for namespace in namespaces:
        handler = connect if kind == "async" else connect_sync
        sio.on("connect", functools.partial(handler, namespace=namespace), namespace=namespace)
    config = Config(source="test", core=CoreSettings(),
                    tables={"jwt": TABLE if table is None else table})
    attach(sio, config=config, entry_points=False, local_plugins=[("jwt", siomw_jwt)])
    async with served(sio) as url:
        yield url, sessions
