"""siomw_audit: a complete third-party plugin (one module, registered as entry point ``audit``).

It refuses connections from blocked client addresses and records who connected.
"""

from __future__ import annotations

from collections.abc import Sequence

import click
from pydantic import BaseModel, ConfigDict

from siomw_core import CallNext, CoreSettings, Middleware, Refusal, Socket, hookimpl


class AuditConfig(BaseModel):
    """The ``[audit]`` table; the defaults are the plugin's embedded defaults."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not ignored
    blocked: list[str] = []
    priority: int = 2500


class Audit:
    """The connect-level middleware; built once, called per connection."""

    def __init__(self, config: AuditConfig) -> None:
        self.blocked = frozenset(config.blocked)
        self.accepted: list[str] = []

    async def __call__(self, socket: Socket, call_next: CallNext) -> None:
        if socket.handshake.address in self.blocked:
            raise Refusal("address blocked", {"code": "blocked"})
        await call_next()
        self.accepted.append(socket.sid)


@hookimpl
def siomw_contract() -> str:
    return ">=1.0,<2"  # written for plugin contract 1.0 (docs/plugins/publishing.md)


@hookimpl
def siomw_config_schema() -> type[BaseModel]:
    return AuditConfig


@hookimpl
def siomw_middlewares(config: AuditConfig, settings: CoreSettings) -> Sequence[Middleware]:
    return [
        Middleware(
            name="audit",
            func=Audit(config),
            level="connect",
            priority=config.priority,
            before=("jwt",),  # refuse blocked addresses before spending time on tokens
            if_present=True,  # jwt may not be installed: then there is nothing to be before
        )
    ]


@hookimpl
def siomw_register_commands(cli: click.Group) -> None:
    @cli.command("audit-blocked")
    @click.pass_obj
    def audit_blocked(state: object) -> None:
        """Print the blocked addresses."""
        options = state.plugin_options("audit")  # type: ignore[attr-defined]
        click.echo("\n".join(options.blocked))
