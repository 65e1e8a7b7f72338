"""Token verification with PyJWT, its keys prepared once, and the refusal for each failure.

PyJWT's ``_verify_signature`` calls ``Algorithm.prepare_key`` on every decode; for HMAC that
re-checks the secret for PEM, SSH, DER and JWK shapes (a DER parse by ``cryptography`` among
them), about a third of a decode. A :class:`PyJWK` does not avoid it (PyJWT 2.15 prepares
``PyJWK.key`` again). So the decoder owns a :class:`jwt.PyJWS` whose allow-listed algorithms are
registered as objects that return the already-prepared key as it is; PyJWT installs its own
module-level PyJWS the same way (``_jwt_global_obj._jws = _jws_global_obj``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import jwt
from jwt.algorithms import Algorithm
from jwt.exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidTokenError,
    MissingRequiredClaimError,
    PyJWTError,
)

from .cache import VerifiedTokens
from .keys import Keys
from .options import JwtOptions
from .refusals import invalid_token

if TYPE_CHECKING:
    from .revocation import Revocation

__all__ = [
    "Decoder",
    "TokenDecoder",
    "UnknownKeyError",
    "check_numeric_dates",
    "failure_detail",
    "verifier",
]


class UnknownKeyError(InvalidTokenError):
    """The token's ``kid`` (or, without one, its only candidate) is not in the key set."""


class Decoder(Protocol):
    """What verifies a token: :class:`TokenDecoder`, or anything with its ``decode``."""

    def decode(self, token: str) -> dict[str, Any]:
        """The claims of ``token``; raises :class:`jwt.exceptions.PyJWTError` to refuse it."""
        ...


class _Prepared(Algorithm):
    """An allow-listed algorithm whose verification key was prepared at startup.

    ``prepare_key`` returns that very key object without re-checking it (the check ran once,
    in :func:`siomw_jwt.keys.load_keys`); any other key goes through the wrapped algorithm.
    """

    def __init__(self, inner: Algorithm, key: Any) -> None:
        self._inner = inner
        self._key = key

    def prepare_key(self, key: Any) -> Any:
        if key is self._key:
            return key
        return self._inner.prepare_key(key)

    def sign(self, msg: bytes, key: Any) -> bytes:
        return self._inner.sign(msg, key)

    def verify(self, msg: bytes, key: Any, sig: bytes) -> bool:
        return self._inner.verify(msg, key, sig)

    def check_key_length(self, key: Any) -> str | None:
        return None  # checked once at startup (RFC 7518 minimum sizes)

    @staticmethod
    def to_jwk(key_obj: Any, as_dict: bool = False) -> Any:
        raise NotImplementedError

    @staticmethod
    def from_jwk(jwk: Any) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:  # never show the key
        return f"<prepared {type(self._inner).__name__}>"


class TokenDecoder:
    """Verifies compact JWS tokens against the configured allow-list, key and claim rules.

    Built once per server; :meth:`decode` is the per-connection path: no allocation beyond
    PyJWT's own, the options dict and the claim arguments fixed at construction.

    Args:
        options: the validated ``[jwt]`` table.
        keys: the prepared keys (:func:`siomw_jwt.keys.load_keys`).
    """

    __slots__ = ("_algorithms", "_audience", "_issuer", "_jwt", "_key", "_leeway")
    #: its results may be cached (:mod:`siomw_jwt.cache`): the key never changes
    cacheable = True

    def __init__(self, options: JwtOptions, keys: Keys) -> None:
        self._algorithms = list(options.algorithms)
        jws = jwt.PyJWS(algorithms=self._algorithms)
        key: Any = None
        for name, (alg, prepared) in keys.by_algorithm.items():
            jws.unregister_algorithm(name)
            jws.register_algorithm(name, _Prepared(alg, prepared))
            key = prepared  # one key for all: the same secret, or the same public key
        self._key = key
        # options given at construction are used as they are on every decode (no merge)
        self._jwt = jwt.PyJWT(options={
            "verify_signature": True,
            "require": list(options.require),
            "enforce_minimum_key_length": True,
        })
        self._jwt._jws = jws
        self._audience = options.audience
        issuer = options.issuer
        self._issuer = tuple(issuer) if isinstance(issuer, list) else issuer
        self._leeway = options.leeway

    def decode(self, token: str) -> dict[str, Any]:
        """Verify ``token`` and return its claims.

        Raises:
            jwt.exceptions.PyJWTError: the token is refused; :func:`failure_detail` names why.
        """
        claims: dict[str, Any] = self._jwt.decode(
            token,
            self._key,
            algorithms=self._algorithms,
            audience=self._audience,
            issuer=self._issuer,
            leeway=self._leeway,
        )
        check_numeric_dates(claims)
        return claims

    def __repr__(self) -> str:
        return f"<TokenDecoder algorithms={self._algorithms}>"


_NUMERIC_DATES = ("exp", "nbf", "iat")
#: seconds; about the year 5138: later dates are not meant, and larger ints break JSON peers
_MAX_DATE = 10**11


