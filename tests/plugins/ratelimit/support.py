"""Shared helpers of the ratelimit plugin's tests: real servers, real clients, real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import aiohttp
import redis
import siomw_ratelimit
import socketio
from siomw_ratelimit.options import RateLimitOptions
from siomw_ratelimit.storage import GuardedLimiter, guarded_limiter

from siomw_core import (
    CallNext,
    Config,
    CoreSettings,
    Identity,
    Siomw,
    Socket,
    attach,
    set_identity,
)
from siomw_core.drive import drive
from siomw_core.runtime import AsyncRuntime, Runtime, SyncRuntime
from siomw_core.testing import close_client, connect_result, serve
from tests.plugins.kinds import connect_outcome, new_server, served

T = TypeVar("T")

REDIS_URL = "redis://127.0.0.1:6379"
#: a loopback port nothing listens on: connections to it are refused at once
DEAD_REDIS_URL = "redis://127.0.0.1:1"


# server kinds at the limiter's level ("async": limits.aio awaited on the loop; "sync":
# limits' sync API, its coroutines driven in request threads) ---------------------------
def runtime_of(kind: str) -> Runtime:
    """The runtime a stack of ``kind`` gives its plugins (a real ``socketio.Server`` in
    threading mode behind the sync one: its background tasks are threads)."""
    if kind == "async":
        return AsyncRuntime()
    return SyncRuntime(socketio.Server(async_mode="threading"))


def kind_limiter(kind: str, table: dict[str, Any]) -> GuardedLimiter:
    """The shared limiter of a ``[ratelimit]`` table on a server of ``kind``."""
    return guarded_limiter(RateLimitOptions.model_validate(table), runtime_of(kind))


async def run(kind: str, coro: Coroutine[Any, Any, T]) -> T:
    """``coro`` as the server kind runs it: awaited ("async"), or driven without a loop
    in a thread of its own, as a sync server's request thread would ("sync")."""
    if kind == "async":
        return await coro
    return await asyncio.to_thread(drive, coro)


