"""``siomw token``: print a token signed with the configured HMAC secret; ``siomw token
revoke JTI``: add a ``jti`` to the ``[jwt] revocation`` set."""

from __future__ import annotations

from typing import Any

import click

from siomw_core import ConfigError

from .issue import issue_token

__all__ = ["register"]


def register(cli: click.Group) -> None:
    """Add the ``token`` command (and its ``revoke`` subcommand) to the ``siomw`` group."""

    @cli.group("token", invoke_without_command=True)
    @click.option("--sub", default=None, help="Subject: the user's name or id (required).")
    @click.option(
        "--scope", "scopes", multiple=True,
        help="A scope to grant (repeat for several); sent space-separated in `scope`.",
    )
    @click.option(
        "--ttl", type=click.IntRange(min=1), default=3600, show_default=True,
        help="Lifetime in seconds.",
    )
    @click.option(
        "--jti", default=None,
        help="The token's id (what `siomw token revoke` names); default: a random one when "
             "[jwt] has revocation or requires jti, else none.",
    )
    @click.pass_context
    def token(ctx: click.Context, sub: str | None, scopes: tuple[str, ...], ttl: int,
              jti: str | None) -> None:
        """Print a token for SUB signed with the [jwt] HMAC secret (first HS* algorithm);
        `siomw token revoke JTI` revokes one."""
        if ctx.invoked_subcommand is not None:
            return
        if sub is None:
            raise click.UsageError("Missing option '--sub'.", ctx)
        options = ctx.obj.plugin_options("jwt")
        try:
            click.echo(issue_token(options, sub, scopes, ttl, jti=jti))
        except ConfigError as exc:
            raise click.ClickException(f"[jwt] {exc}") from None
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    @token.command("revoke")
    @click.argument("jti")
    @click.option(
        "--ttl", type=click.IntRange(min=1), default=None,
        help="Seconds to keep it: until the token expires (default: [jwt] revocation_ttl, "
             "the longest token lifetime).",
    )
    @click.pass_obj
    def revoke(state: Any, jti: str, ttl: int | None) -> None:
        """Revoke the token whose `jti` claim is JTI, in the [jwt] revocation Redis set."""
        options = state.plugin_options("jwt")
        if options.revocation is None:
            raise click.ClickException(
                '[jwt] revocation: not set; expected a Redis URL (revocation = '
                '"redis://127.0.0.1:6379/0") shared with the servers')
        if not jti:
            raise click.BadParameter("expected a non-empty jti", param_hint="JTI")
        from .revocation import Revocation

        seconds = options.revocation_ttl if ttl is None else ttl
        try:
            Revocation(options, blocking=True).revoke(jti, seconds)
        except (ConfigError, ConnectionError) as exc:
            raise click.ClickException(f"[jwt] {exc}") from None
        click.echo(f"revoked jti {jti!r} for {seconds} s")

