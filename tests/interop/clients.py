"""One driver for the clients of the interop suite: the same spec and the same observations
from python-socketio's ``AsyncClient`` (``"python"``) and sync ``Client``
(``"python-sync"``, run in a thread) and from the JS ``socket.io-client`` (``"js"``,
``client.mjs``), so that a scenario is written once and run with each.

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
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import socketio

from siomw_core.testing import close_client
from tests.jsclient import run_node_script

CLIENT_MJS = Path(__file__).with_name("client.mjs")
CLIENTS = ("python", "python-sync", "js")


async def run_client(client: str, url: str, path: str, **spec: Any) -> list[dict[str, Any]]:
    """Run ``client`` (``"python"``, ``"python-sync"`` or ``"js"``) against ``url`` with the
    engine at ``path`` (``"/socket.io/"``, or a mount's ``"/realtime/socket.io/"``); return
    its observations."""
    if client == "js":
        js = {"path": path, "auth": spec.get("auth"), "transports": spec.get("transports"),
              "extraHeaders": spec.get("headers"), "listen": spec.get("listen", []),
              "emits": spec.get("emits", []), "waitFor": spec.get("wait_for", []),
              "timeoutMs": int(spec.get("timeout", 8) * 1000)}
        return await run_node_script(CLIENT_MJS, url, overallMs=js["timeoutMs"] + 5000,
                                     **{k: v for k, v in js.items() if v is not None})
    if client == "python-sync":
        return await asyncio.to_thread(sync_client, url, path, **spec)
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
        obs.append(connect_error(data))
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


def connect_error(data: Any) -> dict[str, Any]:
    """The observation of what a python-socketio client's ``connect_error`` handler got."""
    if isinstance(data, dict) and set(data) <= {"message", "data"}:
        return {"event": "connect_error", "message": data.get("message"),
                "data": data.get("data")}
    return {"event": "connect_error", "message": data, "data": None}


def sync_client(
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
    """The spec run by python-socketio's sync ``Client`` (blocking: run it in a thread)."""
    obs: list[dict[str, Any]] = []
    lock = threading.Lock()
    arrived = threading.Condition(lock)
    client = socketio.Client(reconnection=False, handle_sigint=False)

    decided = threading.Event()
    failure: list[BaseException] = []

    def on_connect() -> None:
        with lock:
            obs.append({"event": "connect", "id": client.get_sid("/")})
        decided.set()

    def on_connect_error(data: Any = None) -> None:
        with lock:
            obs.append(connect_error(data))
        decided.set()

    def connecting() -> None:
        try:
            client.connect(url, auth=auth, headers=headers or {}, transports=transports,
                           socketio_path=path.strip("/"), wait_timeout=timeout)
        except BaseException as exc:  # reported below, as the outcome
            failure.append(exc)
        finally:
            decided.set()

    def recorder(name: str) -> Any:
        def record(*args: Any) -> None:
            with arrived:
                obs.append({"event": "on", "name": name, "args": list(args)})
                arrived.notify_all()
        return record

    client.on("connect", on_connect)
    client.on("connect_error", on_connect_error)
    for name in listen:
        client.on(name, recorder(name))
    # python-socketio's connect() lingers (its 30 s long poll) after a polling refusal: its
    # thread is left to finish on its own once the outcome is known
    thread = threading.Thread(target=connecting, daemon=True)
    thread.start()
    if not decided.wait(timeout):
        return [*obs, {"event": "timeout"}]
    with lock:
        if not obs:
            obs.append(connect_error(str(failure[0]) if failure else None))
        if obs[0]["event"] != "connect":
            return obs
    thread.join(timeout)  # connect() returns once the namespace is connected
    try:
        for item in emits:
            args = list(item.get("args", []))
            data: Any = tuple(args) if len(args) != 1 else args[0]
            if item.get("ack", True) is False:
                client.emit(item["event"], data)
                with lock:
                    obs.append({"event": "emitted", "name": item["event"]})
                continue
            value = client.call(item["event"], data, timeout=timeout)
            with lock:
                obs.append({"event": "ack", "name": item["event"], "value": value})
        with arrived:
            seen = lambda: set(wait_for) <= {o["name"] for o in obs if o["event"] == "on"}  # noqa: E731
            if not arrived.wait_for(seen, timeout):
                obs.append({"event": "timeout"})
    except socketio.exceptions.TimeoutError:
        with lock:
            obs.append({"event": "timeout"})
    finally:
        # python-engineio's sync client may wait up to its 30 s long-poll timeout in
        # disconnect() (polling); the server sees the close packet either way
        threading.Thread(target=client.disconnect, daemon=True).start()
    return obs
