"""Outcome and the assertions: what counts as a refusal, and what a failure says."""

from __future__ import annotations

import pytest

from siomw_core.testing import Outcome, assert_accepted, assert_refused, outcome_of


def test_ack_values() -> None:
    refused = outcome_of({"error": {"message": "no", "data": {"code": "x"}}})
    assert (refused.accepted, refused.message, refused.code, refused.level) == (
        False, "no", "x", "event")
    # an echoed dict that merely has an "error" key among others is a value, not a refusal
    assert outcome_of({"error": 1, "other": 2}).accepted
    assert outcome_of(None).accepted
    assert outcome_of(refused) is refused


def test_http() -> None:
    body = '{"message": "slow down", "data": {"code": "rate_limited"}}'
    seen = Outcome.from_http(429, {"retry-after": "60"}, body)
    assert (seen.accepted, seen.code, seen.status) == (False, "rate_limited", 429)
    plain = Outcome.from_http(400, {}, "Bad Request")
    assert (plain.accepted, plain.message, plain.data) == (False, "Bad Request", None)
    ok = Outcome.from_http(200, {}, "0{...}")
    assert ok.accepted and ok.data is None and ok.body == "0{...}"


def test_messages() -> None:
    refused = Outcome(False, "banned", {"code": "banned"})
    with pytest.raises(AssertionError) as info:
        assert_refused(refused, code="banned", status=403)
    assert str(info.value) == ("expected refused with code='banned', status=403; got status "
                               "None: refused (connect): message='banned', "
                               "data={'code': 'banned'}")
    with pytest.raises(AssertionError, match=r"^expected refused with message='x'; got "
                                             r"message 'banned'"):
        assert_refused(refused, message="x")
    with pytest.raises(AssertionError, match=r"^expected accepted; got refused \(connect\)"):
        assert_accepted(refused)
    assert assert_refused(refused, code="banned") is refused
    assert assert_accepted(5).data == 5
