"""``[jwt] jwks_url``: keys from a JWKS served on loopback (a real HTTP server), rotated
mid-run, against real servers of both kinds and real clients (python-socketio, JS)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import requires_js
from tests.jsclient import js_outcome
from tests.plugins.jwt.helpers import TABLE, jwt_server, refusal
from tests.plugins.jwt.jwks_helpers import Provider, SigningKey, provider
from tests.plugins.kinds import KINDS, connect_outcome

UNKNOWN = refusal("Token key is not known", "invalid_token", "unknown_key")
ACCEPTED = ("connect", None)


@pytest.fixture(scope="module")
def key_a() -> SigningKey:
    return SigningKey("key-a")


@pytest.fixture(scope="module")
def key_b() -> SigningKey:
    return SigningKey("key-b")


@pytest.fixture
def idp() -> Iterator[Provider]:
    with provider() as state:
        yield state


def table(idp: Provider, **extra: Any) -> dict[str, Any]:
    """TABLE with RS256 keys from the provider's JWKS, refreshed without delay."""
    return {**TABLE, "algorithms": ["RS256"], "jwks_url": idp.url, "jwks_min_refresh": 0,
            **extra}


async def outcome(kind: str, url: str, tok: str) -> tuple[str, Any]:
    return await connect_outcome(kind, url, auth={"token": tok})


@pytest.mark.parametrize("kind", KINDS)
async def test_rotation(kind: str, idp: Provider, key_a: SigningKey,
                        key_b: SigningKey) -> None:
    """The provider rotates from key A to key B: B's tokens are refused until B is
    published, accepted after; A's keep working while A is still published, and are refused
    once it is gone; a token with an unknown kid is refused invalid_token/unknown_key."""
    idp.publish(key_a.jwk())
    async with jwt_server(table(idp), kind=kind) as (url, sessions):
        assert idp.hits == 1  # fetched at startup
        assert await outcome(kind, url, key_a.token()) == ACCEPTED
        assert idp.hits == 1  # a known kid needs no fetch (max-age=3600)
        assert await outcome(kind, url, key_b.token()) == ("connect_error", UNKNOWN)
        idp.publish(key_a.jwk(), key_b.jwk())  # rotation starts: both published
        assert await outcome(kind, url, key_b.token()) == ACCEPTED
        assert await outcome(kind, url, key_a.token()) == ACCEPTED
        idp.publish(key_b.jwk())  # rotation ends: A withdrawn
        assert await outcome(kind, url, key_b.token(kid="never-published")) == (
            "connect_error", UNKNOWN)
        assert await outcome(kind, url, key_a.token()) == ("connect_error", UNKNOWN)
        assert await outcome(kind, url, key_b.token()) == ACCEPTED
    assert [session["user"]["sub"] for _, session in sessions] == ["alice"] * 4


@requires_js
async def test_rotation_js(idp: Provider, key_a: SigningKey, key_b: SigningKey) -> None:
    """The JS client: a token of the newly published key connects, an unknown kid gets the
    CONNECT_ERROR payload."""
    idp.publish(key_a.jwk())
    async with jwt_server(table(idp)) as (url, _):
        obs = await js_outcome(url, auth={"token": key_b.token()})
        assert obs["event"] == "connect_error"
        assert {"message": obs["message"], "data": obs["data"]} == UNKNOWN
        idp.publish(key_a.jwk(), key_b.jwk())
        assert (await js_outcome(url, auth={"token": key_b.token()}))["event"] == "connect"


@pytest.mark.parametrize("kind", KINDS)
async def test_refresh_storm_is_bounded(kind: str, idp: Provider, key_a: SigningKey) -> None:
    """Concurrent connects with random kids: each is refused unknown_key, and the provider
    sees one fetch at startup and one refresh for all of them (jwks_min_refresh = 3600)."""
    idp.publish(key_a.jwk())
    async with jwt_server(table(idp, jwks_min_refresh=3600), kind=kind) as (url, _):
        tokens = [key_a.token(kid=uuid.uuid4().hex) for _ in range(24)]
        results = await asyncio.gather(*(outcome(kind, url, tok) for tok in tokens))
        assert results == [("connect_error", UNKNOWN)] * len(tokens)
        assert idp.hits == 2
        assert await outcome(kind, url, key_a.token()) == ACCEPTED
        assert idp.hits == 2


