"""Which query parameters, headers, cookies and events carry secrets: one fact for every
plugin.

A plugin that *reads* a credential from somewhere a log could show (the jwt plugin: its
``query_param``, its ``cookie``, ``Authorization``) declares it while its middlewares are
built::

    from siomw_core import declare_secret

    @hookimpl
    def siomw_middlewares(config, settings):
        declare_secret(query=config.query_param, cookie=config.cookie,
                       header="authorization", event=config.reauth_event)
        ...

An *event* declared secret carries credentials in its arguments (jwt's re-authentication
event, ``siomw:reauth``): whatever their shape (an object, a bare string, a list), they are
never written out; the logging plugin shows them as ``"[redacted]"``
(:meth:`Secrets.is_secret_event`).

A plugin that *writes* requests out (the logging plugin's access log) takes the registry of
the stack it is built for, :func:`current_secrets`, at build time, and asks it at request
time (declarations of plugins built after it are seen, since it is asked late)::

    secrets = current_secrets()
    ...
    shown = {k: "[redacted]" if secrets.is_secret_query(k) else v for k, v in query.items()}

Scope: each server stack (each :class:`~siomw_core.Siomw`, hence each ``Registry``) has its
own registry, so two servers in one process do not share their plugins' declarations.
Every stack's registry also holds the built-in names below and whatever was declared
outside any build (at import time by an application: process-wide). Declaring never
removes a name: a name in doubt is redacted.

Names are compared in lower case with ``-`` read as ``_`` (``X-Api-Key`` is ``x_api_key``);
event names exactly as sent (Socket.IO event names are case-sensitive).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = [
    "SECRET_COOKIES",
    "SECRET_HEADERS",
    "SECRET_NAMES",
    "SECRET_SUFFIXES",
    "SECRET_WORDS",
    "Secrets",
    "current_secrets",
    "declare_secret",
]

#: query parameter and cookie names whose values are secret
SECRET_NAMES = frozenset({
    "token", "access_token", "auth", "jwt", "key", "apikey", "api_key", "password",
    "secret",
})
#: ... and those of names ending so (``refresh_token``, ``client_secret``, ``x_api_key``),
#: for query parameters, cookies and headers alike
SECRET_SUFFIXES = ("_token", "_secret", "_password", "_key", "_jwt")
#: header names whose values are secret (credentials, RFC 9110 §11.6; cookies, RFC 6265)
SECRET_HEADERS = frozenset({
    "authorization", "proxy_authorization", "cookie", "set_cookie", "x_api_key",
    "x_auth_token", "x_csrf_token", "x_xsrf_token",
})
#: cookie names of common session and CSRF cookies (Django, Express, PHP, Java, Rails)
SECRET_COOKIES = frozenset({
    "session", "sessionid", "sid", "connect.sid", "phpsessid", "jsessionid", "csrftoken",
    "_csrf", "xsrf_token", "_session_id",
})

#: words that make a key of structured data (an event argument's object) secret wherever
#: they stand in it: ``password_confirm``, ``sessionCookie``, ``token_type`` (a name in
#: doubt is redacted)
SECRET_WORDS = frozenset({
    "password", "passwd", "passphrase", "token", "secret", "authorization", "cookie", "jwt",
    "apikey", "credential", "credentials",
})

Names = str | Iterable[str | None] | None
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD_SEPARATORS = re.compile(r"[_.\s]+")


def normal(name: str) -> str:
    """The form names are compared in: lower case, ``-`` read as ``_``."""
    return name.lower().replace("-", "_")


def _forms(name: str) -> tuple[str, ...]:
    """``name`` as compared (:func:`normal`), and its camelCase read as snake_case when
    that differs (``accessToken``: ``accesstoken`` and ``access_token``)."""
    plain, snake = normal(name), normal(_CAMEL.sub("_", name))
    return (plain,) if plain == snake else (plain, snake)


def _names(value: Names) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, str):
        return {normal(value)} if value else set()
    return {normal(v) for v in value if v}


class Secrets:
    """A registry of secret names; see the module's docstring.

    Args:
        parent: a registry whose names this one also holds (a stack's registry has the
            process-wide one as parent); None: only the built-in names and its own.
    """

    __slots__ = ("_cookie", "_event", "_header", "_parent", "_query")

    def __init__(self, parent: Secrets | None = None) -> None:
        self._parent = parent
        self._query: set[str] = set()
        self._header: set[str] = set()
        self._cookie: set[str] = set()
        self._event: set[str] = set()

    def declare(self, *, query: Names = None, header: Names = None,
                cookie: Names = None, event: Names = None) -> None:
        """Add names (a string, an iterable of strings, or None for none; empty strings
        and None entries are ignored; ``event`` names are kept exactly as written)."""
        self._query |= _names(query)
        self._header |= _names(header)
        self._cookie |= _names(cookie)
        if isinstance(event, str):
            event = (event,)
        self._event |= {e for e in event or () if isinstance(e, str) and e}

    def _has(self, kind: str, name: str) -> bool:
        registry: Secrets | None = self
        while registry is not None:
            if name in getattr(registry, kind):
                return True
            registry = registry._parent
        return False

    def is_secret_query(self, name: str) -> bool:
        """Whether query parameter ``name``'s value must never be written out (camelCase
        read as snake_case too: ``accessToken`` is ``access_token``)."""
        return any(key in SECRET_NAMES or key.endswith(SECRET_SUFFIXES)
                   or self._has("_query", key) for key in _forms(name))

    def is_secret_header(self, name: str) -> bool:
        """Whether header ``name``'s value must never be written out."""
        return any(key in SECRET_HEADERS or key.endswith(SECRET_SUFFIXES)
                   or self._has("_header", key) for key in _forms(name))

    def is_secret_cookie(self, name: str) -> bool:
        """Whether cookie ``name``'s value must never be written out (camelCase too)."""
        return any(key in SECRET_NAMES or key in SECRET_COOKIES
                   or key.endswith(SECRET_SUFFIXES) or self._has("_cookie", key)
                   for key in _forms(name))

    def is_secret_event(self, name: object) -> bool:
        """Whether the arguments of event ``name`` carry credentials and must never be
        written out, whatever their shape (a declared event name, compared exactly)."""
        return isinstance(name, str) and self._has("_event", name)

    def is_secret_name(self, name: str) -> bool:
        """Whether a key of structured data (an object in an event's arguments) names a
        secret: camelCase read as snake_case (``accessToken`` is ``access_token``), then a
        secret query parameter, header or cookie name of this registry (built-in or
        declared; not the session cookie names such as ``sid``), or a name with one of
        :data:`SECRET_WORDS` among its ``_``/``.``-separated words."""
        key = normal(_CAMEL.sub("_", name))
        for form in _forms(name):  # a declared "accessToken" is kept as "accesstoken"
            if (form in SECRET_NAMES or form in SECRET_HEADERS
                    or form.endswith(SECRET_SUFFIXES) or self._has("_query", form)
                    or self._has("_header", form) or self._has("_cookie", form)):
                return True
        return not SECRET_WORDS.isdisjoint(_WORD_SEPARATORS.split(key))

    def declared(self) -> dict[str, list[str]]:
        """The names declared into this registry and its parents (not the built-in ones),
        as ``{"query": [...], "header": [...], "cookie": [...], "event": [...]}``, sorted."""
        out: dict[str, set[str]] = {"query": set(), "header": set(), "cookie": set(),
                                    "event": set()}
        registry: Secrets | None = self
        while registry is not None:
            out["query"] |= registry._query
            out["header"] |= registry._header
            out["cookie"] |= registry._cookie
            out["event"] |= registry._event
            registry = registry._parent
        return {kind: sorted(names) for kind, names in out.items()}


#: declarations made outside any stack's build: every stack's registry includes them
PROCESS = Secrets()
_current: ContextVar[Secrets] = ContextVar("siomw_secrets", default=PROCESS)


def current_secrets() -> Secrets:
    """The registry of the stack whose plugins are being built (called from a
    ``siomw_middlewares`` hook); outside a build, the process-wide one."""
    return _current.get()


def declare_secret(*, query: Names = None, header: Names = None, cookie: Names = None,
                   event: Names = None) -> None:
    """Declare query parameter, header or cookie names whose values are secrets, and event
    names whose arguments are, into :func:`current_secrets` (so: the stack being built, or
    process-wide outside a build).

    Example: ``declare_secret(query="access", cookie="jwt", header="authorization",
    event="siomw:reauth")``.
    """
    _current.get().declare(query=query, header=header, cookie=cookie, event=event)


@contextmanager
def building(secrets: Secrets) -> Iterator[Secrets]:
    """Make ``secrets`` the current registry while a stack's plugins are built (the
    registry does this around each ``siomw_middlewares`` call)."""
    token = _current.set(secrets)
    try:
        yield secrets
    finally:
        _current.reset(token)
