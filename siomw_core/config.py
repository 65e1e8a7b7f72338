"""Configuration: ``siomw.toml`` (or ``[tool.siomw]`` in ``pyproject.toml``), env overrides.

Precedence, lowest first: embedded defaults (each schema's defaults), the file, environment
variables, then code (keyword arguments and decorators). Environment variables:

- ``SIOMW_CONFIG``: the config file's path;
- ``SIOMW_PLUGINS``: allow-list of plugin names, comma-separated (empty: no plugin);
- ``SIOMW_DISABLE_PLUGINS``: block-list, comma-separated;
- ``SIOMW_STRICT``, ``SIOMW_CONNECT_TIMEOUT``, ``SIOMW_EVENT_TIMEOUT``,
  ``SIOMW_EVENT_ERROR_EVENT`` (``false``: none): core keys;
- ``SIOMW_TRUSTED_PROXIES``, ``SIOMW_ORDER``: comma-separated (or a JSON list);
- ``SIOMW_<PLUGIN>__<KEY>``: a key of a plugin's table, e.g. ``SIOMW_JWT__LEEWAY=5``; the
  value is read by the type of the key (:func:`env_value`): text for a string key
  (``SIOMW_JWT__ISSUER=2024`` is ``"2024"``), JSON for lists and tables (``["HS256"]``),
  numbers for numbers, ``true``/``1``/``yes``... for booleans.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo

from .config_errors import error_lines
from .errors import ConfigError
from .proxies import DEFAULT_HEADERS, ForwardedHeader, TrustedProxies

__all__ = ["CODE", "EMBEDDED", "Config", "CoreSettings", "EnvText", "env_value", "load_config",
           "validate_table"]

M = TypeVar("M", bound=BaseModel)

CORE_KEYS = frozenset(
    {"plugins", "disable_plugins", "strict", "connect_timeout", "order", "trusted_proxies",
     "forwarded_headers", "event_timeout", "event_error_event"}
)
#: event names the Socket.IO client keeps for itself (socket.io-client ``RESERVED_EVENTS``)
RESERVED_EVENTS = frozenset({"connect", "connect_error", "disconnect", "disconnecting",
                             "newListener", "removeListener"})
DEFAULT_FILE = "siomw.toml"


class CoreSettings(BaseModel):
    """The top-level keys of ``siomw.toml``.

    Attributes:
        plugins: allow-list of plugin names (``None``: every installed plugin; ``[]``: none).
        disable_plugins: block-list of plugin names.
        strict: a plugin that fails to load, or an ordering reference to an absent
            middleware, stops startup instead of being reported and skipped.
        connect_timeout: deadline of a connect chain in seconds (default 10, at most 3600);
            past it the client gets CONNECT_ERROR with ``data.code = "middleware_timeout"``.
        order: names of middlewares pinned in this relative order in every chain.
        trusted_proxies: addresses and CIDR networks of reverse proxies whose
            ``X-Forwarded-For`` / ``Forwarded`` (RFC 7239) headers are believed for the client
            address, at every level and in every plugin; empty: the TCP peer is the client.
        forwarded_headers: which forwarded headers of a trusted proxy are read, in order of
            preference (the first one a request carries wins, the others are ignored):
            ``["x-forwarded-for", "forwarded"]`` by default (nginx, AWS ALB, uvicorn write
            ``X-Forwarded-For``); ``["forwarded"]`` behind a proxy that writes only RFC 7239
            ``Forwarded``, so that a client's own ``X-Forwarded-For`` is never believed.
        event_timeout: deadline of an event chain's members in seconds (default 10, at most
            3600; the handler's own time is not counted); past it the event is refused
            with ``data.code = "middleware_timeout"`` and the socket stays connected.
        event_error_event: the event a refused event without an ack is answered with,
            ``{"event", "message", "data"}`` (default ``"siomw:error"``); ``false``: none.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    plugins: list[str] | None = None
    disable_plugins: list[str] = Field(default_factory=list)
    strict: StrictBool = False
    connect_timeout: float = Field(default=10.0, gt=0, le=3600, allow_inf_nan=False)
    order: list[str] = Field(default_factory=list)
    trusted_proxies: list[str] = Field(default_factory=list)
    forwarded_headers: list[ForwardedHeader] = Field(
        default_factory=lambda: list(DEFAULT_HEADERS), min_length=1)
    event_timeout: float = Field(default=10.0, gt=0, le=3600, allow_inf_nan=False)
    event_error_event: str | Literal[False] = "siomw:error"

    @field_validator("event_error_event", mode="before")
    @classmethod
    def _error_event_name(cls, value: Any) -> Any:
        if value is True:
            raise ValueError("an event name, or false for none")
        if isinstance(value, str):
            if not value:
                raise ValueError("an event name (not empty), or false for none")
            if value in RESERVED_EVENTS:
                raise ValueError(f"{value!r} is reserved by the Socket.IO client")
        return value

    @field_validator("connect_timeout", "event_timeout", mode="before")
    @classmethod
    def _timeout_not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):  # TOML true is not a number of seconds
            raise ValueError("a number of seconds, not a boolean")
        return value

    @field_validator("forwarded_headers", mode="before")
    @classmethod
    def _header_names_any_case(cls, value: Any) -> Any:
        if isinstance(value, list):  # users write "X-Forwarded-For" as the header is written
            return [v.lower() if isinstance(v, str) else v for v in value]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: list[str]) -> list[str]:
        TrustedProxies(value)  # raises ValueError naming the bad entry
        return value


