"""Error lines of configuration validation: ``place: [table] key: expected ...; found ...``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = ["error_lines"]


def error_lines(
    exc: ValidationError,
    model: type[BaseModel],
    source: str,
    table: str | None,
    origins: Mapping[tuple[Any, str], str],
) -> tuple[list[str], set[str]]:
    """One line per error of ``exc``, and the top-level keys in error."""
    lines, bad = [], set()
    for err in exc.errors():
        # a key is the user's text: never let it carry control characters into a log
        key = ".".join(str(p) if str(p).isprintable() else repr(p)
                       for p in err["loc"]) or "(table)"
        top = str(err["loc"][0]) if err["loc"] else ""
        bad.add(top)
        place = origins.get((table, top)) or source
        prefix = f"[{table}] " if table else ""
        found = err.get("input")
        if err["type"] == "extra_forbidden":
            known = _known_keys(model, err["loc"][:-1])
            expected = f"a known key ({', '.join(known)})" if known else "a known key"
            text = f"{place}: {prefix}{key}: unknown key; expected {expected}"
            if table is None and place == source:  # a file's top level: maybe a table
                text += (f" or a plugin's table ([{key}]); "
                         f"found {_masked(found)!r} ({type(found).__name__})")
            lines.append(text)
            continue
        if err["type"] == "missing":
            lines.append(f"{place}: {prefix}{key}: expected a value; found nothing")
            continue
        lines.append(f"{place}: {prefix}{key}: expected {err['msg']}; "
                     f"found {_masked(found)!r} ({type(found).__name__})")
    return lines, bad


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
