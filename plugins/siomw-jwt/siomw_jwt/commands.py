"""``siomw token``: print a token signed with the configured HMAC secret."""

from __future__ import annotations

from typing import Any

import click

from siomw_core import ConfigError

from .issue import issue_token

__all__ = ["register"]


def register(cli: click.Group) -> None:
    """Add the ``token`` command to the ``siomw`` group."""

    @cli.command("token")
    @click.option("--sub", required=True, help="Subject: the user's name or id.")
    @click.option(
        "--scope", "scopes", multiple=True,
        help="A scope to grant (repeat for several); sent space-separated in `scope`.",
    )
    @click.option(
        "--ttl", type=click.IntRange(min=1), default=3600, show_default=True,
        help="Lifetime in seconds.",
    )
    @click.pass_obj
    def token(state: Any, sub: str, scopes: tuple[str, ...], ttl: int) -> None:
        """Print a token for SUB signed with the [jwt] HMAC secret (first HS* algorithm)."""
        options = state.plugin_options("jwt")
        try:
            click.echo(issue_token(options, sub, scopes, ttl))
        except ConfigError as exc:
            raise click.ClickException(f"[jwt] {exc}") from None
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
