"""The ranges a new plugin declares: siomw-core's compatible releases, the contract's major."""

from __future__ import annotations

import pytest
from packaging.specifiers import SpecifierSet

import siomw_core
from siomw_core.contract import CONTRACT_VERSION, supports
from siomw_core.scaffold.versions import contract_range, core_range


@pytest.mark.parametrize(("version", "expected"), [
    ("0.1.0", ">=0.1,<0.2"),
    ("0.1.7", ">=0.1,<0.2"),
    ("0.12", ">=0.12,<0.13"),
    ("1.4.2", ">=1.4,<2"),
    ("2", ">=2.0,<3"),
])
def test_core_range(version: str, expected: str) -> None:
    assert core_range(version) == expected


def test_core_range_admits_the_running_core() -> None:
    assert siomw_core.__version__ in SpecifierSet(core_range())


@pytest.mark.parametrize(("contract", "expected"), [
    ("1.0", ">=1.0,<2"), ("1.3", ">=1.3,<2"), ("2.1", ">=2.1,<3"),
])
def test_contract_range(contract: str, expected: str) -> None:
    assert contract_range(contract) == expected


def test_contract_range_is_accepted_by_this_core_and_refused_by_the_next_major() -> None:
    declared = contract_range()
    assert supports(declared)
    major = int(CONTRACT_VERSION.split(".")[0])
    assert not supports(declared, f"{major + 1}.0")
    assert not supports(declared, f"{major - 1}.9")
