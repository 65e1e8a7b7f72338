"""Shared fixtures: real servers on 127.0.0.1, real clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.jsclient import js_available

requires_js = pytest.mark.skipif(
    not js_available(),
    reason="node and tests/js/node_modules are needed (npm ci --prefix tests/js)",
)


#: tests that time themselves against the machine (deadlines, a frozen Redis, a browser,
#: several server processes behind nginx, the benchmarks): scripts/test.sh runs them after the
#: parallel run, alone, so that other workers' load cannot make them miss a deadline
SERIAL = (
    "tests/deploy/",
    "tests/plugins/ratelimit/test_failure.py",
    "tests/test_browser.py",
    "tests/plugins/headers/test_browser.py",
    "tests/test_bench",
    "tests/test_serve_shutdown.py",
    "tests/test_chain.py",  # deadlines measured to the tens of milliseconds
    "tests/test_lifecycle.py",  # gunicorn workers started and stopped on time
    "tests/plugins/jwt/test_events_reauth.py",  # tokens that expire in seconds
    "tests/plugins/jwt/test_events_expiry.py",
)


def pytest_configure(config: pytest.Config) -> None:
    import os

    config.addinivalue_line(
        "markers", "serial: run alone after the parallel run (scripts/test.sh: -m serial)")
    if os.environ.get("CI") and not js_available():
        raise pytest.UsageError("CI needs the JS client: run npm ci --prefix tests/js first")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = config.rootpath
    for item in items:
        where = item.path.relative_to(root).as_posix() if item.path.is_relative_to(root) else ""
        if where.startswith(SERIAL):
            item.add_marker(pytest.mark.serial)


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
