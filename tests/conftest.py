"""Shared fixtures: real servers on 127.0.0.1, real clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.jsclient import js_available

requires_js = pytest.mark.skipif(
    not js_available(),
    reason="node and tests/js/node_modules are needed (npm ci --prefix tests/js)",
)


def pytest_configure(config: pytest.Config) -> None:
    import os

    if os.environ.get("CI") and not js_available():
        raise pytest.UsageError("CI needs the JS client: run npm ci --prefix tests/js first")


@pytest.fixture(autouse=True)
def _process_secrets() -> Iterator[None]:
    """Keep each test's process-wide secret declarations to itself: a test that builds a
    plugin outside a stack (calling its hook directly) declares process-wide, as an
    application would at import time, and later tests must not see it."""
    from siomw_core.secrets import PROCESS

    saved = PROCESS.declared()  # every kind of name ({"query": [...], "event": [...], ...})
    yield
    for kind, names in saved.items():  # each kind's set is the slot "_<kind>"
        setattr(PROCESS, f"_{kind}", set(names))
