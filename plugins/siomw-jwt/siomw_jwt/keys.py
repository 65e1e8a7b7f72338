"""Key material, read and prepared once at startup: the HMAC secret or the PEM public key.

Everything here raises :class:`siomw_core.ConfigError` (never another exception): the
registry only stops startup on a ConfigError, and an authentication plugin that is skipped
would leave the server open. Messages name the key and the variable or file, never the secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args

from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from jwt.algorithms import Algorithm, get_default_algorithms
from jwt.exceptions import InvalidKeyError

from siomw_core import ConfigError

from .options import JwtOptions

__all__ = ["Keys", "check_jwks", "load_keys", "read_secret"]

_PRIVATE_KEY_TYPES = get_args(PrivateKeyTypes)


@dataclass(frozen=True, slots=True, repr=False)
class Keys:
    """Prepared verification keys.

    Attributes:
        by_algorithm: for each allowed ``alg``, its PyJWT algorithm object and the key as
            that object's ``prepare_key`` returned it (``bytes`` for HS*, a ``cryptography``
            public key object otherwise).
    """

    by_algorithm: Mapping[str, tuple[Algorithm, Any]]

    def __repr__(self) -> str:  # the secret must never reach a log through a repr
        return f"<Keys {sorted(self.by_algorithm)}>"


def read_secret(options: JwtOptions, environ: Mapping[str, str] | None = None) -> bytes:
    """The HMAC secret from the variable named by ``options.secret_env``, as UTF-8 bytes.

    Raises:
        ConfigError: the variable is unset or empty.
    """
    env = os.environ if environ is None else environ
    value = env.get(options.secret_env)
    if not value:
        state = "is empty" if value == "" else "is not set"
        raise ConfigError(
            f"secret_env: environment variable {options.secret_env!r} {state}; "
            f"expected the HMAC secret for {', '.join(options.algorithms)}"
        )
    return value.encode("utf-8")


def _prepare(name: str, alg: Algorithm, raw: bytes, where: str) -> Any:
    try:
        key = alg.prepare_key(raw)
    except (InvalidKeyError, ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: not a key for {name}: {type(exc).__name__}") from None
    if isinstance(key, _PRIVATE_KEY_TYPES):
        raise ConfigError(
            f"{where}: holds a private key; expected the PEM public key (a verifying server "
            "needs no private key)"
        )
    # RFC 7518 §3.2 (HMAC key >= hash size) and §3.3 (RSA >= 2048 bits) say MUST: refuse
    # here, so PyJWT's per-decode length warning can never fire
    short = alg.check_key_length(key)
    if short:
        raise ConfigError(f"{where}: {short}")
    return key


def check_jwks(options: JwtOptions) -> bool:
    """Whether the keys come from a JWK Set (``jwks_url`` or ``jwks_file``), once the key
    options are consistent.

    Raises:
        ConfigError: both ``jwks_url`` and ``jwks_file``, either of them with
            ``public_key_file``, or with HMAC algorithms (a key set carries public keys here:
            ``oct`` keys would put the shared secret in a file or on the wire).
    """
    source = "jwks_url" if options.jwks_url is not None else "jwks_file"
    if options.jwks_url is None and options.jwks_file is None:
        return False
    if options.jwks_url is not None and options.jwks_file is not None:
        raise ConfigError("jwks_file: set together with jwks_url; expected one of them")
    if options.public_key_file is not None:
        raise ConfigError(f"public_key_file: set together with {source}; expected one of them")
    if options.hmac:
        raise ConfigError(
            f"{source}: set, but algorithms are HMAC ({', '.join(options.algorithms)}); "
            'expected asymmetric algorithms, e.g. algorithms = ["RS256"] (what the identity '
            "provider signs with)")
    return True


def load_keys(options: JwtOptions, environ: Mapping[str, str] | None = None) -> Keys:
    """Read and prepare the verification key for every algorithm of ``options.algorithms``.

    HS*: the secret from ``secret_env``; asymmetric: the PEM file ``public_key_file`` (RSA,
    EC or Ed25519/Ed448 public key; the key type must fit every listed algorithm).

    Raises:
        ConfigError: a missing secret, a missing/unreadable/unfit key file, a private key,
            a key shorter than RFC 7518 allows, or ``public_key_file`` set for HS*.
    """
    algorithms = get_default_algorithms()
    prepared: dict[str, tuple[Algorithm, Any]] = {}
    if options.hmac:
        if options.public_key_file is not None:
            raise ConfigError(
                "public_key_file: set, but algorithms are HMAC "
                f"({', '.join(options.algorithms)}); expected it unset (HS* use secret_env)"
            )
        secret = read_secret(options, environ)
        where = f"secret_env: environment variable {options.secret_env!r}"
        for name in options.algorithms:
            prepared[name] = (algorithms[name], _prepare(name, algorithms[name], secret, where))
        return Keys(prepared)
    path = options.public_key_file
    if path is None:
        raise ConfigError(
            f"public_key_file: missing; expected a PEM public key file for "
            f"{', '.join(options.algorithms)} (or the identity provider's keys: jwks_url or "
            f"jwks_file)"
        )
    try:
        with open(path, "rb") as fh:
            pem = fh.read()
    except OSError as exc:
        raise ConfigError(f"public_key_file: cannot read {path!r}: {exc.strerror}") from None
    for name in options.algorithms:
        alg = algorithms[name]
        prepared[name] = (alg, _prepare(name, alg, pem, f"public_key_file {path!r}"))
    return Keys(prepared)
