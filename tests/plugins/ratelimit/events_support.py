"""Helpers of the ratelimit event tests: servers with the plugin, python and JS clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import siomw_ratelimit
import socketio

from siomw_core import Config, CoreSettings, Siomw, attach
from tests.jsclient import run_node_script
from tests.plugins import kinds

EVENTS_JS = Path(__file__).with_name("events_client.mjs")
MESSAGE = "Rate limit exceeded"


def with_ratelimit(sio: Any, table: dict[str, Any]) -> Siomw:
    """Attach siomw to ``sio`` with the ratelimit plugin configured by ``table``."""
    config = Config(source="test", core=CoreSettings(), tables={"ratelimit": table})
    return attach(sio, config=config, entry_points=False,
                  local_plugins=[("ratelimit", siomw_ratelimit)])


def echo_server(table: dict[str, Any], kind: str = "async",
                **sio_options: Any) -> tuple[Any, Siomw]:
    """A server of ``kind`` (:mod:`tests.plugins.kinds`) whose ``echo`` / ``other`` events
    answer ``"ok:<event>"`` (an AsyncServer's after one loop turn, so that concurrent events
    overlap; a sync server handles each in a thread of its own), the plugin configured by
    ``table``."""
    sio = kinds.new_server(kind, **sio_options)
    if kind == "async":
        @sio.event
        async def echo(sid: str, *args: Any) -> str:
            await asyncio.sleep(0)
            return "ok:echo"

        @sio.event
        async def other(sid: str, *args: Any) -> str:
            await asyncio.sleep(0)
            return "ok:other"
    else:
        sio.on("echo", lambda sid, *args: "ok:echo")
        sio.on("other", lambda sid, *args: "ok:other")
    return sio, with_ratelimit(sio, table)


@contextlib.asynccontextmanager
async def served(sio: Any) -> AsyncIterator[str]:
    """Serve ``sio`` (with siomw attached) on 127.0.0.1, whatever its kind; yields the URL."""
    async with kinds.served(sio) as url:
        yield url


@contextlib.asynccontextmanager
async def client(url: str, *, namespaces: list[str] | None = None, auth: Any = None,
                 kind: str = "async") -> AsyncIterator[Any]:
    """A connected python AsyncClient (websocket), disconnected after; ``kind = "sync"``:
    a ``socketio.Client`` behind :class:`tests.plugins.kinds.Caller` (``call`` alike)."""
    if kind != "async":
        async with kinds.client(kind, url, namespaces=namespaces, auth=auth) as caller:
            yield caller
        return
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(url, transports=["websocket"], namespaces=namespaces, auth=auth,
                      wait_timeout=5)
    try:
        yield sio
    finally:
        await sio.disconnect()


async def burst(sio: Any, event: str, count: int, *args: Any,
                namespace: str = "/") -> list[Any]:
    """``count`` acknowledged emits of ``event`` sent at once; the replies in order."""
    data = args[0] if len(args) == 1 else (tuple(args) if args else None)
    calls = [sio.call(event, data, namespace=namespace, timeout=10) for _ in range(count)]
    return list(await asyncio.gather(*calls))


def refusal_data(reply: Any, limit: str, *, most: int = 60) -> int:
    """``reply`` is exactly the ack of a rate-limited event for ``limit``; its retry_after."""
    assert isinstance(reply, dict) and set(reply) == {"error"}, reply
    error = reply["error"]
    assert error["message"] == MESSAGE, reply
    data = error["data"]
    assert set(data) == {"code", "retry_after", "limit"}, reply
    assert data["code"] == "rate_limited" and data["limit"] == limit, reply
    retry_after = data["retry_after"]
    assert type(retry_after) is int and 1 <= retry_after <= most, reply
    return retry_after


def outcomes(replies: list[Any]) -> tuple[int, int]:
    """(accepted, rate-limited) counts of ack replies; anything else fails."""
    accepted = sum(1 for r in replies if isinstance(r, str) and r.startswith("ok:"))
    refused = sum(1 for r in replies if isinstance(r, dict)
                  and r.get("error", {}).get("data", {}).get("code") == "rate_limited")
    assert accepted + refused == len(replies), replies
    return accepted, refused


async def js_events(url: str, **spec: Any) -> list[dict[str, Any]]:
    """Run ``events_client.mjs`` with ``spec``; its observations in order."""
    return await run_node_script(EVENTS_JS, url, **spec)