def check_numeric_dates(claims: Mapping[str, Any]) -> None:
    """Refuse ``exp``, ``nbf`` and ``iat`` values that are not NumericDates in range.

    RFC 7519 §2 NumericDate: a number of seconds; PyJWT reads ``true`` as 1 and takes
    ``10**400`` as "never expires".

    Raises:
        InvalidTokenError: one of them is a bool, not a number, or beyond ±10**11 seconds.
    """
    for name in _NUMERIC_DATES:
        value = claims.get(name)
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, int | float)
                                  or not -_MAX_DATE < value < _MAX_DATE):
            raise InvalidTokenError(f"{name} is not a NumericDate in range")

# most specific first: InvalidSignatureError is a DecodeError
_DETAILS: tuple[tuple[type[PyJWTError], str, str], ...] = (
    (ExpiredSignatureError, "expired", "Token expired"),
    (ImmatureSignatureError, "immature", "Token not yet valid"),
    (InvalidSignatureError, "bad_signature", "Token signature is invalid"),
    (InvalidAlgorithmError, "algorithm_not_allowed", "Token algorithm is not allowed"),
    (InvalidAudienceError, "invalid_audience", "Token audience is not accepted"),
    (InvalidIssuerError, "invalid_issuer", "Token issuer is not accepted"),
    (MissingRequiredClaimError, "missing_claim", "Token is missing a required claim"),
    (InvalidIssuedAtError, "invalid_claim", "Token has an invalid claim"),
    (UnknownKeyError, "unknown_key", "Token key is not known"),
    (DecodeError, "malformed", "Token is malformed"),
)


def failure_detail(exc: PyJWTError) -> tuple[str, str, Mapping[str, str]]:
    """``(message, detail, extra data)`` for a PyJWT failure (RFC 6750 ``invalid_token``).

    ``detail`` is one of ``expired``, ``immature``, ``bad_signature``,
    ``algorithm_not_allowed``, ``invalid_audience``, ``invalid_issuer``, ``missing_claim``
    (extra ``{"claim": name}``; the name comes from the configuration, not the token),
    ``invalid_claim`` (an ill-typed ``iat``, ``sub`` or ``jti``) or ``malformed``.
    """
    for kind, detail, message in _DETAILS:
        if isinstance(exc, kind):
            if isinstance(exc, MissingRequiredClaimError):
                return message, detail, {"claim": exc.claim}
            return message, detail, {}
    return "Token has an invalid claim", "invalid_claim", {}


def verifier(
    options: JwtOptions, decoder: Decoder, revocation: Revocation | None = None
) -> Callable[[str], Awaitable[dict[str, Any]]]:
    """The verification every level runs on a presented token: ``await verify(token) ->
    claims``.

    Checks, in order: the length against ``max_token_bytes`` (``too_large``, before any
    parsing), ASCII (a compact JWS is base64url and dots only, RFC 7515 §7.1: else
    ``malformed``), then ``decoder.decode`` (signature, algorithm, time and claim rules).
    A decoder with a key set (:class:`siomw_jwt.jwks.JwksDecoder`) that does not know the
    token's key is asked to ``await decoder.refresh()`` (rate-limited, off the event loop)
    and the token decoded once more. Last, with ``revocation``, the token's ``jti`` is looked
    up (``revoked``).

    The decoders of this plugin (``cacheable``) are fronted by a bounded cache of verified
    tokens (:class:`siomw_jwt.cache.VerifiedTokens`: the whole token as key, never past
    ``exp``, emptied when the decoder's key ``generation`` changes); the length, ASCII and
    revocation checks run on every call.

    Raises:
        Refusal: ``invalid_token`` with the detail of :func:`failure_detail` (``unknown_key``
            when the key set lacks the token's key), or the revocation's refusals
            (:meth:`siomw_jwt.revocation.Revocation.check`).
    """
    max_len = options.max_token_bytes
    decode = decoder.decode
    refresh: Callable[[], Awaitable[None]] | None = getattr(decoder, "refresh", None)
    cache = (VerifiedTokens(getattr(decoder, "generation", None))
             if getattr(decoder, "cacheable", False) else None)

    def refused(exc: PyJWTError) -> Exception:
        message, detail, extra = failure_detail(exc)
        return invalid_token(message, detail, extra)

    async def verify(token: str) -> dict[str, Any]:
        if len(token) > max_len:
            raise invalid_token("Token too large", "too_large")
        if not token.isascii():
            raise invalid_token("Token is malformed", "malformed")
        if cache is not None:
            cached = cache.get(token)
            if cached is not None:
                if revocation is not None:
                    await revocation.check(cached)
                return cached
        try:
            claims = decode(token)
        except UnknownKeyError as exc:
            if refresh is None:
                raise refused(exc) from None
            await refresh()  # at most one fetch per jwks_min_refresh, shared by all misses
            try:
                claims = decode(token)
            except PyJWTError as again:
                raise refused(again) from None
        except PyJWTError as exc:
            raise refused(exc) from None
        if cache is not None:
            cache.put(token, claims)
        if revocation is not None:
            await revocation.check(claims)
        return claims

    return verify
