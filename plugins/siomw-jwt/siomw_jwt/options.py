"""The ``[jwt]`` config table and its ``[jwt.namespaces."/ns"]`` sub-tables (pydantic models)."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from siomw_core import ENGINE_QUERY_PARAMS

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "HMAC_ALGORITHMS",
    "RESERVED_EVENTS",
    "EventRule",
    "JwtOptions",
    "NamespaceRule",
    "jwks_url_problem",
    "scope_problem",
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


# RFC 3986 §2.3 unreserved characters: a name that needs no percent-encoding
_QUERY_NAME = re.compile(r"[A-Za-z0-9._~-]+")
# RFC 6265 §4.1.1: cookie-name = token (RFC 9110 §5.6.2 tchar)
_COOKIE_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _invalid(kind: str, expected: str) -> PydanticCustomError:
    # the core's error text is "expected <msg>; found <value>": msg is phrased as an expectation
    return PydanticCustomError(kind, expected)


#: event names python-socketio gives a meaning of its own: a client cannot emit them as events
RESERVED_EVENTS = frozenset({"connect", "connect_error", "disconnect"})


def scope_problem(scope: object) -> str | None:
    """Why ``scope`` is not a scope name, or None when it is one.

    RFC 6749 §3.3: ``scope-token = 1*( %x21 / %x23-5B / %x5D-7E )``: not empty, no space
    (scopes are space-separated in a ``scope`` claim), no quote, no backslash.
    """
    if not isinstance(scope, str):
        return f"a scope name is a string, not {type(scope).__name__}"
    if not scope:
        return "a scope name is not empty"
    if any(c in scope for c in ' "\\') or not scope.isprintable():
        return f"{scope!r}: scope names have no spaces, quotes or backslashes (RFC 6749 §3.3)"
    return None


def jwks_url_problem(url: str) -> str | None:
    """Why ``url`` is not an acceptable ``jwks_url``, phrased as an expectation, or None.

    Keys must come over an authenticated channel (RFC 8725 §3.10 asks for TLS; OpenID Connect
    Discovery 1.0 §3: ``jwks_uri`` "MUST use the https scheme"); plain ``http`` is accepted
    to a loopback address only (tests, a sidecar on the same host).
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "an https:// URL"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and host:
        try:
            if ipaddress.ip_address(host).is_loopback:
                return None
        except ValueError:
            pass
    return ("an https:// URL (plain http:// only to a loopback address such as "
            "127.0.0.1: keys must not travel unauthenticated)")


def _check_scopes(value: list[str]) -> list[str]:
    for scope in value:
        if scope_problem(scope) is not None:
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


