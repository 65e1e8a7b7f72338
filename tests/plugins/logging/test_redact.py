"""The query field of the http line: which parameters are shown, redacted or left out."""

from __future__ import annotations

import pytest
from siomw_logging.redact import REDACTED, QueryView

from siomw_core.secrets import SECRET_NAMES


@pytest.mark.parametrize("name", sorted(SECRET_NAMES))
def test_builtin_names_redacted(name: str) -> None:
    """Each built-in token-like name is redacted, in any case."""
    view = QueryView()
    assert view({name: "s3cr3t", "EIO": "4"}) == {name: REDACTED}
    assert view({name.upper(): "s3cr3t"}) == {name.upper(): REDACTED}


@pytest.mark.parametrize(
    ("name", "secret"),
    [("refresh_token", True), ("id-token", True), ("client_secret", True),
     ("X-Api-Key", True), ("db_password", True), ("access_jwt", True), ("Authorization", False),
     ("monkey", False), ("tokens", False), ("room", False), ("keyboard", False)],
)
def test_suffixes(name: str, secret: bool) -> None:
    """Names ending in _token, _secret, _password, _key or _jwt are redacted; others shown."""
    assert QueryView().is_secret(name) is secret


def test_engine_params_left_out() -> None:
    """Engine.IO's own parameters (siomw_core.ENGINE_QUERY_PARAMS: EIO, transport, sid, t,
    v3's j and b64) are not in the field; nothing else gives null."""
    view = QueryView()
    assert view({"EIO": "4", "transport": "polling", "t": "abc", "sid": "x"}) is None
    assert view({"EIO": "3", "j": "0", "b64": "1", "room": "a"}) == {"room": "a"}
    assert view({}) is None
    assert view({"EIO": "4", "room": "a"}) == {"room": "a"}


def test_extra_names() -> None:
    """redact_params names are compared case-insensitively, "-" read as "_"."""
    view = QueryView(["Tenant-ID"])
    assert view({"tenant_id": "acme", "TENANT-id": "acme"}) == {
        "tenant_id": REDACTED, "TENANT-id": REDACTED}


def test_extra_names_match_camel_case() -> None:
    """redact_params = ["access_code"] redacts ?accessCode= too, as the core reads
    declared names (and as event_redact is read in event arguments)."""
    view = QueryView(["access_code"])
    assert view({"accessCode": "1234", "access_code": "1234", "room": "a"}) == {
        "accessCode": REDACTED, "access_code": REDACTED, "room": "a"}
