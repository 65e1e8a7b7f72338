"""``siomw new-plugin NAME``: the click command that writes a plugin project."""

from __future__ import annotations

import email.utils
from pathlib import Path

import click

from ..middleware import LEVELS
from .generate import DEFAULT_LEVELS, Exists, Project, write
from .names import BadName, plugin_names

__all__ = ["new_plugin", "parse_author"]


def parse_author(value: str) -> tuple[str, str]:
    """``"Ada Lovelace <ada@example.org>"`` as ``(name, email)``; a bare name or a bare
    address gives the other part empty.

    Raises:
        click.BadParameter: empty, or a line break in it.
    """
    if not value.strip() or "\n" in value or "\r" in value:
        raise click.BadParameter("expected 'Name <email>', 'Name' or 'email', on one line")
    name, address = email.utils.parseaddr(value)
    if not address or ("@" not in address and not name):
        return value.strip(), ""  # a bare name: parseaddr reads it as an address
    return name, address


def _one_line(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and any(ch in value for ch in "\r\n\t\0"):
        raise click.BadParameter("a one-line summary: no line breaks, tabs or NUL")
    return value


def _author(_ctx: click.Context, _param: click.Parameter,
            value: str | None) -> tuple[str, str] | None:
    return None if value is None else parse_author(value)


@click.command("new-plugin")
@click.argument("name")
@click.option("--level", "levels", multiple=True, type=click.Choice(LEVELS),
              help="A level to write a member for; repeat for several "
              f"(default: {', '.join(DEFAULT_LEVELS)}).")
@click.option("--dir", "parent", type=click.Path(exists=True, file_okay=False, writable=True,
              path_type=Path), default=Path("."), show_default=True,
              help="The directory to create siomw-NAME/ in.")
@click.option("--author", callback=_author, default=None,
              help="The distribution's author: 'Name <email>' (default: none listed).")
@click.option("--description", callback=_one_line, default=None,
              help="The distribution's one-line summary (default: names the plugin and its "
              "levels).")
def new_plugin(name: str, levels: tuple[str, ...], parent: Path,
               author: tuple[str, str] | None, description: str | None) -> None:
    """Write a new plugin project, siomw-NAME/: its pyproject.toml (the entry point NAME in
    the group siomw), a config schema, one middleware per --level, tests on every server
    kind with siomw's pytest plugin, a docs page and a README.

    NAME is the plugin's name: its entry point and its siomw.toml table ('-' is read as
    '_' there, since an environment variable cannot hold one). Nothing is overwritten: an
    existing siomw-NAME/ is an error.
    """
    try:
        names = plugin_names(name)
    except BadName as exc:
        raise click.ClickException(str(exc)) from None
    project = Project(names=names, levels=levels or DEFAULT_LEVELS,
                      description=description or "", author=author)
    try:
        target = write(project, parent)
    except Exists as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"could not write {parent / names.distribution}: "
                                   f"{exc.strerror or exc}") from None
    # pip install -e reads an existing directory as a path: no "./" needed
    shown = str(target) if parent != Path(".") else target.name
    click.echo(f"created {shown}/: plugin {names.plugin!r} "
               f"({', '.join(project.ordered_levels())}), package {names.package}")
    click.echo("next:")
    click.echo(f"  pip install -e '{shown}[test]'")
    click.echo("  siomw plugins && siomw chain")
    click.echo(f"  cd {shown} && pytest && ruff check . && mypy")