async def run_all(kind: str, coros: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Every coroutine of ``coros`` at once: gathered on the loop ("async"), or each
    driven in one of 16 threads ("sync": request threads contending for the limiter)."""
    pending = list(coros)
    if kind == "async":
        return list(await asyncio.gather(*pending))

    def threads() -> list[T]:
        with ThreadPoolExecutor(max_workers=16) as pool:
            return list(pool.map(drive, pending))

    return await asyncio.to_thread(threads)


def make_server(
    table: dict[str, Any], *, fake_jwt: bool = False, jwt_priority: int = 0,
    config: Config | None = None, kind: str = "async",
) -> tuple[Any, Siomw]:
    """A server of ``kind`` (:mod:`tests.plugins.kinds`) accepting every namespace, with the
    ratelimit plugin configured by ``table``.

    With ``fake_jwt``, an in-test middleware named ``"jwt"`` (every namespace) stores
    ``handshake.auth["user"]`` as the socket's identity, as the jwt plugin does.
    """
    sio = new_server(kind, namespaces="*")

    @sio.on("connect", namespace="*")
    def connect(namespace: str, sid: str, environ: dict[str, Any], auth: Any) -> None:
        return None

    if config is None:
        config = Config(source="test", core=CoreSettings(), tables={"ratelimit": table})
    mw = attach(sio, config=config, entry_points=False,
                local_plugins=[("ratelimit", siomw_ratelimit)])
    if fake_jwt:
        mw.use(name="jwt", namespace=None, priority=jwt_priority)(claims_from_auth)
    return sio, mw


async def claims_from_auth(socket: Socket, call_next: CallNext) -> None:
    """A stand-in for the jwt plugin: ``auth["user"]`` (claims) becomes the identity
    (``set_identity``: ``sub`` its ``"sub"`` when that is a string, as PyJWT requires;
    ``socket.data["user"]`` the claims)."""
    claims = socket.handshake.auth.get("user") if isinstance(socket.handshake.auth, dict) else None
    if isinstance(claims, dict):
        sub = claims.get("sub")
        set_identity(socket, Identity(sub=sub if isinstance(sub, str) else None, claims=claims,
                                      source="test"))
    await call_next()


async def attempt(url: str, kind: str = "async", **kwargs: Any) -> tuple[str, Any]:
    """One python AsyncClient connection attempt (websocket unless ``transports`` says
    otherwise); the client is closed after (a polling one at once: its ``disconnect()``
    would wait for the pending long-poll). ``kind = "sync"``: a ``socketio.Client``'s
    (:func:`tests.plugins.kinds.connect_outcome`)."""
    if kind != "async":
        return await connect_outcome(kind, url, **kwargs)
    kwargs.setdefault("transports", ["websocket"])
    outcome, data, client = await connect_result(url, **kwargs)
    if outcome == "connect":
        if kwargs["transports"] == ["polling"]:
            await close_client(client)
        else:
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


# engine level (HTTP requests) -------------------------------------------------------------
POLLING = "/socket.io/?EIO=4&transport=polling"
WEBSOCKET = "/socket.io/?EIO=4&transport=websocket"
RATELIMIT_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")


def engine_server(
    table: dict[str, Any], *, fake_jwt: bool = False, kind: str = "async", **sio_options: Any
) -> tuple[Any, Siomw]:
    """:func:`make_server` on a plain server of ``kind`` (``**sio_options``) with an
    ``echo`` event (its ack returns the arguments); :func:`serving` serves it."""
    sio = new_server(kind, **sio_options)

    @sio.event
    def echo(sid: str, *args: Any) -> list[Any]:
        return list(args)

    config = Config(source="test", core=CoreSettings(), tables={"ratelimit": table})
    mw = attach(sio, config=config, entry_points=False,
                local_plugins=[("ratelimit", siomw_ratelimit)])
    if fake_jwt:
        mw.use(name="jwt", namespace=None)(claims_from_auth)
    return sio, mw


@contextlib.asynccontextmanager
async def serving(sio: Any, mw: Siomw) -> AsyncIterator[str]:
    """``serve(mw.asgi_app())``, closing every engine session before the server stops: a
    pending long-poll GET would otherwise hold uvicorn's graceful shutdown for 1 s. A
    sync ``socketio.Server``: ``socketio.WSGIApp`` under Werkzeug (:func:`kinds.served`)."""
    if not isinstance(sio, socketio.AsyncServer):
        async with served(sio) as url:
            yield url
        return
    async with serve(mw.asgi_app()) as url:
        try:
            yield url
        finally:
            for session in list(sio.eio.sockets.values()):
                # a CLOSE packet answers the pending GET; wait=False: a session nobody
                # polls (a bare handshake) would never drain its queue
                await session.close(wait=False)


async def curl(url: str, *options: str) -> tuple[int, dict[str, str], str]:
    """``curl -s -i [options] url`` in a subprocess: ``(status, headers lower-case, body)``."""
    proc = await asyncio.create_subprocess_exec(
        "curl", "-s", "-i", "--max-time", "5", *options, url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()
    head, _, body = out.decode("latin-1").partition("\r\n\r\n")
    status_line, *lines = head.split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def assert_http_rate_limited(
    status: int, headers: Mapping[str, str], body: str | bytes, limit: str, amount: int,
    *, most: int = 60,
) -> int:
    """A 429 refusal: JSON body ``{"message": "Too many requests", "data": {...}}``,
    ``Retry-After`` = ``RateLimit-Reset`` = ``retry_after`` in 1..most, ``RateLimit-Limit``
    = ``amount``, ``RateLimit-Remaining: 0``. Returns ``retry_after``."""
    assert status == 429, (status, body)
    assert headers["content-type"] == "application/json"
    payload = json.loads(body)
    assert payload["message"] == "Too many requests"
    data = payload["data"]
    assert set(data) == {"code", "retry_after", "limit"}, data
    assert data["code"] == "rate_limited" and data["limit"] == limit, data
    retry_after = data["retry_after"]
    assert type(retry_after) is int and 1 <= retry_after <= most, data
    assert headers["retry-after"] == str(retry_after)
    assert headers["ratelimit-reset"] == str(retry_after)
    assert headers["ratelimit-limit"] == str(amount)
    assert headers["ratelimit-remaining"] == "0"
    return retry_after


class Polling:
    """A hand-driven engine.io v4 polling session over aiohttp: every request is explicit,
    so that tests know exactly which HTTP requests the server saw."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url + POLLING
        self.sid = ""

    async def request(
        self, method: str, url: str, body: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Mapping[str, str], str]:
        """One request: ``(status, headers, body text)``."""
        async with self.session.request(method, url, data=body, headers=headers,
                                        timeout=aiohttp.ClientTimeout(total=5)) as r:
            return r.status, r.headers, await r.text()

    async def handshake(
        self, headers: Mapping[str, str] | None = None
    ) -> tuple[int, Mapping[str, str], str]:
        """GET without a sid; remembers the sid of an OPEN answer."""
        status, got, body = await self.request("GET", self.url, headers=headers)
        if status == 200:
            self.sid = json.loads(body[1:])["sid"]
        return status, got, body

    async def post(self, body: str) -> tuple[int, Mapping[str, str], str]:
        """POST a payload to the session (``40`` = Socket.IO CONNECT to ``/``)."""
        return await self.request("POST", f"{self.url}&sid={self.sid}", body)

    async def get(self) -> tuple[int, Mapping[str, str], str]:
        """A long-poll GET of the session (it returns once the server has a packet)."""
        return await self.request("GET", f"{self.url}&sid={self.sid}")
