"""siomw plugin ``headers``: security response headers on every engine response.

What helmet does for Express, for the engine of python-socketio: registered under the
entry-point group ``siomw`` as ``headers``; its options are the ``[headers]`` table
(:class:`HeadersOptions`). It contributes one engine-level member, named ``headers``,
priority 2500, that also runs for CORS preflight requests. It appends its headers before
the rest of the chain runs, so responses of python-engineio, preflight answers and the
refusals of inner members all carry them. It removes and overrides nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from siomw_core import CoreSettings, Middleware, hookimpl

from .member import build_headers, forwarded_https, headers_member
from .options import ENGINE_OWNED, HEADER_OF, HeadersOptions

__all__ = [
    "ENGINE_OWNED",
    "HEADER_OF",
    "NAME",
    "PRIORITY",
    "HeadersOptions",
    "build_headers",
    "forwarded_https",
    "headers_member",
    "siomw_config_schema",
    "siomw_contract",
    "siomw_middlewares",
]

#: the member's name in chains (``before``/``after``/``order`` refer to it)
NAME = "headers"
#: higher runs first: inside logging (3000), outside ratelimit (2000) and jwt (1000), so
#: their engine refusals carry the headers
PRIORITY = 2500


@hookimpl
def siomw_config_schema() -> type[BaseModel]:
    """The ``[headers]`` table's schema: :class:`HeadersOptions`."""
    return HeadersOptions


@hookimpl
def siomw_middlewares(config: Any, settings: CoreSettings) -> Sequence[Middleware]:
    """The ``headers`` engine member, its header lists built once from ``config``.

    Args:
        config: the validated :class:`HeadersOptions` (None: the defaults).
        settings: the core settings; ``trusted_proxies`` decide whose
            ``X-Forwarded-Proto`` / ``Forwarded: proto=`` counts for HSTS.
    """
    options = config if isinstance(config, HeadersOptions) else HeadersOptions()
    plain, secure = build_headers(options)
    func = headers_member(plain, secure, settings.trusted_proxies)
    return [Middleware(name=NAME, func=func, level="engine", priority=PRIORITY,
                       preflight=True)]


@hookimpl
def siomw_contract() -> str:
    """The plugin contract versions this plugin supports: 1.2 (its engine members are done at
    a WebSocket's 101) and every later 1.x."""
    return ">=1.2,<2"
