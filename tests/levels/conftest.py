"""Fixtures of the level tests: ``engine_kind``, each server kind of
:mod:`tests.levels.engine_kinds` in turn."""

from __future__ import annotations

import pytest

from tests.levels.engine_kinds import KIND_NAMES, Kind


@pytest.fixture(params=KIND_NAMES)
def engine_kind(request: pytest.FixtureRequest) -> Kind:
    """The server kind a parametrised engine scenario runs on (asgi, aiohttp, wsgi)."""
    return Kind(request.param)
