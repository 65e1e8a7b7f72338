"""``bench/server.py``'s ``byhand`` mode: the full chain's work written by hand in the
connect handler, as a python-socketio user would without siomw (issue 10's second row):
PyJWT HS256 on ``auth["token"]``, a ``limits`` moving window of 1000 connections per minute
per client address on memory storage (``limits.aio`` on the async kinds), one structlog JSON
line per connection to /dev/null. A refusal is ``ConnectionRefusedError`` (CONNECT_ERROR).
"""

from __future__ import annotations

import os
from typing import Any

import jwt
import socketio
import structlog
from limits import RateLimitItemPerMinute, aio, storage, strategies

SECRET_ENV = "SIOMW_JWT_SECRET"
LIMIT = RateLimitItemPerMinute(1000)


def _logger() -> Any:
    out = open(os.devnull, "w")
    return structlog.wrap_logger(
        structlog.PrintLogger(out), processors=[
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer()])


def _address(environ: dict[str, Any]) -> str:
    # under ASGI python-engineio's REMOTE_ADDR is always 127.0.0.1: the scope has the peer
    scope = environ.get("asgi.scope")
    if scope and scope.get("client"):
        return str(scope["client"][0])
    return str(environ.get("REMOTE_ADDR") or "?")


def server(kind: str, async_mode: str, options: dict[str, Any]) -> Any:
    """A server of ``async_mode`` whose connect handler does the work by hand."""
    secret = os.environ[SECRET_ENV]
    log = _logger()
    if kind in ("asgi", "aiohttp"):
        asio = socketio.AsyncServer(async_mode=async_mode, **options)
        alimiter = aio.strategies.MovingWindowRateLimiter(aio.storage.MemoryStorage())

        @asio.event
        async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
            try:
                claims = jwt.decode((auth or {}).get("token", ""), secret,
                                    algorithms=["HS256"])
            except jwt.PyJWTError:
                raise ConnectionRefusedError("invalid_token") from None
            address = _address(environ)
            if not await alimiter.hit(LIMIT, address):
                raise ConnectionRefusedError("rate_limited")
            log.info("connect", sid=sid, sub=claims.get("sub"), address=address)

        return asio
    sio = socketio.Server(async_mode=async_mode, **options)
    limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())

    @sio.on("connect")
    def connect_sync(sid: str, environ: dict[str, Any], auth: Any) -> None:
        try:
            claims = jwt.decode((auth or {}).get("token", ""), secret, algorithms=["HS256"])
        except jwt.PyJWTError:
            raise ConnectionRefusedError("invalid_token") from None
        address = _address(environ)
        if not limiter.hit(LIMIT, address):
            raise ConnectionRefusedError("rate_limited")
        log.info("connect", sid=sid, sub=claims.get("sub"), address=address)

    return sio