#: ``Config.source`` when no file was found
EMBEDDED = "<embedded defaults>"
#: the place of core keys set by ``attach(sio, key=...)`` / ``Siomw(sio, key=...)``
CODE = "code (attach / Siomw keyword)"


class EnvText(str):
    """A plugin table's value as its environment variable holds it: text that
    :func:`validate_table` decodes by the type of the field it sets (see :func:`env_value`)."""

    __slots__ = ()


@dataclass
class Config:
    """A loaded configuration, not yet validated per plugin.

    Attributes:
        source: where it came from: a file path, or ``"<embedded defaults>"``.
        core: the validated top-level settings (with ``problems``: the keys that validated,
            defaults for the others).
        tables: raw plugin tables by name, env overrides applied (as :class:`EnvText`).
        origins: for each ``(table, key)`` not set by the file, where it was set, as a
            place errors start with (``"environment variable SIOMW_JWT__LEEWAY"``).
        core_origins: the same for core keys set by the environment or in code.
        problems: configuration errors found so far, one line each, not yet raised
            (``load_config(check=False)``); the :class:`~siomw_core.registry.Registry`
            raises them together with the plugin tables' own.
    """

    source: str
    core: CoreSettings
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    core_origins: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def where(self, key: str) -> str:
        """Where core key ``key`` came from: its environment variable, code, or the file."""
        origin = self.core_origins.get(key)
        return origin or self.source

    def table(self, name: str) -> dict[str, Any]:
        """The raw table of plugin ``name`` (``{}`` when absent)."""
        return self.tables.get(name, {})

    def table_place(self, name: str) -> str:
        """Where table ``name`` as a whole came from (for errors about the table rather
        than one key): its environment variables when every key of it came from one, else
        the file (or the embedded defaults)."""
        keys = self.table(name)
        places = {self.origins.get((name, key), "") for key in keys}
        if keys and all(p.startswith("environment variable") for p in places):
            return ", ".join(sorted(places))
        return self.source

    def check(self) -> None:
        """Raise the problems found so far.

        Raises:
            ConfigError: one line per problem.
        """
        if self.problems:
            raise ConfigError("\n".join(self.problems))

    def with_overrides(self, overrides: Mapping[str, Any]) -> Config:
        """A copy with core keys set in code (``Siomw(sio, config=cfg, strict=True)``),
        validated like every other source; ``self`` is left as it is.

        Problems (a bad value, an unknown key) are added to the copy's ``problems``, named
        ``code (attach / Siomw keyword)``; the registry raises them.
        """
        if not overrides:
            return self
        raw = {**self.core.model_dump(), **overrides}
        origins = {**self.core_origins, **dict.fromkeys(overrides, CODE)}
        core, problems = _validate(CoreSettings, raw, source=self.source, table=None,
                                   origins={(None, k): v for k, v in origins.items()})
        return replace(self, core=core if core is not None else self.core,
                       core_origins=origins, problems=[*self.problems, *problems])


