"""The version of the plugin contract, and the check of the range a plugin declares.

The plugin contract is what a plugin relies on: the hookspecs (``siomw_core.hookspecs``),
the names ``siomw_core`` exports (``siomw_core.__all__``) and what they promise
(:class:`~siomw_core.Middleware`'s fields, :class:`~siomw_core.Refusal`, the runtime's
services...). It is versioned apart from the ``siomw-core`` distribution: the core can be
released many times without changing what a plugin sees.

- the **major** number goes up when a plugin written for the previous contract can break:
  a hook or an exported name removed or renamed, a hook argument removed, a field's meaning
  or type changed, a promise withdrawn;
- the **minor** number goes up when the contract grows and every existing plugin keeps
  working: a new hook, a new optional hook argument, a new exported name, a new optional
  field. A plugin that uses what a minor release added declares ``>=1.N`` (an older core
  refuses it with a clear message instead of failing at its first connection).

What each version holds (``tests/test_compat.py`` keeps the hooks of the current one, so
that a hook added or changed without a new version fails):

- **1.0**: the hooks ``siomw_contract``, ``siomw_config_schema``, ``siomw_middlewares``,
  ``siomw_register_commands``, ``siomw_startup``, ``siomw_shutdown``, and the names of
  ``siomw_core.__all__`` then;
- **1.1**: the hook ``siomw_observer`` and the names ``Observer``, ``Outcome`` (what an
  observer is told of every chain run and member) and ``answer_request`` (an engine member
  answering a request itself);
- **1.2**: on servers with an event loop (ASGI, aiohttp) a WebSocket request's engine chain
  is done at its ``101``: ``call_next`` returns once the upgrade is answered, as Node's
  ``io.engine.use`` middlewares are, and the connection goes on without the chain
  (``Request.on_end`` still runs at its close). 1.0 and 1.1 promised that ``call_next``
  returned when the WebSocket closed, and that promise is kept for every plugin whose range
  admits 1.0 or 1.1 (:func:`keeps_connection`): a chain holding one of its members lasts
  the connection, as before. A plugin declaring ``>=1.2`` is written for the new rule.

A plugin declares the range it supports with the hook :func:`~siomw_core.hookspecs.siomw_contract`,
a PEP 440 specifier (``">=1,<2"``: any 1.x). It is read when the plugin is loaded, before
its table is validated or its middlewares built; an incompatible plugin is refused there.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

__all__ = [
    "CONTRACT_VERSION", "LEGACY_RANGE", "ContractError", "core_version", "keeps_connection",
    "parse_range", "supports",
]

#: the version of the plugin contract this core implements ("major.minor")
CONTRACT_VERSION = "1.2"

#: the range assumed for a plugin that declares none: every plugin written before the
#: contract was versioned was written for what became 1.0, so it keeps loading on any 1.x
#: (minor versions only add) and is refused by a 2.0 core (which it predates)
LEGACY_RANGE = ">=1,<2"


class ContractError(Exception):
    """A plugin's declared contract range is malformed or excludes :data:`CONTRACT_VERSION`."""


def parse_range(declared: object) -> SpecifierSet:
    """``declared`` (what ``siomw_contract()`` returned) as a specifier set.

    Raises:
        ContractError: not a string, empty, or not a PEP 440 specifier (``">=1,<2"``).
    """
    if not isinstance(declared, str) or not declared.strip():
        raise ContractError(
            f"siomw_contract() returned {declared!r}; expected a PEP 440 specifier "
            f"string such as {LEGACY_RANGE!r}"
        )
    try:
        return SpecifierSet(declared)
    except InvalidSpecifier:
        raise ContractError(
            f"siomw_contract() returned {declared!r}, not a PEP 440 specifier; expected "
            f"one such as {LEGACY_RANGE!r}"
        ) from None


def supports(declared: object, contract: str = CONTRACT_VERSION) -> bool:
    """True when the range ``declared`` admits contract version ``contract``.

    Raises:
        ContractError: ``declared`` is malformed (see :func:`parse_range`).
    """
    return parse_range(declared).contains(Version(contract), prereleases=True)


def core_version() -> str:
    """The installed ``siomw-core`` distribution's version (``"0.0.0"`` from a bare source
    tree)."""
    try:
        return version("siomw-core")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


#: the contract versions whose promise was that an engine member's ``call_next`` for a
#: WebSocket returns when the WebSocket closes (1.2 returns it at the ``101``)
_UNTIL_CLOSE = ("1.0", "1.1")


def keeps_connection(declared: str) -> bool:
    """Whether a plugin held to the contract range ``declared`` (its own, or
    :data:`LEGACY_RANGE` when it declares none) was written for 1.0 or 1.1, whose engine
    members' ``call_next`` for a WebSocket returned when the WebSocket closed: the chain of
    such a member keeps that promise and lasts the connection (see 1.2 above). A malformed
    range (the plugin is refused anyway) counts as True."""
    try:
        spec = parse_range(declared)
    except ContractError:
        return True
    return any(spec.contains(Version(version)) for version in _UNTIL_CLOSE)
