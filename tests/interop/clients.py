"""One driver for both clients of the interop suite: the same spec and the same
observations from python-socketio's ``AsyncClient`` and from the JS ``socket.io-client``
(``client.mjs``), so that a scenario is written once and run with either.

spec keys: ``auth``, ``transports`` (``["polling"]`` or ``["websocket"]``), ``headers``,
``listen`` (event names to record), ``emits`` (``{"event", "args", "ack": True}`` sent in
order after connect, acked ones awaited), ``wait_for`` (event names to wait for after the
emits), ``timeout`` (seconds, bounds the whole run). Observations, in order:
``{"event": "connect", "id"}``, ``{"event": "connect_error", "message", "data"}`` (the JS
client adds ``description``, the HTTP status of a refused polling request),
``{"event": "on", "name", "args"}``, ``{"event": "ack", "name", "value"}``,
``{"event": "emitted", "name"}``, ``{"event": "timeout"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import socketio

from siomw_core.testing import close_client
from tests.jsclient import run_node_script

CLIENT_MJS = Path(__file__).with_name("client.mjs")
CLIENTS = ("python", "js")


async def run_client(client: str, url: str, path: str, **spec: Any) -> list[dict[str, Any]]:
    """Run ``client`` (``"python"`` or ``"js"``) against ``url`` with the engine at ``path``
    (``"/socket.io/"``, or a mount's ``"/realtime/socket.io/"``); return its observations."""
    if client == "js":
        js = {"path": path, "auth": spec.get("auth"), "transports": spec.get("transports"),
              "extraHeaders": spec.get("headers"), "listen": spec.get("listen", []),
              "emits": spec.get("emits", []), "waitFor": spec.get("wait_for", []),
              "timeoutMs": int(spec.get("timeout", 8) * 1000)}
        return await run_node_script(CLIENT_MJS, url, overallMs=js["timeoutMs"] + 5000,
                                     **{k: v for k, v in js.items() if v is not None})
    return await python_client(url, path, **spec)


async def python_client(
    url: str,
    path: str,
    *,
    auth: Any = None,
    transports: list[str] | None = None,
    headers: dict[str, str] | None = None,
    listen: Sequence[str] = (),
    emits: Sequence[dict[str, Any]] = (),
    wait_for: Sequence[str] = (),
    timeout: float = 8,
) -> list[dict[str, Any]]:
    """The spec run by python-socketio's ``AsyncClient`` (see the module docstring)."""
    obs: list[dict[str, Any]] = []
    client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    arrived: set[str] = set()
    wake = asyncio.Event()

    async def on_connect() -> None:
        obs.append({"event": "connect", "id": client.get_sid("/")})
        if not outcome.done():
            outcome.set_result("connect")

    async def on_connect_error(data: Any = None) -> None:
        if isinstance(data, dict) and set(data) <= {"message", "data"}:
            obs.append({"event": "connect_error", "message": data.get("message"),
                        "data": data.get("data")})
        else:
            obs.append({"event": "connect_error", "message": data, "data": None})
        if not outcome.done():
            outcome.set_result("connect_error")

    def recorder(name: str) -> Any:
        async def record(*args: Any) -> None:
            obs.append({"event": "on", "name": name, "args": list(args)})
            arrived.add(name)
            wake.set()
        return record

    client.on("connect", on_connect)
    client.on("connect_error", on_connect_error)
    for name in listen:
        client.on(name, recorder(name))
    socketio_path = path.strip("/")
    # python-socketio's connect() lingers after a polling refusal: race it with the outcome
    connecting = asyncio.create_task(client.connect(
        url, auth=auth, headers=headers or {}, transports=transports,
        socketio_path=socketio_path, wait_timeout=timeout))
    try:
        await asyncio.wait({connecting, outcome}, timeout=timeout,
                           return_when=asyncio.FIRST_COMPLETED)
        if not outcome.done() and connecting.done() and connecting.exception() is not None:
            await on_connect_error(str(connecting.exception()))
        if not outcome.done():
            obs.append({"event": "timeout"})
            return obs
        if outcome.result() != "connect":
            return obs
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(
                _talk(client, obs, emits, wait_for, arrived, wake, timeout), timeout)
            return obs
        obs.append({"event": "timeout"})
        return obs
    finally:
        await close_client(client)  # at once: disconnect() waits for a pending long-poll
        connecting.cancel()
        with contextlib.suppress(BaseException):
            await connecting


async def _talk(client: socketio.AsyncClient, obs: list[dict[str, Any]],
                emits: Sequence[dict[str, Any]], wait_for: Sequence[str], arrived: set[str],
                wake: asyncio.Event, timeout: float) -> None:
    """Send ``emits`` in order (acked ones awaited), then wait for ``wait_for``."""
    for item in emits:
        args = list(item.get("args", []))
        data: Any = tuple(args) if len(args) != 1 else args[0]
        if item.get("ack", True) is False:
            await client.emit(item["event"], data)
            obs.append({"event": "emitted", "name": item["event"]})
            continue
        value = await client.call(item["event"], data, timeout=timeout)
        obs.append({"event": "ack", "name": item["event"], "value": value})
    while not set(wait_for) <= arrived:
        wake.clear()
        await wake.wait()
