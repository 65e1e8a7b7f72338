"""Verification keys from a JWK Set (RFC 7517 §5): ``jwks_url`` or ``jwks_file``, by ``kid``.

Keys are parsed by PyJWT (:class:`jwt.PyJWK`: one object per key and algorithm, whose
algorithm is fixed, so a token's ``alg`` cannot pick another). A key is used only when its
``alg`` (if stated) is in the allow-list, its ``use`` (if stated) is ``sig``, it is a public key
and it is as long as RFC 7518 asks. Nothing is ever read from the token's own ``jku``,
``x5u``, ``x5c`` or ``jwk`` headers (RFC 8725 §3.10): the key set comes from the configuration
only, so such a token verifies with a configured key or not at all.

Fetching ``jwks_url`` (:class:`KeySet`): at startup (unreachable: one warning, keys fetched
when a token needs them); the set is used for the response's ``Cache-Control: max-age``
bounded by ``jwks_min_ttl``/``jwks_max_ttl``; an expired set keeps serving while a background
refresh runs; a token with an unknown ``kid`` waits for a refresh, at most one per
``jwks_min_refresh`` seconds, shared by every concurrent miss. A failed refresh keeps the last
good set (one warning per outage). PyJWKClient is not used: it fetches on every unknown
``kid`` (no rate limit), blocks, and ignores ``Cache-Control``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, get_args
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from jwt import PyJWK
from jwt.exceptions import DecodeError, InvalidAlgorithmError, PyJWTError

from siomw_core import ConfigError, Runtime

from .decoder import UnknownKeyError, check_numeric_dates
from .options import JwtOptions

__all__ = ["MAX_DOCUMENT_BYTES", "JwksDecoder", "KeySet", "cache_seconds", "parse_jwks"]

log = logging.getLogger("siomw.jwt")

#: a provider's key set is a few kilobytes; more is not a key set
MAX_DOCUMENT_BYTES = 1 << 20
_PRIVATE = get_args(PrivateKeyTypes)
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*\"?(\d+)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\b", re.IGNORECASE)

#: kid -> the JWKs of that kid (RFC 7517 §4.5 allows one kid for keys of different types);
#: "" holds the keys without a kid
Keys = Mapping[str, tuple[dict[str, Any], ...]]


def parse_jwks(
    document: bytes, algorithms: list[str], where: str
) -> dict[str, tuple[dict[str, Any], ...]]:
    """The usable signing keys of a JWK Set document, by ``kid``.

    Args:
        document: the JSON text (``{"keys": [...]}``).
        algorithms: the allow-list (``[jwt] algorithms``).
        where: the source, for messages (``jwks_url https://...``).

    Raises:
        ValueError: not JSON, not an object with a ``keys`` list, or no key usable with
            ``algorithms`` (the message says why each was left out).
    """
    try:
        data = json.loads(document)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{where}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError(f'{where}: not a JWK Set (expected an object with a "keys" list)')
    found: dict[str, list[dict[str, Any]]] = {}
    skipped: list[str] = []
    for jwk in data["keys"]:
        problem = _unusable(jwk, algorithms)
        if problem is not None:
            skipped.append(problem)
            continue
        found.setdefault(str(jwk.get("kid", "")), []).append(jwk)
    if not found:
        why = "; ".join(skipped[:4]) or "the set is empty"
        raise ValueError(f"{where}: no key usable with {', '.join(algorithms)} ({why})")
    return {kid: tuple(jwks) for kid, jwks in found.items()}


def _unusable(jwk: Any, algorithms: list[str]) -> str | None:
    if not isinstance(jwk, dict):
        return "a key that is not an object"
    name = f"kid {jwk.get('kid')!r}"
    if "kid" in jwk and not isinstance(jwk["kid"], str):
        return f"{name}: kid is not a string"
    if jwk.get("use", "sig") != "sig":
        return f"{name}: use is {jwk.get('use')!r}, not 'sig'"
    alg = jwk.get("alg")
    if alg is not None and alg not in algorithms:
        return f"{name}: alg {alg!r} is not allowed"
    candidates = [alg] if alg is not None else algorithms
    problems = []
    for name_alg in candidates:
        problem = _build_problem(jwk, name_alg)
        if problem is None:
            return None
        problems.append(problem)
    return f"{name}: {problems[0]}"


def _build_problem(jwk: dict[str, Any], alg: str) -> str | None:
    try:
        key = PyJWK(jwk, algorithm=alg)
    except PyJWTError as exc:
        return f"not a {alg} key ({type(exc).__name__})"
    if isinstance(key.key, _PRIVATE):
        return "a private key (a key set publishes public keys)"
    short = key.Algorithm.check_key_length(key.key)
    return short or None


def cache_seconds(cache_control: str | None, low: float, high: float) -> float:
    """How long a key set fetched with ``cache_control`` is used, in seconds.

    ``max-age`` (or ``s-maxage``) of RFC 9111 §5.2.2, ``no-store``/``no-cache`` meaning 0;
    without either, ``low``; the result bounded to ``[low, high]``.
    """
    if cache_control:
        match = _MAX_AGE.search(cache_control)
        if match is not None:
            return min(max(float(match.group(1)), low), high)
        if _NO_CACHE.search(cache_control):
            return low
    return low


class _NoDowngrade(urllib.request.HTTPRedirectHandler):
    """Redirects keep to https (or to loopback http, as ``jwks_url`` may)."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> Any:
        if not _loopback_or_https(newurl):
            raise OSError(f"redirect to {newurl!r} refused: not https")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _loopback_or_https(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    try:
        return parts.scheme == "http" and ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        return False


def _is_loopback(url: str) -> bool:
    try:
        return ipaddress.ip_address(urlsplit(url).hostname or "").is_loopback
    except ValueError:
        return False


class KeySet:
    """The current keys of ``[jwt] jwks_url`` or ``jwks_file``, refreshed as described in the
    module's docstring.

    Args:
        options: the validated ``[jwt]`` table (``jwks_*``, ``algorithms``).
        runtime: the stack's runtime: ``blocking`` (sync servers) fetches in the calling
            thread; otherwise a fetch runs in a thread (``asyncio.to_thread``).

    Raises:
        ConfigError: ``jwks_file`` is unreadable or not a usable JWK Set (one line).
    """

    def __init__(self, options: JwtOptions, runtime: Runtime) -> None:
        self._algorithms = list(options.algorithms)
        self._url = options.jwks_url
        self._runtime = runtime
        self._min_ttl, self._max_ttl = options.jwks_min_ttl, options.jwks_max_ttl
        self._min_refresh = options.jwks_min_refresh
        self._timeout = options.jwks_timeout
        self._keys: Keys = {}
        self._prepared: dict[tuple[str, str], PyJWK | None] = {}
        self._expires = math.inf
        self._attempted = -math.inf  # when the last fetch started (runtime clock)
        self._failing = False
        self._inflight: asyncio.Future[None] | None = None
        self._lock = threading.Lock()
        #: fetches made (what a storm test counts, with the server's own hit count)
        self.fetches = 0
        #: counts the key sets stored: a verified-token cache is emptied when it changes
        self.generation = 0
        handlers: list[Any] = [_NoDowngrade()]
        if self._url is not None and _is_loopback(self._url):
            handlers.append(urllib.request.ProxyHandler({}))  # loopback never via a proxy
        self._opener = urllib.request.build_opener(*handlers)
        if options.jwks_file is not None:
            where = repr(options.jwks_file)
            try:
                with open(options.jwks_file, "rb") as fh:
                    document = fh.read(MAX_DOCUMENT_BYTES + 1)
                self._keys = parse_jwks(document, self._algorithms, where)
            except OSError as exc:
                raise ConfigError(f"jwks_file: cannot read {options.jwks_file!r}: "
                                  f"{exc.strerror}") from None
            except ValueError as exc:
                raise ConfigError(f"jwks_file: {exc}") from None
            return
        try:
            self._store(*self._fetch())
        except Exception as exc:
            self._attempted = -math.inf
            log.warning("siomw: [jwt] jwks_url %s: cannot fetch the key set at startup "
                        "(%s); it is fetched when the first token needs it", self._url,
                        _why(exc))

    def __len__(self) -> int:
        """The number of keys held."""
        return sum(len(jwks) for jwks in self._keys.values())

    def key(self, kid: str | None, alg: str) -> PyJWK | None:
        """The key for a token's ``kid`` and ``alg`` (None: not in the set). A token
        without ``kid`` gets the set's only key, if it has exactly one. An expired set
        starts a background refresh and still answers from what it holds."""
        if self._url is not None and time.monotonic() >= self._expires:
            self._expires = math.inf  # one background refresh per expiry
            self._runtime.spawn(self.refresh)
        keys = self._keys
        if kid is None:
            if len(keys) != 1 or len(next(iter(keys.values()))) != 1:
                return None
            kid = next(iter(keys))
        cached = (kid, alg)
        if cached in self._prepared:
            return self._prepared[cached]
        found = None
        for jwk in keys.get(kid, ()):
            if jwk.get("alg", alg) == alg and _build_problem(jwk, alg) is None:
                found = PyJWK(jwk, algorithm=alg)
                break
        if len(self._prepared) < 4 * len(self) + 8:  # bounded: tokens choose kid and alg
            self._prepared[cached] = found
        return found

    async def refresh(self) -> None:
        """Fetch the set again unless a fetch started less than ``jwks_min_refresh`` seconds
        ago; concurrent callers share one fetch. Never raises: a failure keeps the last good
        set and warns once per outage."""
        if self._url is None:
            return
        if self._runtime.blocking:
            self._refresh_here()
            return
        task = self._inflight
        if task is None:
            if not self._due():
                return
            self._attempted = time.monotonic()
            task = self._inflight = asyncio.ensure_future(asyncio.to_thread(self._fetch_safely))
            task.add_done_callback(self._landed)
        await asyncio.shield(task)

    def _due(self) -> bool:
        return time.monotonic() - self._attempted >= self._min_refresh

    def _refresh_here(self) -> None:
        # sync servers: the calling thread fetches; the others wait for it (bounded)
        if not self._lock.acquire(timeout=self._timeout + 1):
            return
        try:
            if self._due():
                self._attempted = time.monotonic()
                self._fetch_safely()
        finally:
            self._lock.release()

    def _landed(self, task: asyncio.Future[None]) -> None:
        self._inflight = None

    def _fetch_safely(self) -> None:
        try:
            self._store(*self._fetch())
        except Exception as exc:
            # retried in the background after jwks_min_ttl (misses: jwks_min_refresh)
            self._expires = time.monotonic() + max(self._min_ttl, self._min_refresh)
            if not self._failing:
                self._failing = True
                log.warning("siomw: [jwt] jwks_url %s: refresh failed (%s); keeping the last "
                            "good key set (%d keys) until a refresh succeeds", self._url,
                            _why(exc), len(self))

    def _fetch(self) -> tuple[Keys, float]:
        assert self._url is not None
        self.fetches += 1
        request = urllib.request.Request(self._url, headers={
            "Accept": "application/jwk-set+json, application/json",
            "User-Agent": "siomw-jwt"})
        with self._opener.open(request, timeout=self._timeout) as response:
            document = response.read(MAX_DOCUMENT_BYTES + 1)
            cache_control = response.headers.get("Cache-Control")
        if len(document) > MAX_DOCUMENT_BYTES:
            raise ValueError(f"the key set is larger than {MAX_DOCUMENT_BYTES} bytes")
        keys = parse_jwks(document, self._algorithms, f"jwks_url {self._url}")
        return keys, cache_seconds(cache_control, self._min_ttl, self._max_ttl)

    def _store(self, keys: Keys, ttl: float) -> None:
        self._keys, self._prepared = keys, {}
        self.generation += 1
        self._expires = time.monotonic() + ttl
        if self._failing:
            self._failing = False
            log.warning("siomw: [jwt] jwks_url %s: refresh succeeded again (%d keys)",
                        self._url, len(self))


def _why(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    reason = getattr(exc, "reason", None)
    text = str(reason if reason is not None else exc) or type(exc).__name__
    return text.splitlines()[0][:200]


class JwksDecoder:
    """Verifies tokens with the key of a :class:`KeySet` its ``kid`` names (a
    :class:`siomw_jwt.decoder.Decoder`, plus :meth:`refresh`).

    Args:
        options: the validated ``[jwt]`` table.
        keys: the key set.
    """

    #: its results may be cached (:mod:`siomw_jwt.cache`), by key :meth:`generation`
    cacheable = True

    def __init__(self, options: JwtOptions, keys: KeySet) -> None:
        self.keys = keys
        self._algorithms = list(options.algorithms)
        self._jwt = jwt.PyJWT(options={
            "verify_signature": True,
            "require": list(options.require),
            "enforce_minimum_key_length": True,
        })
        self._audience = options.audience
        issuer = options.issuer
        self._issuer = tuple(issuer) if isinstance(issuer, list) else issuer
        self._leeway = options.leeway

    def decode(self, token: str) -> dict[str, Any]:
        """Verify ``token`` with the key its ``kid`` names and return its claims.

        Raises:
            UnknownKeyError: no key of the set fits the token's ``kid`` and ``alg``.
            jwt.exceptions.PyJWTError: refused for another reason (as
                :class:`siomw_jwt.decoder.TokenDecoder`).
        """
        header = jwt.get_unverified_header(token)
        alg = header.get("alg")
        if alg not in self._algorithms:
            raise InvalidAlgorithmError("The specified alg value is not allowed")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise DecodeError("kid is not a string")
        key = self.keys.key(kid, alg)
        if key is None:
            raise UnknownKeyError("no key of the key set fits the token's kid and alg")
        claims: dict[str, Any] = self._jwt.decode(
            token, key, algorithms=self._algorithms, audience=self._audience,
            issuer=self._issuer, leeway=self._leeway,
        )
        check_numeric_dates(claims)
        return claims

    async def refresh(self) -> None:
        """Refresh the key set (rate-limited; see :meth:`KeySet.refresh`)."""
        await self.keys.refresh()

    def generation(self) -> int:
        """The key set's generation: changes whenever a fetched set is stored."""
        return self.keys.generation

    def __repr__(self) -> str:
        return f"<JwksDecoder algorithms={self._algorithms} keys={len(self.keys)}>"
