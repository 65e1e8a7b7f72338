"""Render a new plugin project from the templates in ``siomw_core/scaffold/templates``.

:func:`render` turns a :class:`Project` into ``{relative path: text}`` (jinja2,
``StrictUndefined``: a template naming a missing variable fails, it never writes an empty
string); :func:`write` creates the directory and writes them, refusing a directory that
exists, and removes what it wrote when a write fails.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..contract import CONTRACT_VERSION
from ..middleware import LEVELS
from . import text
from .names import PluginNames
from .versions import contract_range, core_range

if TYPE_CHECKING:
    import jinja2

__all__ = ["DEFAULT_LEVELS", "PRIORITY", "Exists", "Project", "render", "write"]

#: the levels of a plugin when none is asked for
DEFAULT_LEVELS: tuple[str, ...] = ("connect",)
#: the generated members' priority: inside the bundled logging (3000) and ratelimit (2000),
#: outside jwt (1000)
PRIORITY = 1500


@dataclass(frozen=True)
class _Level:
    """What the templates say about one level's member (``{name}`` is the plugin name)."""

    name: str
    builder: str
    priority_name: str
    option: str
    option_doc: str
    example: tuple[str, ...]
    runs: str
    refusal: str
    doc: str


_LEVELS: dict[str, _Level] = {
    "engine": _Level(
        name="{name}-http", builder="engine_member", priority_name="HTTP_PRIORITY",
        option="blocked_addresses",
        option_doc="client addresses refused at the engine (HTTP 403), as "
        "`request.address` gives them: trusted proxies applied",
        example=("203.0.113.7",),
        runs="every HTTP request of the engine",
        refusal="HTTP 403, `address_blocked`",
        doc="Runs for every HTTP request on the engine path (the handshake, each long-poll "
        "GET and POST, the WebSocket upgrade), before any namespace is connected. A request "
        "from an address of `blocked_addresses` is answered HTTP 403 with the JSON body "
        '`{"message": "address blocked", "data": {"code": "address_blocked"}}`. The address '
        "is the one the core computed, its `trusted_proxies` applied."),
    "connect": _Level(
        name="{name}", builder="connect_member", priority_name="PRIORITY", option="blocked_users",
        option_doc='users refused at CONNECT, named by the `auth` payload\'s `"user"`',
        example=("mallory",),
        runs="once per namespace CONNECT",
        refusal="CONNECT_ERROR, `user_blocked`",
        doc="Runs once per namespace CONNECT. A client whose `auth` payload names a user of "
        '`blocked_users` (`io(url, {auth: {user: "mallory"}})`) gets a CONNECT_ERROR: the JS '
        'client\'s `connect_error` handler sees `err.message` `"user blocked"` and '
        '`err.data` `{"code": "user_blocked"}`.'),
    "event": _Level(
        name="{name}-events", builder="event_member", priority_name="EVENTS_PRIORITY",
        option="blocked_events",
        option_doc="event names refused on every namespace (the handler is not called)",
        example=("shout",),
        runs="every incoming event",
        refusal="the ack's error, `event_blocked`",
        doc="Runs for every incoming event of every socket. An event named in "
        "`blocked_events` does not reach its handler: its ack is answered "
        '`{"error": {"message": "event blocked", "data": {"code": "event_blocked", '
        '"event": name}}}` (without an ack, the `siomw:error` event carries the same). '
        "`siomw chain` lists the blocked events under each namespace's handlers."),
}

_TEMPLATES = Path(__file__).parent / "templates"


class Exists(FileExistsError):
    """The project's directory exists already: nothing was written."""


@dataclass(frozen=True)
class Project:
    """What ``siomw new-plugin`` was asked for.

    Attributes:
        names: the plugin's names (:func:`~siomw_core.scaffold.names.plugin_names`).
        levels: the levels to write a member for, a subset of ``engine``, ``connect``,
            ``event`` (written in that order whatever the order given).
        description: the distribution's one-line summary.
        author: ``(name, email)``; either may be empty; None: no ``authors`` entry.
    """

    names: PluginNames
    levels: Sequence[str] = DEFAULT_LEVELS
    description: str = ""
    author: tuple[str, str] | None = None
    contract: str = field(default=CONTRACT_VERSION)

    def ordered_levels(self) -> list[str]:
        """:attr:`levels` without repeats, in chain order (engine, connect, event).

        Raises:
            ValueError: an unknown level, or none.
        """
        unknown = sorted(set(self.levels) - set(LEVELS))
        if unknown:
            raise ValueError(f"unknown level {unknown[0]!r}: expected one of "
                             f"{', '.join(LEVELS)}")
        ordered: list[str] = [level for level in LEVELS if level in self.levels]
        if not ordered:
            raise ValueError("no level: expected one or more of " + ", ".join(LEVELS))
        return ordered

    def summary(self) -> str:
        """:attr:`description`, or a default naming the plugin and its levels."""
        if self.description:
            return self.description
        levels = self.ordered_levels()
        listed = levels[0] if len(levels) == 1 else ", ".join(levels[:-1]) + " and " + levels[-1]
        return (f"Socket.IO middlewares for python-socketio servers, at the {listed} "
                f"level{'s' if len(levels) > 1 else ''}.")


