"""``siomw new-plugin``: write a complete plugin project from templates (jinja2).

The project is what a plugin author needs on day one, and passes its own checks without an
edit: a ``pyproject.toml`` (the entry point in the group ``siomw``, ``siomw-core`` pinned to
the compatible range, a ``[test]`` extra with ``siomw-core[testing]``), the package (a
pydantic schema with ``extra="forbid"``, one member per level asked for, the contract range
declared by ``siomw_contract``), tests on every server kind through siomw's pytest plugin,
a docs page, a README, ``py.typed``, and ruff and mypy (strict) settings.

- :mod:`.names`: ``NAME`` validated, and its spellings (plugin, distribution, package);
- :mod:`.versions`: the ``siomw-core`` and contract ranges a new plugin declares;
- :mod:`.generate`: the templates rendered and written;
- :mod:`.command`: the click command.
"""

from __future__ import annotations

from .command import new_plugin
from .generate import Exists, Project, render, write
from .names import BadName, PluginNames, plugin_names

__all__ = ["BadName", "Exists", "PluginNames", "Project", "new_plugin", "plugin_names",
           "render", "write"]
