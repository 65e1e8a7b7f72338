"""The ``[headers]`` table: one key per security header, plus ``extra`` headers.

Every value is checked at startup, so that no configured value can split a response
(header injection through CR/LF) or carry other control characters: RFC 9110 §5.5 allows
visible ASCII, space and tab in a field value (obs-text is obsolete and not accepted here),
and §5.6.2 limits a field name to ``token`` characters.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

__all__ = [
    "ENGINE_OWNED",
    "HEADER_OF",
    "HeadersOptions",
    "check_name",
    "check_value",
]

# RFC 9110 §5.6.2: field-name = token
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 §5.5: visible ASCII, SP and HTAB; no CR, LF, NUL, other controls or DEL
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e]*")
# RFC 6797 §6.1.1: max-age is required, delta-seconds, optionally quoted
_MAX_AGE = re.compile(r'(?:^|;)\s*max-age\s*=\s*("?)\d+\1\s*(?:;|$)', re.IGNORECASE)
# W3C Referrer Policy §3 (a comma-separated list is allowed: the last known token wins)
_REFERRER_POLICIES = frozenset({
    "no-referrer", "no-referrer-when-downgrade", "same-origin", "origin", "strict-origin",
    "origin-when-cross-origin", "strict-origin-when-cross-origin", "unsafe-url",
})

#: header names the engine (python-engineio, uvicorn) writes itself, or that frame the
#: message: ``extra`` may not add them (a second copy would contradict the engine's own)
ENGINE_OWNED = frozenset({
    "content-type", "content-length", "content-encoding", "transfer-encoding", "connection",
    "keep-alive", "upgrade", "te", "trailer", "set-cookie", "date", "server", "vary",
})
#: name prefixes the engine owns: CORS (python-engineio's ``cors_allowed_origins``) and the
#: WebSocket handshake (RFC 6455 §4.2.2)
ENGINE_OWNED_PREFIXES = ("access-control-", "sec-websocket-", "proxy-")


def check_value(value: str) -> str:
    """``value`` if it is a safe header field value, else ``ValueError``.

    Safe: visible ASCII, spaces and tabs only (RFC 9110 §5.5), no leading or trailing
    whitespace. CR and LF, which would end the header line and start an attacker's, are
    therefore refused, as are NUL, other control characters, DEL and non-ASCII.
    """
    if not _FIELD_VALUE.fullmatch(value):
        bad = next(ch for ch in value if not _FIELD_VALUE.fullmatch(ch))
        raise ValueError(
            f"a header value of visible ASCII, spaces and tabs (RFC 9110 §5.5), without "
            f"CR, LF or other control characters; it contains {bad!r}"
        )
    if value != value.strip(" \t"):
        raise ValueError("a header value without leading or trailing whitespace")
    return value


def check_name(name: str) -> str:
    """``name`` if it is a header field name (an RFC 9110 §5.6.2 token) that the engine does
    not write itself, else ``ValueError``."""
    if not _TOKEN.fullmatch(name):
        raise ValueError(
            "a header name made of token characters (RFC 9110 §5.6.2: letters, digits and "
            "!#$%&'*+-.^_`|~), without spaces, colons, CR or LF"
        )
    lower = name.lower()
    if lower in ENGINE_OWNED or lower.startswith(ENGINE_OWNED_PREFIXES):
        raise ValueError(f"a header the engine does not set itself ({name} is the engine's)")
    return name


def _str_or_false(value: Any) -> Any:
    """``false`` means "remove the header" and becomes ``""``; anything but a string or
    ``false`` is refused (``true`` has no meaning, ``0`` is not ``false``)."""
    if value is False:
        return ""
    if not isinstance(value, str):
        raise ValueError("a string, or false to remove the header")
    return value


def _hsts(value: str) -> str:
    if value and not _MAX_AGE.search(value):
        raise ValueError(
            "a Strict-Transport-Security value with max-age=<seconds> (RFC 6797 §6.1.1), "
            "e.g. 'max-age=15552000; includeSubDomains'"
        )
    return value


def _referrer(value: str) -> str:
    for token in value.split(",") if value else ():
        if token.strip().lower() not in _REFERRER_POLICIES:
            raise ValueError(
                "a comma-separated list of referrer policies: "
                + ", ".join(sorted(_REFERRER_POLICIES))
            )
    return value


_Header = BeforeValidator(_str_or_false)
_Safe = AfterValidator(check_value)
FreeText = Annotated[str, _Header, _Safe]
Hsts = Annotated[str, _Header, _Safe, AfterValidator(_hsts)]
Referrer = Annotated[str, _Header, _Safe, AfterValidator(_referrer)]
Nosniff = Annotated[Literal["nosniff", ""], _Header]
FrameOptions = Annotated[Literal["DENY", "SAMEORIGIN", ""], _Header]
ResourcePolicy = Annotated[Literal["same-origin", "same-site", "cross-origin", ""], _Header]
OpenerPolicy = Annotated[
    Literal["same-origin", "same-origin-allow-popups", "noopener-allow-popups", "unsafe-none", ""],
    _Header,
]
OnOff = Annotated[Literal["on", "off", ""], _Header]
Noopen = Annotated[Literal["noopen", ""], _Header]
CrossDomain = Annotated[
    Literal["none", "master-only", "by-content-type", "by-ftp-filename", "all", ""], _Header
]
AgentCluster = Annotated[Literal["?1", "?0", ""], _Header]

#: each key of the table and the header it sets, in the order they are sent
HEADER_OF: dict[str, str] = {
    "content_security_policy": "Content-Security-Policy",
    "cross_origin_opener_policy": "Cross-Origin-Opener-Policy",
    "cross_origin_resource_policy": "Cross-Origin-Resource-Policy",
    "origin_agent_cluster": "Origin-Agent-Cluster",
    "referrer_policy": "Referrer-Policy",
    "strict_transport_security": "Strict-Transport-Security",
    "x_content_type_options": "X-Content-Type-Options",
    "x_dns_prefetch_control": "X-DNS-Prefetch-Control",
    "x_download_options": "X-Download-Options",
    "x_frame_options": "X-Frame-Options",
    "x_permitted_cross_domain_policies": "X-Permitted-Cross-Domain-Policies",
}


class HeadersOptions(BaseModel):
    """Options of the ``headers`` plugin (table ``[headers]`` of ``siomw.toml``).

    Each header key takes the header's value, or ``false`` / ``""`` to leave the header out
    (``false`` is stored as ``""``). Values are helmet 8's defaults, with a
    Content-Security-Policy for responses that are never documents.

    Attributes:
        content_security_policy: ``Content-Security-Policy``; any safe value.
        cross_origin_opener_policy: ``Cross-Origin-Opener-Policy`` (HTML Standard §7.1.3).
        cross_origin_resource_policy: ``Cross-Origin-Resource-Policy`` (Fetch §3.7); it
            only restricts ``no-cors`` loads, never CORS XHR/fetch or WebSocket.
        origin_agent_cluster: ``Origin-Agent-Cluster`` (``?1``/``?0``, an RFC 8941 boolean).
        referrer_policy: ``Referrer-Policy``: one or more W3C Referrer Policy tokens.
        strict_transport_security: ``Strict-Transport-Security``, sent only over TLS
            (RFC 6797 §7.2): ``max-age`` (seconds) is required.
        x_content_type_options: ``X-Content-Type-Options`` (``nosniff``).
        x_dns_prefetch_control: ``X-DNS-Prefetch-Control`` (``on``/``off``).
        x_download_options: ``X-Download-Options`` (``noopen``, Internet Explorer 8).
        x_frame_options: ``X-Frame-Options`` (RFC 7034: ``DENY``/``SAMEORIGIN``).
        x_permitted_cross_domain_policies: ``X-Permitted-Cross-Domain-Policies`` (Adobe).
        extra: more headers, ``{name: value}``; a name must be a token, not one of the
            headers above (use its key) and not one the engine sets itself
            (:data:`ENGINE_OWNED`, ``Access-Control-*``, ``Sec-WebSocket-*``, ``Proxy-*``).

    Raises:
        pydantic.ValidationError: a value with CR, LF or another control character, an
            unknown token, a bad name; the core turns it into a ``ConfigError`` naming the
            table and key.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    content_security_policy: FreeText = "default-src 'none'; frame-ancestors 'none'"
    cross_origin_opener_policy: OpenerPolicy = "same-origin"
    cross_origin_resource_policy: ResourcePolicy = "same-origin"
    origin_agent_cluster: AgentCluster = "?1"
    referrer_policy: Referrer = "no-referrer"
    strict_transport_security: Hsts = "max-age=15552000; includeSubDomains"
    x_content_type_options: Nosniff = "nosniff"
    x_dns_prefetch_control: OnOff = "off"
    x_download_options: Noopen = "noopen"
    x_frame_options: FrameOptions = "SAMEORIGIN"
    x_permitted_cross_domain_policies: CrossDomain = "none"
    extra: dict[str, str] = Field(default_factory=dict)

    @field_validator("extra")
    @classmethod
    def _extra_headers(cls, value: dict[str, str]) -> dict[str, str]:
        # one validator for names and values, so that an error's location is "extra" and the
        # hostile name appears only repr()-escaped in the message, never raw
        keys = {header.lower(): key for key, header in HEADER_OF.items()}
        seen: set[str] = set()
        for name, header_value in value.items():
            try:
                check_name(name)
                check_value(header_value)
            except ValueError as exc:
                raise ValueError(f"header {name!r}: {exc}") from None
            lower = name.lower()
            if lower in keys:
                raise ValueError(f"header {name!r}: set it with the key {keys[lower]!r}")
            if lower in seen:
                raise ValueError(f"header {name!r}: the same header twice (names are "
                                 f"case-insensitive)")
            if not header_value:
                raise ValueError(f"header {name!r}: a non-empty value (leave it out instead)")
            seen.add(lower)
        return value
