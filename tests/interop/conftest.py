"""The interop suite's fixtures: one running example app per server kind (session-wide, so
each kind starts once), and a client address of its own for every test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.interop.servers import RUNS, Served, serve_kind

_addresses = itertools.count(1)


@pytest.fixture(scope="session", params=[run[1:] for run in RUNS],
                ids=[run[0] for run in RUNS])
def served(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The example app of the kind, running as its integration page says: under its
    server's own command, or under `siomw serve APP`."""
    kind, serve = request.param
    log = tmp_path_factory.mktemp(f"interop-{kind.name}{'-serve' if serve else ''}") / "server.log"
    with serve_kind(kind, log, serve) as running:
        yield running


@pytest.fixture
def address() -> str:
    """A client address no other test uses (sent as X-Forwarded-For from 127.0.0.1, a
    trusted proxy): its own connect and HTTP budgets."""
    n = next(_addresses)
    return f"10.9.{n // 250}.{n % 250 + 1}"
