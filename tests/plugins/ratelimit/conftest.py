"""Fixtures of the ratelimit plugin's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .support import prefix_fixture


@pytest.fixture
def prefix() -> Iterator[str]:
    """A unique ``key_prefix``; its Redis keys are deleted after the test."""
    yield from prefix_fixture()
