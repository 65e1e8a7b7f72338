"""Shared fixtures: real servers on 127.0.0.1, real clients."""

from __future__ import annotations

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
