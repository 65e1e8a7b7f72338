"""The ``[jwt]`` config table and its ``[jwt.namespaces."/ns"]`` sub-tables (pydantic models)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator
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


def _invalid(kind: str, expected: str) -> PydanticCustomError:
    # the core's error text is "expected <msg>; found <value>": msg is phrased as an expectation
    return PydanticCustomError(kind, expected)


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
    anonymous: bool = False

    @field_validator("scopes")
    @classmethod
    def _scope_tokens(cls, value: list[str]) -> list[str]:
        # RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), no spaces
        for scope in value:
            if not scope or any(c in scope for c in ' "\\') or not scope.isprintable():
                raise _invalid("jwt_scope", "scope names without spaces, quotes or backslashes")
        return value


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

    @property
    def hmac(self) -> bool:
        """True when the allow-list holds HS* algorithms (keyed by ``secret_env``)."""
        return self.algorithms[0] in HMAC_ALGORITHMS