class EventRule(BaseModel):
    """``[jwt.events."admin:kick"]``: what one event asks of the socket that emits it, for
    handlers whose code cannot carry ``@siomw_jwt.requires``.

    Attributes:
        scopes: scopes the socket's token must grant, all of them (at least one); a socket
            that lacks one has the event refused with ``insufficient_scope`` (RFC 6750 §3.1).
        namespaces: the namespaces where the rule holds (None: every namespace).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    scopes: list[str]
    namespaces: list[str] | None = None

    @field_validator("scopes")
    @classmethod
    def _scope_tokens(cls, value: list[str]) -> list[str]:
        if not value:
            raise _invalid("jwt_event_scopes", "at least one scope")
        return _check_scopes(value)

    @field_validator("namespaces")
    @classmethod
    def _namespace_names(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or any(not n.startswith("/") for n in value)):
            raise _invalid("jwt_namespace", 'namespace names starting with "/"')
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
        query_param: name of a query parameter that may carry the token (RFC 6750 §2.3;
            None: not read). Read at both levels, after ``auth.token`` and ``Authorization``.
        cookie: name of a cookie that may carry the token (None: not read); read last.
        handshake: add the ``jwt-handshake`` engine member: every Engine.IO handshake
            request must carry a valid token, else HTTP 401/400/403 (passport-jwt on
            ``io.engine.use`` in Socket.IO's "Middlewares" guide).
        handshake_scopes: scopes the handshake's token must grant, all of them (HTTP 403
            ``insufficient_scope``); only with ``handshake = true``. The engine level has
            no namespace: per-namespace ``scopes`` are still checked at the connect level.
        events: per-event rules, keyed by event name (``"admin:kick"``): the configuration
            form of ``@siomw_jwt.requires``.
        enforce_expiry: once a socket's token expires (``exp`` + ``leeway``), refuse its
            events with ``invalid_token``/``expired``; the socket stays connected and may
            re-authenticate.
        disconnect_on_expiry: disconnect the socket at ``exp`` + ``leeway`` instead (the
            error event is sent first); needs ``enforce_expiry``.
        reauth_event: the event a client emits with ``{"token": ...}`` to replace its
            token without reconnecting (False: none).
        jwks_url: the identity provider's JWK Set (RFC 7517 §5), fetched over HTTPS
            (``http://`` only to a loopback address: 127.0.0.1, ::1); keys are selected by
            the token's ``kid``. Exclusive with ``public_key_file`` and ``jwks_file``.
        jwks_file: a JWK Set read once at startup (a malformed file stops startup).
        jwks_min_ttl: seconds a fetched key set is used at least, whatever the response's
            ``Cache-Control: max-age`` says (also the lifetime when it says nothing).
        jwks_max_ttl: seconds a fetched key set is used at most.
        jwks_min_refresh: seconds between two fetches caused by tokens whose ``kid`` is not
            in the set: a flood of random ``kid`` values costs the provider at most one
            request per this interval (per process).
        jwks_timeout: seconds one fetch of ``jwks_url`` may take (connect and read).
        revocation: a Redis URL (``redis://``, ``rediss://``, ``unix://``) holding revoked
            ``jti`` values (None: no revocation check).
        revocation_prefix: the Redis key prefix of revoked ``jti`` values.
        revocation_ttl: seconds ``siomw token revoke`` keeps a ``jti`` without ``--ttl``:
            the longest lifetime your issuer gives a token.
        revocation_timeout: seconds one revocation lookup may take.
        revocation_on_error: when Redis does not answer: ``"closed"`` refuses the token
            (``temporarily_unavailable``, HTTP 503), ``"open"`` lets it through; one
            warning per outage either way.
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
    events: dict[str, EventRule] = Field(default_factory=dict)
    enforce_expiry: StrictBool = True
    disconnect_on_expiry: StrictBool = False
    reauth_event: str | Literal[False] = "siomw:reauth"
    jwks_url: str | None = None
    jwks_file: str | None = None
    jwks_min_ttl: float = Field(default=60, ge=0)
    jwks_max_ttl: float = Field(default=86400, ge=0)
    jwks_min_refresh: float = Field(default=30, ge=0)
    jwks_timeout: float = Field(default=5, gt=0)
    revocation: str | None = None
    revocation_prefix: str = "siomw:jwt:revoked:"
    revocation_ttl: int = Field(default=86400, gt=0)
    revocation_timeout: float = Field(default=1, gt=0)
    revocation_on_error: Literal["open", "closed"] = "closed"

    @field_validator("jwks_url")
    @classmethod
    def _jwks_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        problem = jwks_url_problem(value)
        if problem is not None:
            raise _invalid("jwt_jwks_url", problem)
        return value

    @field_validator("jwks_max_ttl")
    @classmethod
    def _ttl_bounds(cls, value: float, info: ValidationInfo) -> float:
        low = info.data.get("jwks_min_ttl")
        if low is not None and value < low:
            raise _invalid("jwt_jwks_max_ttl", "jwks_max_ttl >= jwks_min_ttl (seconds)")
        return value

    @field_validator("revocation")
    @classmethod
    def _revocation_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise _invalid("jwt_revocation",
                           "a Redis URL: redis://host:port/db, rediss://... or unix://path")
        return value

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

    @field_validator("events")
    @classmethod
    def _event_names(cls, value: dict[str, EventRule]) -> dict[str, EventRule]:
        for name in value:
            if not name or name in RESERVED_EVENTS:
                raise _invalid("jwt_event", "event names, not empty and not connect, "
                                            "connect_error or disconnect")
        return value

    @field_validator("disconnect_on_expiry")
    @classmethod
    def _disconnect_needs_expiry(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("enforce_expiry") is False:
            raise _invalid("jwt_disconnect_on_expiry",
                           "disconnect_on_expiry = false unless enforce_expiry = true "
                           "(tokens that are not enforced do not expire)")
        return value

    @field_validator("reauth_event", mode="before")
    @classmethod
    def _reauth_name(cls, value: object) -> object:
        # one clear line for true, 1, [] ... instead of pydantic's one per union member
        if value is not False and (type(value) is not str or not value
                                   or value in RESERVED_EVENTS):
            raise _invalid("jwt_reauth_event", "an event name (not empty, not connect, "
                                               "connect_error or disconnect) or false")
        return value

    @property
    def hmac(self) -> bool:
        """True when the allow-list holds HS* algorithms (keyed by ``secret_env``)."""
        return self.algorithms[0] in HMAC_ALGORITHMS