async def test_concurrent_misses_share_one_refresh(idp: Provider, key_a: SigningKey,
                                                   key_b: SigningKey) -> None:
    """Connects gathered at once, all with the kid of a key published after startup: one
    refresh serves every one of them, even with jwks_min_refresh = 0."""
    idp.publish(key_a.jwk())
    async with jwt_server(table(idp)) as (url, _):
        idp.publish(key_a.jwk(), key_b.jwk())
        results = await asyncio.gather(*(outcome("async", url, key_b.token())
                                         for _ in range(12)))
        assert results == [ACCEPTED] * 12
        assert 2 <= idp.hits < 2 + 12


@pytest.mark.parametrize("kind", KINDS)
async def test_failing_provider_keeps_last_good_set(
    kind: str, idp: Provider, key_a: SigningKey, key_b: SigningKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The provider answers 500: refreshes fail, the last good set keeps verifying, one
    warning for the outage; once the provider is back, the new key set is used."""
    idp.publish(key_a.jwk())
    caplog.set_level(logging.WARNING, logger="siomw.jwt")
    async with jwt_server(table(idp), kind=kind) as (url, _):
        idp.status = 500
        for _ in range(3):  # three misses, three failed refreshes
            assert await outcome(kind, url, key_b.token()) == ("connect_error", UNKNOWN)
            assert await outcome(kind, url, key_a.token()) == ACCEPTED
        assert idp.hits == 4
        failed = [r.getMessage() for r in caplog.records if "refresh failed" in r.getMessage()]
        assert len(failed) == 1, failed
        assert "HTTP 500 Internal Server Error" in failed[0]
        assert "keeping the last good key set (1 keys)" in failed[0]
        idp.status = 200
        idp.publish(key_b.jwk())
        assert await outcome(kind, url, key_b.token()) == ACCEPTED
        assert any("refresh succeeded again" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("kind", KINDS)
async def test_unreachable_at_startup_is_a_warning(
    kind: str, idp: Provider, key_a: SigningKey, caplog: pytest.LogCaptureFixture,
) -> None:
    """A provider down at startup: one warning, the server starts; the first token fetches
    the key set."""
    idp.publish(key_a.jwk())
    idp.status = 503
    caplog.set_level(logging.WARNING, logger="siomw.jwt")
    async with jwt_server(table(idp, jwks_min_refresh=3600), kind=kind) as (url, _):
        [warning] = [r.getMessage() for r in caplog.records if "at startup" in r.getMessage()]
        assert warning.startswith(f"siomw: [jwt] jwks_url {idp.url}: cannot fetch the key set")
        idp.status = 200
        assert await outcome(kind, url, key_a.token()) == ACCEPTED
        assert idp.hits == 2


@pytest.mark.parametrize("kind", KINDS)
async def test_token_supplied_keys_are_never_used(kind: str, idp: Provider,
                                                  key_a: SigningKey) -> None:
    """A token naming its own key set (jku, x5u) or carrying its own key (jwk), signed by
    that attacker key: refused, and the attacker's JWKS server is never asked."""
    attacker = SigningKey("attacker")
    idp.publish(key_a.jwk())
    with provider() as evil:
        evil.publish(attacker.jwk())
        headers = {"jku": evil.url, "x5u": evil.url, "jwk": attacker.jwk()}
        async with jwt_server(table(idp), kind=kind) as (url, _):
            assert await outcome(kind, url, attacker.token(headers=headers)) == (
                "connect_error", UNKNOWN)
            # the attacker's token names a configured kid: the configured key verifies it
            assert await outcome(kind, url, attacker.token(kid="key-a", headers=headers)) == (
                "connect_error",
                refusal("Token signature is invalid", "invalid_token", "bad_signature"))
            # the legitimate key's token with those headers: verified with the configured key
            assert await outcome(kind, url, key_a.token(headers=headers)) == ACCEPTED
        assert evil.hits == 0


async def test_alg_and_kid_rules(idp: Provider, key_a: SigningKey) -> None:
    """A key's own alg binds: a PS256 token under an RS256 key's kid is refused, whatever
    the allow-list; a token without kid uses the set's only key; with two keys it is
    unknown."""
    idp.publish(key_a.jwk())
    async with jwt_server(table(idp, algorithms=["RS256", "PS256"])) as (url, _):
        import jwt as pyjwt

        from tests.plugins.jwt.helpers import claims
        ps = pyjwt.encode(claims(), key_a.private, algorithm="PS256", headers={"kid": "key-a"})
        assert await outcome("async", url, ps) == ("connect_error", UNKNOWN)
        assert await outcome("async", url, key_a.token(kid=None)) == ACCEPTED
        idp.publish(key_a.jwk(), SigningKey("key-c").jwk())
        await outcome("async", url, key_a.token(kid="refresh-now"))
        assert await outcome("async", url, key_a.token(kid=None)) == ("connect_error", UNKNOWN)


@pytest.mark.parametrize("kind", KINDS)
async def test_expired_set_refreshes_in_background(kind: str, idp: Provider,
                                                   key_a: SigningKey) -> None:
    """``Cache-Control: max-age=0`` with jwks_min_ttl = 0: the set is stale at once; the next
    token is verified with the keys held and starts one background refresh (the runtime's
    task: the loop's, or a thread of the sync server)."""
    idp.publish(key_a.jwk())
    idp.cache_control = "max-age=0"
    async with jwt_server(table(idp, jwks_min_ttl=0), kind=kind) as (url, _):
        assert idp.hits == 1
        idp.cache_control = "public, max-age=3600"
        assert await outcome(kind, url, key_a.token()) == ACCEPTED
        for _ in range(200):  # bounded: the background fetch lands within a few ms
            if idp.hits == 2:
                break
            await asyncio.sleep(0.01)
        assert idp.hits == 2
        assert await outcome(kind, url, key_a.token()) == ACCEPTED
        assert idp.hits == 2  # fresh again for an hour


@pytest.mark.parametrize("kind", KINDS)
async def test_silent_provider_is_bounded_by_jwks_timeout(
    kind: str, idp: Provider, key_a: SigningKey, key_b: SigningKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A provider that accepts and never answers: the refresh ends at jwks_timeout (in a
    thread on the async kind, in the request's thread on the sync kind), the unknown kid is
    refused, the last good set keeps verifying, one warning says it timed out."""
    idp.publish(key_a.jwk())
    caplog.set_level(logging.WARNING, logger="siomw.jwt")
    async with jwt_server(table(idp, jwks_timeout=0.5), kind=kind) as (url, _):
        idp.stall = True
        assert await outcome(kind, url, key_b.token()) == ("connect_error", UNKNOWN)
        assert await outcome(kind, url, key_a.token()) == ACCEPTED
        [warning] = [r.getMessage() for r in caplog.records if "refresh failed" in
                     r.getMessage()]
        assert "timed out" in warning


@pytest.mark.parametrize("kind", KINDS)
async def test_handshake_member_refreshes_too(kind: str, idp: Provider, key_a: SigningKey,
                                              key_b: SigningKey) -> None:
    """With ``handshake = true`` the engine member verifies ``Authorization: Bearer`` against
    the key set as well: a newly published key is fetched there, an unknown kid refused."""
    idp.publish(key_a.jwk())
    async with jwt_server(table(idp, handshake=True), kind=kind) as (url, _):
        idp.publish(key_a.jwk(), key_b.jwk())
        got = await connect_outcome(kind, url,
                                    headers={"Authorization": f"Bearer {key_b.token()}"})
        assert got == ACCEPTED
        assert idp.hits == 2
        got = await connect_outcome(
            kind, url, headers={"Authorization": f"Bearer {key_b.token(kid='nope')}"})
        assert got[0] == "connect_error"
