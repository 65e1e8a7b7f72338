"""A plugin's handler decorator and its event member, over the core's Requirement and
identity contracts (docs/event-middlewares.md, "For plugin authors").

Run, from the repository: uvicorn docs.examples.event_plugin:app
"""

from collections.abc import Callable
from typing import Any, TypeVar

import socketio

import siomw_core
from siomw_core import (
    CallNext,
    Event,
    Identity,
    Middleware,
    Refusal,
    Requirement,
    Socket,
    get_identity,
    hookimpl,
    require,
    set_identity,
)

F = TypeVar("F", bound=Callable[..., Any])
USERS = {"key-ann": ("ann", {"editor"}), "key-bob": ("bob", set())}


def needs_role(role: str) -> Callable[[F], F]:
    """The plugin's decorator: records what the handler needs, returns the same function."""
    return lambda handler: require(handler, Requirement("roles", "role", {"role": role}))


async def authenticate(socket: Socket, call_next: CallNext) -> None:
    """Connect level: the one place the identity is written (any auth plugin does this)."""
    known = USERS.get(str(socket.handshake.auth.get("key")))
    if known is None:
        raise Refusal("unknown key", {"code": "invalid_token"})
    sub, roles = known
    set_identity(socket, Identity(sub=sub, scopes=frozenset(roles), claims={"sub": sub},
                                  source="roles"))
    await call_next()


async def enforce(event: Event, call_next: CallNext) -> None:
    """Event level: enforce this plugin's requirements of the handler that will run."""
    identity = get_identity(event.socket)  # what authenticate stored at connect
    for requirement in event.requirements:
        if requirement.plugin == "roles":
            role = requirement.options["role"]
            if identity is None or role not in identity.scopes:
                raise Refusal(f"needs role {role}", {"code": "insufficient_scope",
                                                     "role": role})
    await call_next()


class RolesPlugin:
    @hookimpl
    def siomw_middlewares(self, config: Any, settings: Any) -> list[Middleware]:
        return [
            Middleware(name="roles-auth", func=authenticate, level="connect", priority=1000),
            Middleware(name="roles", func=enforce, level="event", priority=1000),
        ]


sio = socketio.AsyncServer(async_mode="asgi")
# an installed plugin comes from its entry point; in one file, local_plugins does the same
mw = siomw_core.attach(sio, plugins=["roles"], local_plugins=[("roles", RolesPlugin())])


@sio.event
@needs_role("editor")  # above or below @sio.event: either order works
async def publish(sid: str, text: str) -> str:
    user = (await sio.get_session(sid))["user"]  # the identity's claims
    return f"{user['sub']} published {text}"


app = mw.asgi_app()
