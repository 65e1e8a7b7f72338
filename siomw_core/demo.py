"""The bundled demo app that ``siomw serve`` runs when no APP is given.

- namespace ``/``: an ``echo`` event answers through its ack with what it received, and
  ``whoami`` returns the claims the middlewares stored in the session;
- namespace ``/admin``: the same, and the jwt plugin requires the scope ``admin`` there.
"""

from __future__ import annotations

import importlib.metadata as md
from typing import Any

import socketio

from .config import Config

__all__ = ["DEMO_CONNECT_LIMIT", "create_server", "demo_config"]

#: the demo's connect limit per client address, so the refusal shows after a few tries
DEMO_CONNECT_LIMIT = "20/minute"


def create_server() -> socketio.AsyncServer:
    """A new ``AsyncServer`` with the demo's handlers on ``/`` and ``/admin``."""
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")

    for namespace in ("/", "/admin"):

        async def echo(sid: str, data: Any = None) -> Any:
            return data

        async def whoami(sid: str, _data: Any = None, namespace: str = namespace) -> Any:
            session = await sio.get_session(sid, namespace=namespace)
            return session.get("user")

        async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
            return None

        sio.on("echo", echo, namespace=namespace)
        sio.on("whoami", whoami, namespace=namespace)
        sio.on("connect", connect, namespace=namespace)
    return sio


def demo_config(config: Config) -> Config:
    """The demo's additions to a config that came from the embedded defaults.

    When no file was found: ``/admin`` requires the scope ``admin`` (jwt plugin) and the
    connect limit is :data:`DEMO_CONNECT_LIMIT` (ratelimit plugin). A config from a file is
    used as it is.
    """
    if config.source != "<embedded defaults>":
        return config
    installed = {ep.name for ep in md.entry_points(group="siomw")}
    tables = dict(config.tables)
    if "jwt" in installed:
        jwt = dict(tables.get("jwt", {}))
        jwt.setdefault("namespaces", {"/admin": {"scopes": ["admin"]}})
        tables["jwt"] = jwt
    if "ratelimit" in installed:
        ratelimit = dict(tables.get("ratelimit", {}))
        ratelimit.setdefault("connect", DEMO_CONNECT_LIMIT)
        tables["ratelimit"] = ratelimit
    return Config(source=config.source, core=config.core, tables=tables, origins=config.origins)
