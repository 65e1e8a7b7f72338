"""Server kinds for the bundled plugins' end-to-end tests: one scenario, parametrised by
``kind``, on a ``socketio.AsyncServer`` (``"async"``: uvicorn serving ``socketio.ASGIApp``)
and on a sync ``socketio.Server`` (``"sync"``: threading mode behind ``socketio.WSGIApp``,
Werkzeug's threaded WSGI server, :mod:`tests.sync_server`), each met by the python client of
its kind (``socketio.AsyncClient`` / ``socketio.Client``, the latter run in threads so that
the test's event loop stays free). JS clients work on both as they are."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import socketio

from siomw_core.testing import close_client, connect_result, serve
from siomw_core.testing.clients import new_client
from tests.sync_server import running_sync

__all__ = ["KINDS", "Caller", "client", "connect_outcome", "new_server", "served"]

#: "async": AsyncServer under ASGI; "sync": socketio.Server (threading) under WSGI
KINDS = ["async", "sync"]


def new_server(kind: str, **options: Any) -> Any:
    """A python-socketio server of ``kind`` (``async_mode`` "asgi" or "threading").
    Handlers written as plain ``def`` serve both kinds (an AsyncServer calls them too)."""
    if kind == "async":
        return socketio.AsyncServer(async_mode="asgi", **options)
    return socketio.Server(async_mode="threading", **options)


@contextlib.asynccontextmanager
async def served(sio: Any) -> AsyncIterator[str]:
    """Serve ``sio`` (siomw attached) on 127.0.0.1: ``socketio.ASGIApp`` under uvicorn for
    an AsyncServer, ``socketio.WSGIApp`` under Werkzeug (threaded) for a sync Server;
    yields the base URL. The engine chain runs either way (python-engineio's seam)."""
    if isinstance(sio, socketio.AsyncServer):
        async with serve(socketio.ASGIApp(sio)) as url:
            try:
                yield url
            finally:
                for session in list(sio.eio.sockets.values()):
                    await session.close(wait=False)  # a pending long-poll GET ends now
        return
    with running_sync(sio) as url:
        yield url


def _sync_client() -> socketio.Client:
    """A ``socketio.Client`` whose disconnect does not wait for the close frame's answer
    (:func:`siomw_core.testing.clients.new_client`, the pytest plugin's client)."""
    client: socketio.Client = new_client()
    return client


def _sync_connect(url: str, namespace: str, auth: Any, headers: dict[str, str] | None,
                  transports: list[str] | None,
                  wait_timeout: float) -> tuple[str, Any, socketio.Client]:
    client = _sync_client()
    seen: list[tuple[str, Any]] = []

    def on_connect() -> None:
        seen.append(("connect", None))

    def on_connect_error(data: Any = None) -> None:
        seen.append(("connect_error", data))

    client.on("connect", on_connect, namespace=namespace)
    client.on("connect_error", on_connect_error, namespace=namespace)
    try:
        client.connect(url, namespaces=[namespace], auth=auth, headers=headers or {},
                       transports=transports, wait_timeout=wait_timeout)
    except socketio.exceptions.ConnectionError as exc:
        if not seen:
            seen.append(("connect_error", exc.args[1] if len(exc.args) > 1 else str(exc)))
    outcome, data = seen[0] if seen else ("timeout", None)
    if outcome != "connect":
        client.disconnect()
    return outcome, data, client


async def connect_outcome(kind: str, url: str, *, namespace: str = "/", auth: Any = None,
                          headers: dict[str, str] | None = None,
                          transports: list[str] | None = None) -> tuple[str, Any]:
    """One connection attempt by the python client of ``kind`` (websocket unless
    ``transports`` says otherwise): ``("connect", None)`` or ``("connect_error", data)``;
    the client is closed after."""
    transports = transports or ["websocket"]
    if kind == "async":
        outcome, data, aclient = await connect_result(
            url, namespace=namespace, auth=auth, headers=headers, transports=transports)
        if outcome == "connect":
            await close_client(aclient)
        return outcome, data
    outcome, data, sclient = await asyncio.to_thread(
        _sync_connect, url, namespace, auth, headers, transports, 5)
    if outcome == "connect":
        await asyncio.to_thread(sclient.disconnect)
    return outcome, data


class Caller:
    """A connected python client of either kind behind one awaitable surface (``call``,
    ``emit``, ``queue``); a sync ``socketio.Client``'s blocking calls run in threads, so that
    several ``call``\\ s gathered at once are concurrent on both kinds."""

    def __init__(self, client: socketio.AsyncClient | socketio.Client) -> None:
        self.client = client

    async def call(self, event: str, data: Any = None, *, namespace: str = "/",
                   timeout: float = 10) -> Any:
        """An acknowledged emit; the ack's value."""
        if isinstance(self.client, socketio.AsyncClient):
            return await self.client.call(event, data, namespace=namespace, timeout=timeout)
        return await asyncio.to_thread(self.client.call, event, data, namespace=namespace,
                                       timeout=timeout)

    async def emit(self, event: str, data: Any = None, *, namespace: str = "/") -> None:
        """An emit without an ack."""
        if isinstance(self.client, socketio.AsyncClient):
            await self.client.emit(event, data, namespace=namespace)
        else:
            await asyncio.to_thread(self.client.emit, event, data, namespace=namespace)

    def queue(self, event: str, namespace: str = "/") -> asyncio.Queue[Any]:
        """A queue that gets the first argument of every ``event`` the server sends (the
        handler of a sync client runs in its thread: handed to the test's loop)."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def record(*args: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, args[0] if args else None)

        self.client.on(event, record, namespace=namespace)
        return queue

    @property
    def connected(self) -> bool:
        """Whether the client is still connected."""
        return bool(self.client.connected)


@contextlib.asynccontextmanager
async def client(kind: str, url: str, *, namespaces: list[str] | None = None,
                 auth: Any = None, setup: Any = None) -> AsyncIterator[Caller]:
    """A connected python client of ``kind`` (websocket), disconnected after; ``setup``
    (``Caller -> None``) runs before it connects (to register handlers)."""
    if kind == "async":
        aclient = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        caller = Caller(aclient)
        if setup is not None:
            setup(caller)
        await aclient.connect(url, transports=["websocket"], namespaces=namespaces,
                              auth=auth, wait_timeout=5)
        try:
            yield caller
        finally:
            await aclient.disconnect()
        return
    sclient = _sync_client()
    caller = Caller(sclient)
    if setup is not None:
        setup(caller)
    await asyncio.to_thread(lambda: sclient.connect(
        url, transports=["websocket"], namespaces=namespaces, auth=auth, wait_timeout=5))
    try:
        yield caller
    finally:
        await asyncio.to_thread(sclient.disconnect)
