"""A real server for the jwt plugin's event-level tests, and the clients that drive it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import siomw_jwt
import socketio

from siomw_core import Config, CoreSettings, Siomw, attach
from siomw_core.testing import close_client, connect_result
from tests.jsclient import run_node_script
from tests.plugins import kinds
from tests.plugins.jwt.helpers import TABLE
from tests.plugins.kinds import new_server, served

SESSION_JS = Path(__file__).with_name("session_client.mjs")


@dataclass
class App:
    """A served application; ``calls`` gets ``(event, sid)`` per handler run."""

    url: str
    sio: Any
    mw: Siomw
    calls: list[tuple[str, str]] = field(default_factory=list)


class RoomHandlers:
    """A class-based namespace's handlers (plain ``def``: both server kinds call them):
    ``mute`` needs the scope ``mod``."""

    def __init__(self, app: list[App]) -> None:
        super().__init__("/room")  # type: ignore[call-arg]  # the Namespace class next
        self._app = app

    @siomw_jwt.requires("mod")
    def on_mute(self, sid: str, who: str) -> str:
        self._app[0].calls.append(("mute", sid))
        return f"muted {who}"

    def on_hello(self, sid: str) -> str:
        self._app[0].calls.append(("hello", sid))
        return "hello"


class Room(RoomHandlers, socketio.AsyncNamespace):  # type: ignore[misc]
    """The ``/room`` namespace of an AsyncServer."""


class SyncRoom(RoomHandlers, socketio.Namespace):  # type: ignore[misc]
    """The ``/room`` namespace of a sync Server."""


def build(table: dict[str, Any] | None = None,
          kind: str = "async") -> tuple[Any, Siomw, list[App]]:
    """The application on a server of ``kind`` (:mod:`tests.plugins.kinds`): handlers on
    ``/`` (``whoami``, ``echo``, ``admin:kick`` with ``requires`` below ``@sio.on``,
    ``ban`` with it above, ``cfg:op`` guarded only by ``[jwt.events]``), a catch-all on
    ``/public``, ``/admin`` (connect only) and the ``Room`` namespace. Handlers are plain
    ``def`` (both kinds call them), but ``whoami``, which reads the session."""
    sio = new_server(kind)
    holder: list[App] = []

    def record(name: str, sid: str) -> None:
        holder[0].calls.append((name, sid))

    def described(user: Any) -> Any:
        return None if user is None else {"sub": user["sub"], "exp": user.get("exp"),
                                          "scope": user.get("scope")}

    async def whoami(sid: str) -> Any:
        record("whoami", sid)
        return described((await sio.get_session(sid)).get("user"))

    def whoami_sync(sid: str) -> Any:
        record("whoami", sid)
        return described(sio.get_session(sid).get("user"))

    sio.on("whoami", whoami if kind == "async" else whoami_sync)

    @sio.event
    def echo(sid: str, *args: Any) -> list[Any]:
        record("echo", sid)
        return list(args)

    @sio.on("admin:kick")
    @siomw_jwt.requires("admin")
    def kick(sid: str, who: str) -> str:
        record("admin:kick", sid)
        return f"kicked {who}"

    @siomw_jwt.requires("admin", "ban")
    @sio.on("ban")
    def ban(sid: str, who: str) -> str:
        record("ban", sid)
        return f"banned {who}"

    @sio.on("cfg:op")
    def cfg_op(sid: str) -> str:
        record("cfg:op", sid)
        return "done"

    @sio.on("*", namespace="/public")
    def public_any(event: str, sid: str, *args: Any) -> str:
        record(event, sid)
        return f"any {event}"

    @sio.on("connect", namespace="/admin")
    def admin_connect(sid: str, environ: Any, auth: Any) -> None:
        pass  # the namespace exists: [jwt.namespaces."/admin"] needs the scope admin

    sio.register_namespace((Room if kind == "async" else SyncRoom)(holder))
    tables = {"jwt": {**TABLE, "leeway": 0, **(table or {})}}
    config = Config(source="test", core=CoreSettings(), tables=tables)
    mw = attach(sio, config=config, entry_points=False, local_plugins=[("jwt", siomw_jwt)])
    return sio, mw, holder


@contextlib.asynccontextmanager
async def events_server(table: dict[str, Any] | None = None,
                        kind: str = "async") -> AsyncIterator[App]:
    """Serve :func:`build`'s application (``[jwt]`` = helpers.TABLE, ``leeway = 0``, updated
    with ``table``) on 127.0.0.1, on a server of ``kind``."""
    sio, mw, holder = build(table, kind)
    async with served(sio) as url:
        holder.append(App(url, sio, mw))
        yield holder[0]


@contextlib.asynccontextmanager
async def client(url: str, token: str | None, namespace: str = "/", kind: str = "async"
                 ) -> AsyncIterator[Any]:
    """A connected python-socketio ``AsyncClient`` (``auth = {"token": token}``); with
    ``kind = "sync"`` a ``socketio.Client`` behind :class:`tests.plugins.kinds.Caller`."""
    auth = None if token is None else {"token": token}
    if kind != "async":
        async with kinds.client(kind, url, namespaces=[namespace], auth=auth) as caller:
            yield caller
        return
    outcome, data, sock = await connect_result(url, auth=auth, namespace=namespace)
    assert outcome == "connect", data
    try:
        yield sock
    finally:
        await close_client(sock)


def recorder(sock: Any, name: str, namespace: str = "/") -> asyncio.Queue[Any]:
    """A queue that receives each ``name`` event's first argument (either client kind)."""
    if isinstance(sock, kinds.Caller):
        return sock.queue(name, namespace)
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def on(*args: Any) -> None:
        queue.put_nowait(args[0] if args else None)

    sock.on(name, on, namespace=namespace)
    return queue


async def js_session(url: str, **spec: Any) -> list[dict[str, Any]]:
    """Run ``session_client.mjs`` with ``spec``; its observations in order."""
    return await run_node_script(SESSION_JS, url, **spec)
