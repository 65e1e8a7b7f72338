"""Error lines of configuration validation: ``place: [table] key: expected ...; found ...``."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

__all__ = ["error_lines"]


def error_lines(
    exc: ValidationError,
    model: type[BaseModel],
    source: str,
    table: str | None,
    origins: Mapping[tuple[Any, str], str],
) -> tuple[list[str], set[str]]:
    """One line per error of ``exc``, and the top-level keys in error.

    A key that takes one of several types (``str | list[str]``) is one problem, not one per
    type pydantic tried: its errors make one line naming the key once and what it accepts,
    ``[jwt] issuer: expected a string or a list of strings; found 2024 (int)``.
    """
    lines, bad = [], set()
    for err in _merge_unions(exc.errors(), model):
        # a key is the user's text: written as TOML writes it, never with control characters
        key = ".".join(_key_part(p) for p in err["loc"]) or "(table)"
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


def _merge_unions(errors: list[Any], model: type[BaseModel]) -> list[Any]:
    """``errors`` with those of one union-typed value (pydantic reports one per branch, at
    ``loc + (branch,)``) replaced by one error of type ``siomw_union`` at ``loc``, whose
    message names every branch and whose input is the value found."""
    out: list[Any] = []
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for err in errors:
        loc = tuple(err["loc"])
        union = next((loc[:i] for i in range(1, len(loc))
                      if _is_union(_annotation_at(model, loc[:i]))), None)
        if union is None:
            out.append(err)
            continue
        group = groups.get(union)
        if group is None:
            annotation = _annotation_at(model, union)
            group = groups[union] = {
                "type": "siomw_union", "loc": union, "input": err.get("input"),
                "msg": _alternatives(annotation), "depth": len(loc)}
            out.append(group)
        elif len(loc) < group["depth"]:  # a branch's own error holds the value as found
            group["input"], group["depth"] = err.get("input"), len(loc)
    return out


def _annotation_at(model: type[BaseModel], path: tuple[Any, ...]) -> Any:
    """The annotation of the value at ``path`` (a pydantic error location) in ``model``:
    a field name steps into its annotation, a dict key or list index into the item type;
    None when it cannot be resolved."""
    current: Any = model
    for part in path:
        current = _bare(current)
        if _is_model(current):
            info = current.model_fields.get(str(part))
            current = info.annotation if info is not None else None
        elif _is_union(current):
            return None  # a branch name: the union itself is what is described
        else:
            args = getattr(current, "__args__", ())
            current = args[-1] if args else None
        if current is None:
            return None
    return current


def _bare(annotation: Any) -> Any:
    """``annotation`` without ``Annotated[...]`` metadata, and ``X | None`` as ``X``."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if _is_union(annotation):
        kept = [a for a in get_args(annotation) if a is not type(None)]
        if len(kept) == 1:
            return _bare(kept[0])
    return annotation


def _is_union(annotation: Any) -> bool:
    annotation = _strip(annotation)
    if not (get_origin(annotation) is Union or isinstance(annotation, UnionType)):
        return False
    return len([a for a in get_args(annotation) if a is not type(None)]) > 1


def _strip(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


_NAMES = {str: ("a string", "strings"), int: ("an integer", "integers"),
          float: ("a number", "numbers"), bool: ("a boolean", "booleans")}


def _describe(annotation: Any, plural: bool = False) -> str:
    """What a value of ``annotation`` is, in words (``list[str]``: ``a list of strings``)."""
    annotation = _strip(annotation)
    origin = get_origin(annotation)
    if annotation in _NAMES:
        return _NAMES[annotation][plural]
    if origin is Literal:
        values = [("false" if v is False else "true" if v is True else repr(v))
                  for v in get_args(annotation)]
        return values[0] if len(values) == 1 else "one of " + ", ".join(values)
    if origin in (list, tuple, set, frozenset):
        args = get_args(annotation)
        return ("lists" if plural else "a list") + (
            f" of {_describe(args[0], plural=True)}" if args else "")
    if origin is dict or _is_model(annotation):
        return "tables" if plural else "a table"
    return getattr(annotation, "__name__", str(annotation))


def _alternatives(annotation: Any) -> str:
    """``a string or a list of strings`` for ``str | list[str] | None`` (None left out:
    a file cannot set it)."""
    kinds = [_describe(a) for a in get_args(_strip(annotation)) if a is not type(None)]
    return kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " or " + kinds[-1]


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _innermost(annotation: Any) -> Any:
    """The last non-None type argument (``dict[str, M]`` and ``M | None`` give ``M``)."""
    args = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
    return args[-1] if args else None


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")  # a TOML 1.0 bare key


def _key_part(part: int | str) -> str:
    """One part of a dotted key as TOML writes it: bare when it may be (or a list index),
    else quoted (``events."chat message"``, ``events."a.b".scopes``); ``json.dumps`` escapes
    quotes and control characters, so none reaches a log."""
    text = str(part)
    if isinstance(part, int) or _BARE_KEY.fullmatch(text):
        return text
    return json.dumps(text)
