"""An in-code plugin for the metrics tests (imported by each server's process): it refuses
the connect of user ``mallory`` (``banned``) and the event ``forbidden`` (``nope``), so that
the scrape shows refusals by code. ``async def`` members that never suspend serve every
server kind."""

from __future__ import annotations

from siomw_core import CallNext, Event, Middleware, Refusal, Socket, hookimpl


async def gate(socket: Socket, call_next: CallNext) -> None:
    if socket.handshake.auth.get("user") == "mallory":
        raise Refusal("banned", {"code": "banned"})
    await call_next()


async def events(event: Event, call_next: CallNext) -> None:
    if event.name == "forbidden":
        raise Refusal("not allowed", {"code": "nope"})
    await call_next()


@hookimpl
def siomw_middlewares() -> list[Middleware]:
    return [Middleware("gate", gate, namespaces=None),
            Middleware("gate-events", events, level="event")]
