"""The arguments of a test server (``siomw_server(plugins=..., config=...)``, or
:func:`siomw_core.testing.servers.start`) checked in the test's own process, before a server
starts: a mistake is one line naming the argument and where in it, not a traceback of
tomli-w's or an error about an environment variable the test never set.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any

from ..registry import GROUP

__all__ = ["BadArgument", "MissingConfigFile", "check_config", "check_plugin_names",
           "installed_plugins", "toml_problem"]


class BadArgument(TypeError, ValueError):
    """An argument a server cannot start with.

    ``str()`` is ``"start(ARGUMENT=...): PROBLEM"``; :meth:`said_by` names another caller
    (the pytest plugin's ``siomw_server``). A TypeError and a ValueError both, as the shape
    or the value of the argument is wrong.

    Attributes:
        argument: the keyword (``"plugins"``, ``"config"``).
        problem: one line: where in the argument and what is wrong.
    """

    def __init__(self, argument: str, problem: str) -> None:
        self.argument = argument
        self.problem = problem
        super().__init__(self.said_by("start"))

    def said_by(self, caller: str) -> str:
        """The message naming ``caller``: ``siomw_server(config=...): config['a']: ...``."""
        return f"{caller}({self.argument}=...): {self.problem}"


class MissingConfigFile(BadArgument, FileNotFoundError):
    """``config`` names a file that does not exist."""


def _type_name(value: object) -> str:
    return type(value).__name__


def toml_problem(value: Any, path: str) -> str | None:
    """Why ``value`` (at ``path``, as ``config['audit']['users']``) cannot be written to a
    ``siomw.toml`` by tomli-w, or None when it can.

    TOML (v1.0.0, https://toml.io/en/v1.0.0) holds strings, integers, floats, booleans,
    dates and times, arrays and tables with string keys; it has no null, no set and no
    bytes.
    """
    if value is None:
        return f"{path}: None cannot be written to siomw.toml (TOML has no null; leave the " \
               "key out for its default)"
    if isinstance(value, (str, bool, int, float, decimal.Decimal, datetime.date,
                          datetime.time)):
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return (f"{path}: the key {key!r} ({_type_name(key)}) cannot be written to "
                        f"siomw.toml (TOML's keys are strings)")
            problem = toml_problem(item, f"{path}[{key!r}]")
            if problem:
                return problem
        return None
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            problem = toml_problem(item, f"{path}[{index}]")
            if problem:
                return problem
        return None
    if isinstance(value, (set, frozenset)):
        return (f"{path}: a {_type_name(value)} cannot be written to siomw.toml (TOML has no "
                f"sets; use a list)")
    if isinstance(value, (bytes, bytearray)):
        return (f"{path}: {_type_name(value)} cannot be written to siomw.toml (TOML has no "
                f"bytes; use a str)")
    return (f"{path}: {value!r} ({_type_name(value)}) cannot be written to siomw.toml (TOML "
            f"holds strings, numbers, booleans, dates, lists and tables)")


def check_config(config: object) -> None:
    """A config dict that can be written as ``siomw.toml``.

    Raises:
        BadArgument: not a mapping (``config=["audit"]``), or a value TOML cannot hold,
            naming its key path.
    """
    if not isinstance(config, Mapping):
        raise BadArgument("config", f"expected a dict of tables and core keys (written as "
                                    f"siomw.toml) or the path of a siomw.toml; got "
                                    f"{_type_name(config)} {config!r}")
    problem = toml_problem(config, "config")
    if problem:
        raise BadArgument("config", problem)


def installed_plugins() -> set[str]:
    """The names of the plugins installed in this environment (entry points of the group
    ``siomw``): the ones a server of the test's can load by name."""
    return {ep.name for ep in metadata.entry_points(group=GROUP)}


def check_plugin_names(names: Iterable[str], in_code: Iterable[str], *,
                       argument: str, place: str) -> None:
    """Every name of the allow-list is an installed plugin's or an in-code one's.

    Args:
        names: the allow-list.
        in_code: the names of the test's in-code plugins.
        argument: the keyword the allow-list came from (``"plugins"``, or ``"config"``
            for a config dict's ``plugins`` key).
        place: how to name it inside that argument (``"plugins"``, ``"config['plugins']"``).

    Raises:
        BadArgument: a name no plugin has, listing the installed ones.
    """
    known = installed_plugins() | set(in_code)
    unknown = [name for name in names if name not in known]
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise BadArgument(argument, f"{place}: no installed plugin is named "
                                    f"{', '.join(map(repr, unknown))}; expected one of: "
                                    f"{listed}")
