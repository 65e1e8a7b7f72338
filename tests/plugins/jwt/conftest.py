"""Every jwt test runs with the HMAC secret in $SIOMW_JWT_SECRET."""

from __future__ import annotations

import pytest

from tests.plugins.jwt.helpers import SECRET


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIOMW_JWT_SECRET", SECRET)