def _author(author: tuple[str, str] | None) -> str:
    if author is None:
        return ""
    name, email = author
    parts = [f"name = {text.toml(name)}"] if name else []
    if email:
        parts.append(f"email = {text.toml(email)}")
    return "{ " + ", ".join(parts) + " }" if parts else ""


def _environment() -> jinja2.Environment:
    import jinja2  # here: every other siomw command starts without it

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES), undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
        autoescape=False,  # Python, TOML and Markdown: never HTML
    )
    env.filters.update(toml=text.toml, paragraphs=text.paragraphs, dunder_all=text.dunder_all,
                       in_docstring=text.in_docstring, rst=text.rst)
    env.globals["from_import"] = text.from_import
    return env


def _context(project: Project) -> dict[str, Any]:
    names, levels = project.names, project.ordered_levels()
    members: dict[str, dict[str, Any]] = {}
    for level in levels:
        spec = _LEVELS[level]
        member = spec.name.format(name=names.plugin)
        members[level] = {
            "name": member, "builder": spec.builder, "option": spec.option,
            "option_doc": spec.option_doc, "example": list(spec.example), "runs": spec.runs,
            "refusal": spec.refusal, "doc": spec.doc,
            "priority_name": spec.priority_name,
                        "summary": f"``{member}`` ({level}): {spec.runs}; refuses with "
                       f"{text.rst(spec.refusal)}",
        }
    example = "\n".join([f"[{names.plugin}]"] + [
        f"{members[level]['option']} = {text.toml(members[level]['example'])}" for level in levels])
    listed = [f"``{members[level]['name']}`` ({level})" for level in levels]
    member_list = (listed[0] if len(listed) == 1
                   else ", ".join(listed[:-1]) + " and " + listed[-1])
    return {
        "n": names, "levels": levels, "members": members, "description": project.summary(),
        "author": _author(project.author), "priority": PRIORITY,
        "core_range": core_range(), "contract_range": contract_range(project.contract),
        "contract_version": project.contract, "example_toml": example,
        "member_list": f"The {member_list} member{'s' if len(levels) > 1 else ''}",
        "member_names": {level: members[level]["name"] for level in levels},
    }


def render(project: Project) -> dict[str, str]:
    """The project's files, ``{path relative to its directory: text}``.

    Raises:
        ValueError: an unknown level, or none (:meth:`Project.ordered_levels`).
        jinja2.TemplateError: a broken template (a bug of siomw-core, not of the input).
    """
    context = _context(project)
    env = _environment()
    package, plugin = project.names.package, project.names.plugin
    plan: list[tuple[str, str]] = [
        ("pyproject.toml.j2", "pyproject.toml"),
        ("README.md.j2", "README.md"),
        ("gitignore.j2", ".gitignore"),
        ("docs/plugin.md.j2", f"docs/{plugin}.md"),
        ("package/__init__.py.j2", f"{package}/__init__.py"),
        ("package/options.py.j2", f"{package}/options.py"),
        ("tests/test_options.py.j2", "tests/test_options.py"),
        ("tests/test_plugin.py.j2", "tests/test_plugin.py"),
    ]
    for level in context["levels"]:
        plan.append((f"package/{level}.py.j2", f"{package}/{level}.py"))
        plan.append((f"tests/test_{level}.py.j2", f"tests/test_{level}.py"))
    files = {path: env.get_template(template).render(context) for template, path in plan}
    files[f"{package}/py.typed"] = ""  # PEP 561: the package ships its annotations
    return files


def write(project: Project, parent: Path) -> Path:
    """Write the project into ``parent / <distribution>`` and return that directory.

    Raises:
        Exists: the directory (or a file of that name) exists; nothing is written.
        ValueError: as :func:`render`.
        OSError: a write failed; the directory is removed again.
    """
    files = render(project)  # before creating anything: a bad level writes nothing
    target = parent / project.names.distribution
    try:
        target.mkdir()  # atomic: two runs cannot both create it
    except FileExistsError:
        raise Exists(f"{target} exists already; nothing was written (remove it, or choose "
                     f"another NAME or --dir)") from None
    try:
        for relative, text in files.items():
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target
