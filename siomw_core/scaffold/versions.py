"""The versions a new plugin is written against: the ``siomw-core`` range it depends on and
the plugin contract range it declares (hook ``siomw_contract``).

A generated plugin is written against the siomw-core that generates it:

- its dependency is the compatible range of that distribution's version, at the release's
  significant part: ``0.1.0`` gives ``>=0.1,<0.2`` (before 1.0 a minor release may change
  anything, as in Cargo's caret rule), ``1.4.2`` gives ``>=1.4,<2``;
- its contract range is every contract version from the one it was written for up to the
  next major (``siomw_core.contract``: a major bump is what may break a plugin):
  contract ``1.0`` gives ``>=1.0,<2``.
"""

from __future__ import annotations

from packaging.version import Version

from .. import __version__
from ..contract import CONTRACT_VERSION

__all__ = ["contract_range", "core_range"]


def core_range(version: str = __version__) -> str:
    """The specifier set of the siomw-core releases compatible with ``version``.

    Args:
        version: a PEP 440 version (default: the running siomw-core's).

    Returns:
        ``">=X.Y,<X.(Y+1)"`` when X is 0, else ``">=X.Y,<(X+1)"``.

    Raises:
        packaging.version.InvalidVersion: ``version`` is not PEP 440.
    """
    release = Version(version).release
    major, minor = release[0], release[1] if len(release) > 1 else 0
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f">={major}.{minor},<{upper}"


def contract_range(contract: str = CONTRACT_VERSION) -> str:
    """The contract range a plugin written for contract ``contract`` declares.

    Args:
        contract: a contract version, ``"major.minor"`` (default: this core's).

    Returns:
        ``">=major.minor,<(major+1)"``.

    Raises:
        packaging.version.InvalidVersion: ``contract`` is not a version.
    """
    release = Version(contract).release
    major, minor = release[0], release[1] if len(release) > 1 else 0
    return f">={major}.{minor},<{major + 1}"
