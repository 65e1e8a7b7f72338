"""Configuration: ``siomw.toml`` (or ``[tool.siomw]`` in ``pyproject.toml``), env overrides.

Precedence, lowest first: embedded defaults (each schema's defaults), the file, environment
variables, then code (keyword arguments and decorators). Environment variables:

- ``SIOMW_CONFIG``: the config file's path;
- ``SIOMW_PLUGINS``: allow-list of plugin names, comma-separated (empty: no plugin);
- ``SIOMW_DISABLE_PLUGINS``: block-list, comma-separated;
- ``SIOMW_STRICT``, ``SIOMW_CONNECT_TIMEOUT``: core keys;
- ``SIOMW_TRUSTED_PROXIES``: comma-separated addresses and CIDRs;
- ``SIOMW_<PLUGIN>__<KEY>``: a key of a plugin's table, e.g. ``SIOMW_JWT__LEEWAY=5``; the
  value is read as JSON when it parses (``["HS256"]``, ``5``, ``true``), else as a string.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
)

from .errors import ConfigError
from .proxies import TrustedProxies

__all__ = ["Config", "CoreSettings", "load_config", "validate_table"]

M = TypeVar("M", bound=BaseModel)

CORE_KEYS = frozenset(
    {"plugins", "disable_plugins", "strict", "connect_timeout", "order", "trusted_proxies"}
)
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
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    plugins: list[str] | None = None
    disable_plugins: list[str] = Field(default_factory=list)
    strict: StrictBool = False
    connect_timeout: float = Field(default=10.0, gt=0, le=3600, allow_inf_nan=False)
    order: list[str] = Field(default_factory=list)
    trusted_proxies: list[str] = Field(default_factory=list)

    @field_validator("connect_timeout", mode="before")
    @classmethod
    def _timeout_not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):  # TOML true is not a number of seconds
            raise ValueError("a number of seconds, not a boolean")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: list[str]) -> list[str]:
        TrustedProxies(value)  # raises ValueError naming the bad entry
        return value


@dataclass
class Config:
    """A loaded configuration, not yet validated per plugin.

    Attributes:
        source: where it came from: a file path, or ``"<embedded defaults>"``.
        core: the validated top-level settings.
        tables: raw plugin tables by name, env overrides applied.
        origins: for each ``(table, key)`` set from the environment, the variable's name
            (so errors name the variable instead of the file).
        core_origins: the same for core keys set by the environment or in code.
    """

    source: str
    core: CoreSettings
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    core_origins: dict[str, str] = field(default_factory=dict)

    def where(self, key: str) -> str:
        """Where core key ``key`` came from: its environment variable, code, or the file."""
        origin = self.core_origins.get(key)
        return origin or self.source

    def table(self, name: str) -> dict[str, Any]:
        """The raw table of plugin ``name`` (``{}`` when absent)."""
        return self.tables.get(name, {})


def _env_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _names(raw: str) -> list[str]:
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


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Load the configuration.

    Args:
        path: a ``siomw.toml`` or a ``pyproject.toml`` (its ``[tool.siomw]``). Without it:
            ``$SIOMW_CONFIG``, then ``./siomw.toml``, then ``./pyproject.toml`` when it has a
            ``[tool.siomw]`` table, then the embedded defaults.
        environ: the environment to read overrides from (default ``os.environ``).
        overrides: top-level keys set in code; they win over file and environment.

    Returns:
        The :class:`Config`.

    Raises:
        ConfigError: unreadable file, invalid TOML, an unknown or ill-typed top-level key
            (the message names file, key, expected and found).
    """
    env = os.environ if environ is None else environ
    chosen = path or env.get("SIOMW_CONFIG") or None
    if chosen is None and Path(DEFAULT_FILE).is_file():
        chosen = DEFAULT_FILE
    if chosen is None and _has_tool_table(Path("pyproject.toml")):
        chosen = "pyproject.toml"
    if chosen is None:
        source, data = "<embedded defaults>", {}
    else:
        source, data = str(chosen), _read_file(Path(chosen))

    core_raw: dict[str, Any] = {}
    tables: dict[str, dict[str, Any]] = {}
    origins: dict[tuple[str, str], str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            tables[key] = dict(value)
        elif key in CORE_KEYS:
            core_raw[key] = value
        else:
            raise ConfigError(
                f"{source}: {key}: unknown key; expected a known key "
                f"({', '.join(sorted(CORE_KEYS))}) or a plugin's table ([{key}]); "
                f"found {value!r} ({type(value).__name__})"
            )
    core_origin: dict[str, str] = {}

    for var, raw in env.items():
        if not var.startswith("SIOMW_"):
            continue
        rest = var[6:]
        if "__" in rest:
            table, _, key = rest.partition("__")
            table, key = table.lower(), key.lower()
            tables.setdefault(table, {})[key] = _env_value(raw)
            origins[(table, key)] = var
        elif rest == "PLUGINS":
            core_raw["plugins"] = _names(raw)
            core_origin["plugins"] = var
        elif rest == "DISABLE_PLUGINS":
            core_raw["disable_plugins"] = _names(raw)
            core_origin["disable_plugins"] = var
        elif rest == "TRUSTED_PROXIES":
            core_raw["trusted_proxies"] = _names(raw)
            core_origin["trusted_proxies"] = var
        elif rest.lower() in ("strict", "connect_timeout"):
            core_raw[rest.lower()] = _env_value(raw)
            core_origin[rest.lower()] = var
    core_raw.update(overrides or {})
    core_origin.update({key: "code (attach / Siomw keyword)" for key in overrides or {}})
    core_origin = {k: v if v.startswith("code") else f"environment variable {v}"
                   for k, v in core_origin.items()}
    core = validate_table(CoreSettings, core_raw, source=source, table=None, origins={
        (None, k): v for k, v in core_origin.items()
    }, origins_are_places=True)
    return Config(source=source, core=core, tables=tables, origins=origins,
                  core_origins=core_origin)


def validate_table(
    model: type[M],
    raw: Mapping[str, Any],
    *,
    source: str,
    table: str | None,
    origins: Mapping[tuple[Any, str], str] | None = None,
    origins_are_places: bool = False,
) -> M:
    """Validate ``raw`` against ``model``; errors name file, table, key, expected and found.

    Raises:
        ConfigError: one line per problem, e.g.
            ``siomw.toml: [jwt] leeway: expected Input should be a valid number, unable to
            parse string as a number; found 'soon' (str)`` (the expectation is pydantic's).
    """
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            # a key is the user's text: never let it carry control characters into a log
            key = ".".join(str(p) if str(p).isprintable() else repr(p)
                           for p in err["loc"]) or "(table)"
            top = str(err["loc"][0]) if err["loc"] else ""
            where = (origins or {}).get((table, top))
            place = (where if origins_are_places else f"environment variable {where}") \
                if where else source
            prefix = f"[{table}] " if table else ""
            found = err.get("input")
            if err["type"] == "extra_forbidden":
                known = _known_keys(model, err["loc"][:-1])
                expected = f"a known key ({', '.join(known)})" if known else "a known key"
                detail = "unknown key"
            elif err["type"] == "missing":
                expected, detail = "a value", "missing"
            else:
                expected, detail = err["msg"], None
            found_text = ("nothing" if detail == "missing"
                          else f"{_masked(found)!r} ({type(found).__name__})")
            text = f"{place}: {prefix}{key}: expected {expected}; found {found_text}"
            if detail == "unknown key":
                text = f"{place}: {prefix}{key}: unknown key; expected {expected}"
            lines.append(text)
        raise ConfigError("\n".join(lines)) from None


_USERINFO = re.compile(r"(://[^/@:\s]*:)[^/@\s]*@")


def _masked(value: Any) -> Any:
    """A URL's password (``scheme://user:secret@host``) never reaches an error message."""
    return _USERINFO.sub(r"\1***@", value) if isinstance(value, str) else value


def _known_keys(model: type[BaseModel], path: tuple[int | str, ...]) -> list[str]:
    """The field names of the (nested) model at ``path``; [] when it cannot be resolved.

    ``path`` is pydantic's error location without its last part, e.g. ``("namespaces",
    "/admin")`` for ``[jwt.namespaces."/admin"]``: a field name steps into its annotation,
    a key of a ``dict[str, Model]`` steps into the value type.
    """
    current: Any = model
    for part in path:
        if _is_model(current):
            field_info = current.model_fields.get(str(part))
            current = field_info.annotation if field_info is not None else None
        else:
            current = _innermost(current)
    current = _innermost(current) if not _is_model(current) else current
    return sorted(current.model_fields) if _is_model(current) else []


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _innermost(annotation: Any) -> Any:
    """The last non-None type argument (``dict[str, M]`` and ``M | None`` give ``M``)."""
    args = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
    return args[-1] if args else None
