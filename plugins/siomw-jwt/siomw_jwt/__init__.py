"""siomw-jwt: PyJWT authentication for Socket.IO connections (RFC 6750 refusals).

The ``jwt`` connect middleware (priority 1000, every namespace) reads the token from
``handshake.auth["token"]``, ``Authorization: Bearer`` or the configured query parameter or
cookie, verifies it against the ``[jwt]`` configuration, stores the identity with
``siomw_core.set_identity`` (handlers read the claims as ``socket.data["user"]``) and
enforces per-namespace scopes. The ``jwt`` event member refuses the events of a socket whose
token expired, enforces :func:`requires` and ``[jwt.events]``, and answers re-authentication
(``siomw:reauth``). With ``handshake = true`` the ``jwt-handshake`` engine member verifies
the Engine.IO handshake request first (HTTP 401/403, passport-jwt style) and the connect
level reuses its claims. ``siomw token`` issues tokens signed with the configured HMAC
secret.
"""

from __future__ import annotations

import weakref
from typing import Any

from siomw_core import CoreSettings, Middleware, Runtime, hookimpl

from .decoder import Decoder, TokenDecoder
from .handshake import CLAIMS_KEY
from .issue import issue_token
from .jwks import JwksDecoder, KeySet
from .keys import check_jwks, load_keys
from .middleware import build_middlewares
from .options import EventRule, JwtOptions, NamespaceRule
from .requirements import requires
from .scopes import granted_scopes

__all__ = [
    "CLAIMS_KEY",
    "Decoder",
    "EventRule",
    "JwksDecoder",
    "JwtOptions",
    "KeySet",
    "NamespaceRule",
    "TokenDecoder",
    "build_decoder",
    "build_middlewares",
    "granted_scopes",
    "issue_token",
    "requires",
    "siomw_config_schema",
    "siomw_contract",
    "siomw_middlewares",
    "siomw_register_commands",
    "siomw_shutdown",
]

#: each stack's revocation client, by the stack's runtime (closed at its shutdown)
_REVOCATIONS: weakref.WeakKeyDictionary[Runtime, Any] = weakref.WeakKeyDictionary()


@hookimpl
def siomw_config_schema() -> type[JwtOptions]:
    """The ``[jwt]`` table's model: :class:`JwtOptions`."""
    return JwtOptions


@hookimpl
def siomw_middlewares(
    config: JwtOptions, settings: CoreSettings, runtime: Runtime
) -> list[Middleware]:
    """The ``jwt`` connect middleware and the ``jwt`` event member, and with
    ``handshake = true`` the ``jwt-handshake`` engine member before them; the key is read
    and prepared now (:func:`build_decoder`). ``runtime`` (the stack's, any server kind)
    runs the ``disconnect_on_expiry`` timers and disconnects, and says how to fetch a
    ``jwks_url`` and talk to the ``revocation`` Redis (blocking or asyncio).

    Raises:
        ConfigError: see :func:`build_decoder`; ``revocation`` without redis-py.
    """
    revocation = None
    if config.revocation is not None:
        from .revocation import Revocation

        revocation = _REVOCATIONS[runtime] = Revocation(config, blocking=runtime.blocking)
    return build_middlewares(config, build_decoder(config, runtime), runtime, revocation)


def build_decoder(config: JwtOptions, runtime: Runtime) -> Decoder:
    """The decoder of ``config``: a :class:`JwksDecoder` over a :class:`KeySet` with
    ``jwks_url``/``jwks_file`` (the URL fetched now; unreachable: a warning), else a
    :class:`TokenDecoder` with the HMAC secret or the PEM public key.

    Raises:
        ConfigError: the secret variable is unset, the key file is unreadable or unfit
            (:func:`siomw_jwt.keys.load_keys`), the key options conflict
            (:func:`siomw_jwt.keys.check_jwks`), or ``jwks_file`` is not a usable JWK Set.
    """
    if check_jwks(config):
        return JwksDecoder(config, KeySet(config, runtime))
    return TokenDecoder(config, load_keys(config))


@hookimpl
async def siomw_shutdown(runtime: Runtime) -> None:
    """Release the ``revocation`` client's Redis connections (awaited on an
    ``AsyncServer``, driven on a sync server)."""
    revocation = _REVOCATIONS.get(runtime)
    if revocation is not None:
        await revocation.close()


@hookimpl
def siomw_register_commands(cli: Any) -> None:
    """Add ``siomw token --sub NAME [--scope S ...] [--ttl SECONDS]``."""
    from .commands import register

    register(cli)


@hookimpl
def siomw_contract() -> str:
    """The plugin contract versions this plugin supports: 1.2 (its engine members are done at
    a WebSocket's 101) and every later 1.x."""
    return ">=1.2,<2"
