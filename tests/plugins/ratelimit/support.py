"""Shared helpers of the ratelimit plugin's tests: real servers, real clients, real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import redis
import siomw_ratelimit
import socketio

from siomw_core import CallNext, Config, CoreSettings, Siomw, Socket, attach
from siomw_core.testing import connect_result

REDIS_URL = "redis://127.0.0.1:6379"
#: a loopback port nothing listens on: connections to it are refused at once
DEAD_REDIS_URL = "redis://127.0.0.1:1"


def make_server(
    table: dict[str, Any], *, fake_jwt: bool = False, jwt_priority: int = 0,
    config: Config | None = None,
) -> tuple[socketio.AsyncServer, Siomw]:
    """A server accepting every namespace, with the ratelimit plugin configured by ``table``.

    With ``fake_jwt``, an in-test middleware named ``"jwt"`` (every namespace) copies
    ``handshake.auth["user"]`` into ``socket.data["user"]``, as the jwt plugin stores claims.
    """
    sio = socketio.AsyncServer(async_mode="asgi", namespaces="*")

    @sio.on("connect", namespace="*")
    async def connect(namespace: str, sid: str, environ: dict[str, Any], auth: Any) -> None:
        return None

    if config is None:
        config = Config(source="test", core=CoreSettings(), tables={"ratelimit": table})
    mw = attach(sio, config=config, entry_points=False,
                plugins=[("ratelimit", siomw_ratelimit)])
    if fake_jwt:
        mw.use(name="jwt", namespace=None, priority=jwt_priority)(claims_from_auth)
    return sio, mw


async def claims_from_auth(socket: Socket, call_next: CallNext) -> None:
    """A stand-in for the jwt plugin: ``auth["user"]`` becomes ``socket.data["user"]``."""
    if "user" in socket.handshake.auth:
        socket.data["user"] = socket.handshake.auth["user"]
    await call_next()


async def attempt(url: str, **kwargs: Any) -> tuple[str, Any]:
    """One python AsyncClient connection attempt (websocket); the client is closed after."""
    kwargs.setdefault("transports", ["websocket"])
    outcome, data, client = await connect_result(url, **kwargs)
    if outcome == "connect":
        await client.disconnect()
    return outcome, data


def refused_data(data: Any) -> dict[str, Any]:
    """The ``err.data`` of a python client's connect_error payload, checked to be a dict."""
    assert isinstance(data, dict), data
    assert data["message"] == "Too many connection attempts", data
    payload = data["data"]
    assert isinstance(payload, dict), data
    return payload


def assert_rate_limited(data: Any, limit: str, *, most: int = 60) -> None:
    """``data`` is exactly ``{"code": "rate_limited", "retry_after": 1..most, "limit": limit}``."""
    payload = refused_data(data)
    assert set(payload) == {"code", "retry_after", "limit"}, payload
    assert payload["code"] == "rate_limited"
    assert payload["limit"] == limit
    assert type(payload["retry_after"]) is int and 1 <= payload["retry_after"] <= most, payload


def unique_prefix() -> str:
    """A key prefix no other test run uses."""
    return f"siomw-test-{uuid.uuid4().hex[:12]}"


def redis_keys(prefix: str) -> list[str]:
    """The Redis keys holding ``prefix`` (sync client, on loopback)."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return sorted(client.scan_iter(match=f"*{prefix}*"))
    finally:
        client.close()


def delete_keys(prefix: str) -> None:
    """Remove every Redis key holding ``prefix``."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(match=f"*{prefix}*"):
            client.delete(key)
    finally:
        client.close()


def prefix_fixture() -> Iterator[str]:
    """Body of the ``prefix`` fixture: a unique key prefix, its Redis keys deleted after."""
    prefix = unique_prefix()
    try:
        yield prefix
    finally:
        delete_keys(prefix)