def env_value(raw: str, annotation: Any, metadata: Sequence[Any] = ()) -> Any:
    """The value an environment variable sets for a field typed ``annotation``.

    - a boolean field: ``true``/``false``, ``1``/``0``, ``yes``/``no``, ``on``/``off`` (any
      case, pydantic's lax booleans: an environment holds only text);
    - a JSON list or object, for a field that takes a list or a table (``audience``, a
      string or a list, takes ``["a", "b"]`` as a list); for a field that takes only text,
      that text;
    - a JSON number, ``true``/``false``/``null`` that the field accepts as such (``5`` for
      a number of seconds; the headers plugin's ``false``);
    - otherwise the text itself, quotes included: ``SIOMW_JWT__ISSUER=2024`` is the string
      ``"2024"``, ``SIOMW_JWT__ISSUER='"x"'`` the string ``'"x"'`` (a JSON string is never
      decoded: a string key takes the text as it is).

    Args:
        raw: the variable's value.
        annotation: the field's type (None: an unknown key, decoded as JSON when it parses).
        metadata: the field's pydantic metadata (its validators and constraints).

    What is returned is then validated by the model, so a wrong value is reported with the
    variable's name.
    """
    base = [a for a in getattr(annotation, "__args__", (annotation,)) if a is not type(None)]
    if base == [bool]:
        try:
            return TypeAdapter(bool).validate_python(raw.strip())
        except ValidationError:
            return str(raw)
    try:
        decoded = json.loads(raw)
    except ValueError:
        return str(raw)
    if annotation is None:
        return decoded
    if isinstance(decoded, str):
        return str(raw)
    if isinstance(decoded, list | dict):
        return decoded if _takes_container(annotation) else str(raw)
    # the type with the field's own validators, or the bare type (so that a value out of
    # range is reported as found, -1 (int), rather than as text)
    kinds: list[Any] = [Annotated[annotation, *metadata]] if metadata else []
    for kind in [*kinds, annotation]:
        try:
            TypeAdapter(kind).validate_python(decoded)
        except ValidationError:
            continue
        return decoded
    return str(raw)


def _takes_container(annotation: Any) -> bool:
    """Whether a field typed ``annotation`` takes a list or a table (a branch of a union
    that is not text: ``str | list[str]`` does, ``str`` and ``Literal["a"]`` do not)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _takes_container(get_args(annotation)[0])
    if origin is Union or isinstance(annotation, UnionType):
        return any(_takes_container(a) for a in get_args(annotation))
    if origin is Literal or annotation in (str, bytes, type(None)):
        return False
    return True  # a list, a dict, a model, a number or Any: its validation says the rest


def _names(raw: str) -> list[str]:
    """A list of names from the environment: comma-separated, or a JSON list."""
    text = raw.strip()
    if text.startswith("["):
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        if isinstance(decoded, list) and all(isinstance(n, str) for n in decoded):
            return [n.strip() for n in decoded if n.strip()]
    return [part.strip() for part in raw.split(",") if part.strip()]


def _has_tool_table(path: Path) -> bool:
    """Whether ``path`` is a pyproject.toml meant to configure siomw: it has a
    ``[tool.siomw]`` table, or mentions one but does not parse (so the error is shown
    instead of silently using the embedded defaults)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return False
    try:
        return isinstance(tomllib.loads(raw.decode()).get("tool", {}).get("siomw"), dict)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return b"tool.siomw" in raw


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:  # a directory, no permission, ...
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 ({exc.reason} at byte "
                          f"{exc.start})") from None
    if path.name == "pyproject.toml":
        section = data.get("tool", {}).get("siomw")
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: has no [tool.siomw] table")
        return section
    return data


#: core keys read from the environment: a list of names, or a value of the key's type
_ENV_LISTS = {"PLUGINS": "plugins", "DISABLE_PLUGINS": "disable_plugins",
              "TRUSTED_PROXIES": "trusted_proxies", "ORDER": "order",
              "FORWARDED_HEADERS": "forwarded_headers"}
