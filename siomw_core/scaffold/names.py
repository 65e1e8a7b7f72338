"""The names of a new plugin, derived from the one ``NAME`` given to ``siomw new-plugin``.

One name, four spellings (as ``cargo new`` derives a crate name from a package name):

- the **plugin name** (entry-point name in the group ``siomw``, config table ``[NAME]``,
  environment prefix ``SIOMW_NAME__``, the connect member's name): ``NAME`` with ``-`` read
  as ``_``, because an environment variable cannot hold a ``-``;
- the **distribution** and its directory: ``siomw-`` + ``NAME`` with ``_`` read as ``-``
  (PyPI's normalised form, as the bundled ``siomw-ratelimit``);
- the **import package**: ``siomw_`` + the plugin name;
- the **class prefix**: the plugin name in CamelCase (``audit_log`` gives ``AuditLog``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata, util

from packaging.utils import canonicalize_name

from ..config import CoreSettings
from ..registry import GROUP

__all__ = ["MAX_LENGTH", "BadName", "PluginNames", "plugin_names"]

#: lower-case letters and digits, words joined by one ``-`` or ``_``, a letter first
_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
#: long enough for any sensible name, short enough for a table header and a PyPI name
MAX_LENGTH = 40


class BadName(ValueError):
    """``NAME`` cannot name a plugin; the message is one line saying why and what would."""


@dataclass(frozen=True)
class PluginNames:
    """Every spelling of one plugin's name (see the module docstring).

    Attributes:
        plugin: entry-point name, config table and member name (``audit_log``).
        distribution: the distribution and its directory (``siomw-audit-log``).
        package: the import package (``siomw_audit_log``).
        camel: the prefix of the generated class names (``AuditLog``).
    """

    plugin: str
    distribution: str
    package: str
    camel: str

    @property
    def env_prefix(self) -> str:
        """The environment variables of the plugin's table: ``SIOMW_AUDIT_LOG__``."""
        return f"SIOMW_{self.plugin.upper()}__"


def _taken_by(plugin: str) -> tuple[str, str] | None:
    """``(distribution, version)`` of the installed distribution that already registers
    ``plugin`` in the group ``siomw``, or None."""
    for ep in metadata.entry_points(group=GROUP):
        if ep.name == plugin:
            dist = ep.dist
            return (dist.name, dist.version) if dist is not None else ("unknown", "?")
    return None


#: the core's own distribution: a plugin project depends on it, so siomw-core as a plugin's
#: name would depend on itself and, installed, replace the real core
CORE_DISTRIBUTION = "siomw-core"
#: the plugins released with siomw (the repository's plugins/): refused even where they are
#: not installed, since installing one later would replace the new project
BUNDLED = ("headers", "jwt", "logging", "metrics", "ratelimit")


def _distribution_installed(distribution: str) -> tuple[str, str] | None:
    """``(name, version)`` of the installed distribution whose normalised name (PEP 503) is
    ``distribution``'s, or None."""
    wanted = canonicalize_name(distribution)
    for dist in metadata.distributions():
        name = dist.metadata["Name"] or ""
        if name and canonicalize_name(name) == wanted:
            return name, dist.version
    return None


def _package_installed(package: str) -> str | None:
    """Where the importable top-level package ``package`` already lives, or None."""
    try:
        spec = util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    return spec.origin or ", ".join(spec.submodule_search_locations or []) or "installed"


def plugin_names(name: str, *, check_installed: bool = True) -> PluginNames:
    """Validate ``NAME`` and derive its spellings.

    Args:
        name: what the user typed (``audit``, ``audit-log``, ``audit_log``).
        check_installed: refuse a name an installed plugin already registers (two plugins
            of one name: the registry keeps the first and warns).

    Raises:
        BadName: a one-line message naming the rule broken: the pattern, the length, a
            ``siomw`` prefix (the directory gets it), a core key of ``siomw.toml`` (the
            table would collide with it), the core's own distribution (``core``: siomw-core),
            or a name already installed: its entry point, its distribution or its import
            package (installing the project would replace that one).
    """
    shown = repr(name)
    if name.lower().startswith("siomw"):
        rest = re.sub(r"^siomw[-_]?", "", name.lower())
        is_core = canonicalize_name(f"siomw-{rest}") == canonicalize_name(CORE_DISTRIBUTION)
        hint = (f" (try {rest!r}: the project is named siomw-{rest})"
                if rest and not is_core else "")
        raise BadName(f"plugin name {shown} must not start with 'siomw'{hint}")
    if not _NAME.fullmatch(name):
        raise BadName(
            f"plugin name {shown} must be lower-case letters and digits, words joined by one "
            f"'-' or '_', starting with a letter (like 'audit' or 'audit-log')")
    if len(name) > MAX_LENGTH:
        raise BadName(f"plugin name {shown} is {len(name)} characters long; at most "
                      f"{MAX_LENGTH}")
    plugin = name.replace("-", "_")
    if plugin in CoreSettings.model_fields:
        raise BadName(
            f"plugin name {shown} is a core key of siomw.toml ([{plugin}] would collide with "
            f"it); choose another")
    distribution = "siomw-" + name.replace("_", "-")
    package = "siomw_" + plugin
    if canonicalize_name(distribution) == canonicalize_name(CORE_DISTRIBUTION):
        raise BadName(f"plugin name {shown} would name the project {CORE_DISTRIBUTION}, the "
                      f"core itself (installing it would replace the core); choose another")
    if check_installed:
        owner = _taken_by(plugin)
        if owner is not None:
            dist, version = owner
            raise BadName(f"plugin name {shown} is taken: {dist} {version} (installed) "
                          f"registers it in the entry-point group {GROUP!r}; choose another "
                          f"(or pip uninstall {dist} to write it again)")
        if plugin in BUNDLED:
            raise BadName(f"plugin name {shown} would name the project {distribution}, a "
                          f"plugin released with siomw (pip install {distribution}); choose "
                          f"another")
        installed = _distribution_installed(distribution)
        if installed is not None:
            dist, version = installed
            raise BadName(f"plugin name {shown} would name the project {distribution}, which "
                          f"is installed ({dist} {version}; installing the new project would "
                          f"replace it); choose another")
        where = _package_installed(package)
        if where is not None:
            raise BadName(f"plugin name {shown} would name the package {package}, which is "
                          f"already importable ({where}); choose another")
    return PluginNames(
        plugin=plugin,
        distribution=distribution,
        package=package,
        camel="".join(part.capitalize() for part in plugin.split("_")),
    )
