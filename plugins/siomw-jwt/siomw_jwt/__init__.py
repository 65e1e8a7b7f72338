"""siomw-jwt: PyJWT authentication for Socket.IO connections (RFC 6750 refusals).

The ``jwt`` connect middleware (priority 1000, every namespace) reads the token from
``handshake.auth["token"]`` or ``Authorization: Bearer``, verifies it against the ``[jwt]``
configuration, stores the claims in ``socket.data["user"]`` and enforces per-namespace scopes.
``siomw token`` issues tokens signed with the configured HMAC secret.
"""

from __future__ import annotations

from typing import Any

from siomw_core import CoreSettings, Middleware, hookimpl

from .decoder import TokenDecoder
from .issue import issue_token
from .keys import load_keys
from .middleware import build_middleware, granted_scopes
from .options import JwtOptions, NamespaceRule

__all__ = [
    "JwtOptions",
    "NamespaceRule",
    "TokenDecoder",
    "granted_scopes",
    "issue_token",
    "siomw_config_schema",
    "siomw_middlewares",
    "siomw_register_commands",
]


@hookimpl
def siomw_config_schema() -> type[JwtOptions]:
    """The ``[jwt]`` table's model: :class:`JwtOptions`."""
    return JwtOptions


@hookimpl
def siomw_middlewares(config: JwtOptions, settings: CoreSettings) -> list[Middleware]:
    """The ``jwt`` connect middleware, its key read and prepared now.

    Raises:
        ConfigError: the secret variable is unset, the key file is unreadable or unfit
            (see :func:`siomw_jwt.keys.load_keys`).
    """
    return [build_middleware(config, TokenDecoder(config, load_keys(config)))]


@hookimpl
def siomw_register_commands(cli: Any) -> None:
    """Add ``siomw token --sub NAME [--scope S ...] [--ttl SECONDS]``."""
    from .commands import register

    register(cli)
