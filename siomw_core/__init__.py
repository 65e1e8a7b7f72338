"""siomw: Socket.IO v4 middlewares (``io.use``) and a plugin marketplace for python-socketio.

The contract a plugin imports is re-exported here: :class:`Middleware`, :class:`Refusal`,
:class:`Socket`, :class:`Handshake`, :class:`Request`, :func:`asgi_middleware`,
:data:`hookimpl`, :class:`ConfigError`,
:class:`CoreSettings`, :func:`parse_cookies` (the one ``Cookie`` header parser),
:func:`declare_secret` / :func:`current_secrets` / :class:`Secrets` (which query
parameters, headers and cookies are secret). Applications use :func:`attach`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .config import Config, CoreSettings, load_config
from .context import Handshake, Request, Socket, client_address
from .cookies import parse_cookies
from .errors import ConfigError, OrderingError, PluginLoadError, Refusal
from .hookspecs import hookimpl
from .levels.engine import asgi_middleware
from .middleware import CallNext, Middleware
from .secrets import Secrets, current_secrets, declare_secret
from .server import Siomw, attach

__all__ = [
    "CallNext",
    "Config",
    "ConfigError",
    "CoreSettings",
    "Handshake",
    "Middleware",
    "OrderingError",
    "PluginLoadError",
    "Refusal",
    "Request",
    "Secrets",
    "Siomw",
    "Socket",
    "__version__",
    "asgi_middleware",
    "attach",
    "client_address",
    "current_secrets",
    "declare_secret",
    "hookimpl",
    "load_config",
    "parse_cookies",
]

try:
    __version__ = version("siomw-core")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