_ENV_VALUES = {"STRICT": "strict", "CONNECT_TIMEOUT": "connect_timeout",
               "EVENT_TIMEOUT": "event_timeout", "EVENT_ERROR_EVENT": "event_error_event"}


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    check: bool = True,
) -> Config:
    """Load the configuration.

    Args:
        path: a ``siomw.toml`` or a ``pyproject.toml`` (its ``[tool.siomw]``). Without it:
            ``$SIOMW_CONFIG``, then ``./siomw.toml``, then ``./pyproject.toml`` when it has a
            ``[tool.siomw]`` table, then the embedded defaults.
        environ: the environment to read overrides from (default ``os.environ``).
        overrides: top-level keys set in code; they win over file and environment.
        check: raise the problems found (default); False leaves them in
            ``Config.problems`` so that the registry reports them together with the plugin
            tables' (``Siomw`` and the ``siomw`` commands do so).

    Returns:
        The :class:`Config`.

    Raises:
        ConfigError: an unreadable file or invalid TOML (always); with ``check``, every
            unknown or ill-typed top-level key, one line each (naming file or variable,
            key, expected and found).
    """
    env = os.environ if environ is None else environ
    chosen = path or env.get("SIOMW_CONFIG") or None
    if chosen is None and Path(DEFAULT_FILE).is_file():
        chosen = DEFAULT_FILE
    if chosen is None and _has_tool_table(Path("pyproject.toml")):
        chosen = "pyproject.toml"
    if chosen is None:
        source, data = EMBEDDED, {}
    else:
        source, data = str(chosen), _read_file(Path(chosen))

    core_raw: dict[str, Any] = {}
    tables: dict[str, dict[str, Any]] = {}
    origins: dict[tuple[str, str], str] = {}
    core_origin: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            tables[key] = dict(value)
        else:  # an unknown key is reported by the validation below, with the others
            core_raw[key] = value

    for var, raw in env.items():
        if not var.startswith("SIOMW_"):
            continue
        rest = var[6:]
        if "__" in rest:
            table, _, key = rest.partition("__")
            table, key = table.lower(), key.lower()
            tables.setdefault(table, {})[key] = EnvText(raw)
            origins[(table, key)] = f"environment variable {var}"
        elif rest in _ENV_LISTS:
            core_raw[_ENV_LISTS[rest]] = _names(raw)
            core_origin[_ENV_LISTS[rest]] = f"environment variable {var}"
        elif rest in _ENV_VALUES:
            key = _ENV_VALUES[rest]
            core_raw[key] = _from_env(raw, CoreSettings.model_fields[key])
            core_origin[key] = f"environment variable {var}"
    core_raw.update(overrides or {})
    core_origin.update(dict.fromkeys(overrides or {}, CODE))
    core, problems = _validate(CoreSettings, core_raw, source=source, table=None, origins={
        (None, k): v for k, v in core_origin.items()
    })
    config = Config(source=source, core=core if core is not None else CoreSettings(),
                    tables=tables, origins=origins, core_origins=core_origin,
                    problems=problems)
    if check:
        config.check()
    return config


def validate_table(
    model: type[M],
    raw: Mapping[str, Any],
    *,
    source: str,
    table: str | None,
    origins: Mapping[tuple[Any, str], str] | None = None,
) -> M:
    """Validate ``raw`` against ``model``; errors name file, table, key, expected and found.

    Args:
        model: the table's schema (a pydantic model).
        raw: the table; :class:`EnvText` values are decoded by their field's type first
            (:func:`env_value`).
        source: the place of keys without an origin (the file, or the embedded defaults).
        table: the table's name (None for the top-level keys).
        origins: ``{(table, key): place}`` for keys set elsewhere than the file.

    Raises:
        ConfigError: one line per problem, e.g.
            ``siomw.toml: [jwt] leeway: expected Input should be a valid number, unable to
            parse string as a number; found 'soon' (str)`` (the expectation is pydantic's).
    """
    result, problems = _validate(model, raw, source=source, table=table, origins=origins)
    if problems or result is None:
        raise ConfigError("\n".join(problems))
    return result


def _validate(
    model: type[M],
    raw: Mapping[str, Any],
    *,
    source: str,
    table: str | None,
    origins: Mapping[tuple[Any, str], str] | None = None,
) -> tuple[M | None, list[str]]:
    """``(model instance, [])``, or ``(instance of the keys that validate or None,
    [one line per problem])``."""
    fields = model.model_fields
    data = {key: _from_env(value, fields.get(key)) if isinstance(value, EnvText) else value
            for key, value in raw.items()}
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        lines, bad = error_lines(exc, model, source, table, origins or {})
    # keep what validated (the rest at its default) so later checks can still run
    try:
        salvaged = model.model_validate({k: v for k, v in data.items() if k not in bad})
    except ValidationError:
        salvaged = None
    return salvaged, lines


def _from_env(value: str, info: FieldInfo | None) -> Any:
    if info is None:
        return env_value(value, None)
    return env_value(value, info.annotation, info.metadata)
