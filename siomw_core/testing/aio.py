"""Asyncio helpers for tests that run their own server in the test's event loop.

``serve`` runs an ASGI app under uvicorn on 127.0.0.1 with an ephemeral port inside the
running event loop; ``connect_result`` connects a real python-socketio ``AsyncClient`` and
reports what it saw: ``("connect", None)`` or ``("connect_error", data)``. The
``AsyncClient`` needs aiohttp (the ``testing`` extra brings it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import socketio
import uvicorn

__all__ = ["close_client", "connect_result", "serve"]


@contextlib.asynccontextmanager
async def serve(app: Any, *, host: str = "127.0.0.1", **options: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on ``host`` and a free port; yield its base URL.

    ``options`` go to ``uvicorn.Config`` (``ssl_certfile=`` and ``ssl_keyfile=`` give an
    ``https://`` URL). The server stops when the block exits (open connections are closed).

    Raises:
        RuntimeError: uvicorn did not start within 10 seconds.
    """
    # proxy_headers=False: X-Forwarded-For must not rewrite the peer address unless configured
    settings: dict[str, Any] = {"log_level": "warning", "lifespan": "off",
                                "proxy_headers": False, "timeout_graceful_shutdown": 1,
                                **options}
    config = uvicorn.Config(app, host=host, port=0, **settings)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    else:
        raise RuntimeError("uvicorn did not start within 10 seconds")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        scheme = "https" if settings.get("ssl_certfile") else "http"
        yield f"{scheme}://{host}:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(task, 5)


async def connect_result(
    url: str,
    *,
    namespace: str = "/",
    auth: Any = None,
    headers: dict[str, str] | None = None,
    transports: list[str] | None = None,
    wait_timeout: float = 5,
) -> tuple[str, Any, socketio.AsyncClient]:
    """Connect a python-socketio ``AsyncClient`` and report the outcome.

    Returns:
        ``(outcome, data, client)``: outcome ``"connect"`` (data None) or
        ``"connect_error"`` (data: what the client's ``connect_error`` handler received).
        The caller disconnects the client.
    """
    client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
    seen: asyncio.Future[tuple[str, Any]] = asyncio.get_running_loop().create_future()

    async def on_connect() -> None:
        if not seen.done():
            seen.set_result(("connect", None))

    async def on_connect_error(data: Any = None) -> None:
        if not seen.done():
            seen.set_result(("connect_error", data))

    client.on("connect", on_connect, namespace=namespace)
    client.on("connect_error", on_connect_error, namespace=namespace)
    # python-socketio's connect() lingers ~30 s after a polling refusal: race it with the event
    connecting = asyncio.create_task(client.connect(
        url, namespaces=[namespace], auth=auth, headers=headers or {}, transports=transports,
        wait_timeout=wait_timeout,
    ))
    await asyncio.wait({connecting, seen}, timeout=wait_timeout + 1,
                       return_when=asyncio.FIRST_COMPLETED)
    if not seen.done() and connecting.done():
        exc = connecting.exception()
        if exc is None:
            seen.set_result(("connect", None))
        else:
            seen.set_result(("connect_error", exc.args[1] if len(exc.args) > 1 else str(exc)))
    if not seen.done():
        seen.set_result(("timeout", None))
    outcome, data = seen.result()
    if outcome != "connect":
        await close_client(client)
        connecting.cancel()
        with contextlib.suppress(BaseException):
            await connecting
    return outcome, data, client


async def close_client(client: socketio.AsyncClient) -> None:
    """Close ``client``'s transport at once, connected or not.

    python-engineio's polling client waits for its pending long-poll GET (up to the ping
    interval, 25 s by default) on ``disconnect()``; tests do not need that courtesy: the
    server sees the transport go away, as when a browser tab closes.
    """
    eio = client.eio
    for task in (eio.read_loop_task, eio.write_loop_task):
        if task is not None and not task.done():
            task.cancel()
    if eio.ws is not None:
        with contextlib.suppress(Exception):
            await eio.ws.close()
    if eio.http is not None and not eio.http.closed:
        await eio.http.close()
    eio.state = "disconnected"
    client.connected = False
