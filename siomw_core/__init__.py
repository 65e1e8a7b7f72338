"""siomw: Socket.IO v4 middlewares (``io.use``) and a plugin marketplace for python-socketio.

The contract a plugin imports is re-exported here: :class:`Middleware`, :class:`Refusal`,
:class:`Socket`, :class:`Handshake`, :class:`Request`, :func:`asgi_middleware` /
:func:`wsgi_middleware` / :func:`aiohttp_middleware` (framework middlewares as engine members),
:class:`Event` (an incoming event, at the event level) and :func:`send_refusal`,
:class:`Identity` / :func:`set_identity` / :func:`get_identity` (who authenticated a
connection), :class:`Requirement` / :func:`require` / :func:`requirements_of` (what a
handler's decorators ask of plugins) / :func:`handler_name` (a handler as logs name it),
:data:`hookimpl`, :class:`ConfigError`, :data:`CLIENT_GONE` (the refusal code of a client
that left before its chain finished), :data:`ENGINE_QUERY_PARAMS` (Engine.IO's own query
parameters),
:data:`CONTRACT_VERSION` (the plugin contract's version, which plugins declare a range of),
:class:`CoreSettings`, :func:`parse_cookies` (the one ``Cookie`` header parser),
:func:`declare_secret` / :func:`current_secrets` / :class:`Secrets` (which query
parameters, headers and cookies are secret), :class:`Observer` / :data:`Outcome` (what a
``siomw_observer`` hook returns and is told: every chain run and member, timed) and
:func:`answer_request` (an engine member answering a request itself). Applications use
:func:`attach`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .adapters.aiohttp_http import aiohttp_middleware
from .adapters.asgi_http import asgi_middleware
from .adapters.wsgi_http import wsgi_middleware
from .config import Config, CoreSettings, load_config
from .context import ENGINE_QUERY_PARAMS, Handshake, Request, Socket, client_address
from .contract import CONTRACT_VERSION
from .cookies import parse_cookies
from .drive import SuspendedError, drive
from .errors import CLIENT_GONE, ConfigError, OrderingError, PluginLoadError, Refusal
from .event import Event, send_refusal
from .hookspecs import hookimpl
from .identity import Identity, get_identity, set_identity
from .levels.engine import answer_request
from .middleware import CallNext, EventMiddleware, Middleware, SyncCallNext
from .observe import Observer, Outcome
from .requirements import Requirement, handler_name, require, requirements_of
from .runtime import AsyncRuntime, Runtime, SyncRuntime, TimerHandle
from .secrets import Secrets, current_secrets, declare_secret
from .server import Siomw, attach

__all__ = [
    "CLIENT_GONE",
    "CONTRACT_VERSION",
    "ENGINE_QUERY_PARAMS",
    "AsyncRuntime",
    "CallNext",
    "Config",
    "ConfigError",
    "CoreSettings",
    "Event",
    "EventMiddleware",
    "Handshake",
    "Identity",
    "Middleware",
    "Observer",
    "OrderingError",
    "Outcome",
    "PluginLoadError",
    "Refusal",
    "Request",
    "Requirement",
    "Runtime",
    "Secrets",
    "Siomw",
    "Socket",
    "SuspendedError",
    "SyncCallNext",
    "SyncRuntime",
    "TimerHandle",
    "__version__",
    "aiohttp_middleware",
    "answer_request",
    "asgi_middleware",
    "attach",
    "client_address",
    "current_secrets",
    "declare_secret",
    "drive",
    "get_identity",
    "handler_name",
    "hookimpl",
    "load_config",
    "parse_cookies",
    "require",
    "requirements_of",
    "send_refusal",
    "set_identity",
    "wsgi_middleware",
]

try:
    __version__ = version("siomw-core")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
