"""The ``[jwt]`` config table and its ``[jwt.namespaces."/ns"]`` sub-tables (pydantic models)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "HMAC_ALGORITHMS",
    "JwtOptions",
    "NamespaceRule",
]

#: JWS algorithms keyed by a shared secret (RFC 7518 §3.2)
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
#: JWS algorithms keyed by a public key (RFC 7518 §3.3-3.5, RFC 8037 for EdDSA)
ASYMMETRIC_ALGORITHMS = frozenset({
    "RS256", "RS384", "RS512",
    "PS256", "PS384", "PS512",
    "ES256", "ES256K", "ES384", "ES512",
    "EdDSA",
})


#: query parameters of the Engine.IO protocol itself: a token parameter cannot take their name
ENGINE_QUERY_PARAMS = frozenset({"EIO", "transport", "sid", "t", "j", "b64"})
# RFC 3986 §2.3 unreserved characters: a name that needs no percent-encoding
_QUERY_NAME = re.compile(r"[A-Za-z0-9._~-]+")
# RFC 6265 §4.1.1: cookie-name = token (RFC 9110 §5.6.2 tchar)
_COOKIE_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _invalid(kind: str, expected: str) -> PydanticCustomError:
    # the core's error text is "expected <msg>; found <value>": msg is phrased as an expectation
    return PydanticCustomError(kind, expected)


def _check_scopes(value: list[str]) -> list[str]:
    # RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), no spaces
    for scope in value:
        if not scope or any(c in scope for c in ' "\\') or not scope.isprintable():
            raise _invalid("jwt_scope", "scope names without spaces, quotes or backslashes")
    return value


class NamespaceRule(BaseModel):
    """``[jwt.namespaces."/admin"]``: what one namespace asks of a connecting client.

    Attributes:
        scopes: scopes the token must grant, all of them (from its ``scope`` claim, a
            space-separated string as in RFC 8693 §4.2, or a ``scopes`` list claim); a token
            that lacks one is refused with ``insufficient_scope`` (RFC 6750 §3.1).
        anonymous: clients without a token are let in (``socket.data`` gets no ``"user"``);
            a token that is presented is still verified, and refused when invalid.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    scopes: list[str] = Field(default_factory=list)
    anonymous: StrictBool = False

    @field_validator("scopes")
    @classmethod
    def _scope_tokens(cls, value: list[str]) -> list[str]:
        return _check_scopes(value)


class JwtOptions(BaseModel):
    """The validated ``[jwt]`` table; defaults are the plugin's embedded defaults.

    Attributes:
        algorithms: the allow-list of JWS ``alg`` values (RFC 8725 §2.1: fixed by
            configuration, never taken from the token). Non-empty, no ``none``, and either
            all HMAC (``HS*``) or all asymmetric (``RS*``, ``PS*``, ``ES*``, ``EdDSA``).
        secret_env: name of the environment variable holding the HMAC secret (HS* only).
        public_key_file: path of the PEM public key (asymmetric algorithms only).
        require: claims every token must carry (PyJWT ``options["require"]``).
        audience: accepted ``aud`` value(s); None: a token with an ``aud`` is refused.
        issuer: accepted ``iss`` value(s); None: ``iss`` is not checked.
        leeway: seconds of clock skew allowed for ``exp``, ``nbf`` and ``iat``.
        max_token_bytes: longer tokens are refused before they are parsed.
        namespaces: per-namespace rules, keyed by namespace (``"/admin"``).
        query_param: name of a query parameter that may carry the token (RFC 6750 §2.3;
            None: not read). Read at both levels, after ``auth.token`` and ``Authorization``.
        cookie: name of a cookie that may carry the token (None: not read); read last.
        handshake: add the ``jwt-handshake`` engine member: every Engine.IO handshake
            request must carry a valid token, else HTTP 401/400/403 (passport-jwt on
            ``io.engine.use`` in Socket.IO's "Middlewares" guide).
        handshake_scopes: scopes the handshake's token must grant, all of them (HTTP 403
            ``insufficient_scope``); only with ``handshake = true``. The engine level has
            no namespace: per-namespace ``scopes`` are still checked at the connect level.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithms: list[str] = Field(default_factory=lambda: ["HS256"])
    secret_env: str = "SIOMW_JWT_SECRET"
    public_key_file: str | None = None
    require: list[str] = Field(default_factory=lambda: ["exp"])
    audience: str | list[str] | None = None
    issuer: str | list[str] | None = None
    leeway: float = Field(default=0, ge=0)
    max_token_bytes: int = Field(default=8192, gt=0)
    namespaces: dict[str, NamespaceRule] = Field(default_factory=dict)
    query_param: str | None = None
    cookie: str | None = None
    handshake: StrictBool = False
    handshake_scopes: list[str] = Field(default_factory=list)

    @field_validator("algorithms")
    @classmethod
    def _allow_list(cls, value: list[str]) -> list[str]:
        if not value:
            raise _invalid("jwt_algorithms", "a non-empty list of algorithms")
        if any(alg.lower() == "none" for alg in value):
            raise _invalid(
                "jwt_algorithms", "an allow-list without 'none' (unsigned tokens, RFC 8725 §2.1)"
            )
        unknown = [a for a in value if a not in HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS]
        if unknown:
            known = ", ".join(sorted(HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS))
            raise _invalid("jwt_algorithms", f"algorithms among {known}")
        if set(value) & HMAC_ALGORITHMS and set(value) & ASYMMETRIC_ALGORITHMS:
            raise _invalid(
                "jwt_algorithms",
                "algorithms that do not mix symmetric (HS*) and asymmetric ones "
                "(RFC 8725 §2.1, PyJWT docs)",
            )
        return list(dict.fromkeys(value))

    @field_validator("secret_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not value or "=" in value or "\0" in value:
            raise _invalid("jwt_secret_env", "the name of an environment variable")
        return value

    @field_validator("require")
    @classmethod
    def _claim_names(cls, value: list[str]) -> list[str]:
        if any(not claim for claim in value):
            raise _invalid("jwt_require", "non-empty claim names")
        return value

    @field_validator("namespaces")
    @classmethod
    def _namespace_names(cls, value: dict[str, NamespaceRule]) -> dict[str, NamespaceRule]:
        for name in value:
            if not name.startswith("/"):
                raise _invalid("jwt_namespace", 'namespace names starting with "/"')
        return value

    @field_validator("query_param")
    @classmethod
    def _query_name(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not _QUERY_NAME.fullmatch(value):
            raise _invalid("jwt_query_param",
                           "a parameter name of letters, digits and ._~- (RFC 3986 §2.3)")
        if value in ENGINE_QUERY_PARAMS:
            raise _invalid("jwt_query_param",
                           f"a name that is not an Engine.IO parameter "
                           f"({', '.join(sorted(ENGINE_QUERY_PARAMS))})")
        return value

    @field_validator("cookie")
    @classmethod
    def _cookie_name(cls, value: str | None) -> str | None:
        if value is not None and not _COOKIE_NAME.fullmatch(value):
            raise _invalid("jwt_cookie", "a cookie name (an RFC 6265 §4.1.1 token)")
        return value

    @field_validator("handshake_scopes")
    @classmethod
    def _handshake_scopes(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if value and not info.data.get("handshake"):
            raise _invalid("jwt_handshake_scopes",
                           "no handshake_scopes unless handshake = true (they are checked "
                           "on the engine handshake)")
        return _check_scopes(value)

    @property
    def hmac(self) -> bool:
        """True when the allow-list holds HS* algorithms (keyed by ``secret_env``)."""
        return self.algorithms[0] in HMAC_ALGORITHMS
