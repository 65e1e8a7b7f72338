"""The verified-token cache (siomw_jwt.cache) behind the plugin's verifier: keyed by the whole
token, bounded, never past exp, emptied when the key set changes, claims of their own."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from siomw_jwt import JwksDecoder, JwtOptions, KeySet, TokenDecoder
from siomw_jwt.cache import VerifiedTokens
from siomw_jwt.decoder import verifier
from siomw_jwt.keys import load_keys

from siomw_core import AsyncRuntime, Refusal
from tests.plugins.jwt.helpers import SECRET, token
from tests.plugins.jwt.jwks_helpers import SigningKey, provider


def _hs256() -> tuple[Any, Any]:
    options = JwtOptions(algorithms=["HS256"], secret_env="CACHE_TEST_SECRET")
    decoder = TokenDecoder(options, load_keys(options, {"CACHE_TEST_SECRET": SECRET}))
    return verifier(options, decoder), decoder


def _refused(verify: Any, jwt_token: str) -> Refusal:
    with pytest.raises(Refusal) as caught:
        asyncio.run(verify(jwt_token))
    return caught.value


def test_a_hit_gives_equal_claims_of_their_own() -> None:
    verify, decoder = _hs256()
    jwt_token = token(aud=None, iss=None, roles=["a"])
    first = asyncio.run(verify(jwt_token))
    first["roles"].append("mutated")
    first["sub"] = "mallory"
    second = asyncio.run(verify(jwt_token))
    assert second == decoder.decode(jwt_token)
    assert second["roles"] == ["a"] and second["sub"] == "alice"


def test_keyed_by_the_whole_token() -> None:
    verify, _ = _hs256()
    jwt_token = token(aud=None, iss=None)
    asyncio.run(verify(jwt_token))
    tampered = jwt_token[:-2] + ("AA" if not jwt_token.endswith("AA") else "BB")
    assert _refused(verify, tampered).data["detail"] == "bad_signature"
    assert asyncio.run(verify(jwt_token))["sub"] == "alice"


def test_bounded_least_recently_used_first() -> None:
    cache = VerifiedTokens(size=3)
    exp = time.time() + 60
    for n in range(3):
        cache.put(f"t{n}", {"exp": exp, "n": n})
    assert cache.get("t0") == {"exp": exp, "n": 0}  # t0 used: t1 is now the oldest
    cache.put("t3", {"exp": exp, "n": 3})
    assert len(cache) == 3
    assert cache.get("t1") is None
    assert [cache.get(t) is not None for t in ("t0", "t2", "t3")] == [True, True, True]


def test_never_outlives_exp() -> None:
    verify, _ = _hs256()
    exp = int(time.time()) + 2
    jwt_token = token(aud=None, iss=None, exp=exp)
    assert asyncio.run(verify(jwt_token))["exp"] == exp
    time.sleep(max(0.0, exp - time.time()) + 0.05)  # until exp (not a measurement)
    assert _refused(verify, jwt_token).data["detail"] == "expired"
    cache = VerifiedTokens()
    cache.put("no-exp", {"sub": "alice"})
    cache.put("past", {"exp": time.time() - 1})
    assert cache.get("no-exp") is None and cache.get("past") is None and len(cache) == 0


def test_emptied_when_the_key_set_changes() -> None:
    old, new = SigningKey("k1"), SigningKey("k1")  # a rotated key under the same kid
    with provider() as jwks:
        jwks.publish(old.jwk())
        options = JwtOptions(algorithms=["RS256"], jwks_url=jwks.url, jwks_min_refresh=0)
        keys = KeySet(options, AsyncRuntime())
        decoder = JwksDecoder(options, keys)
        verify: Any = verifier(options, decoder)
        jwt_token = old.token(aud=None, iss=None)
        assert asyncio.run(verify(jwt_token))["sub"] == "alice"
        jwks.publish(new.jwk())
        asyncio.run(decoder.refresh())  # the set is fetched again: the old key is gone
        assert keys.generation == 2
        assert _refused(verify, jwt_token).data["detail"] == "bad_signature"
        assert asyncio.run(verify(new.token(aud=None, iss=None)))["sub"] == "alice"


def test_refusals_are_not_cached() -> None:
    verify, _ = _hs256()
    early = token(aud=None, iss=None, nbf=int(time.time()) + 3600)
    for _ in range(2):
        assert _refused(verify, early).data["detail"] == "immature"
