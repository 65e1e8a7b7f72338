"""The filters of the scaffold's templates: what keeps the generated Python, TOML and Markdown
valid whatever the input (quotes and backslashes in a description) and within ruff's 100
columns whatever the name (up to 40 characters), in ruff's own orders.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Sequence
from typing import Any

__all__ = ["dunder_all", "from_import", "in_docstring", "paragraphs", "rst", "toml"]

_QUOTES = '"""'
_LITERAL = re.compile(r"``[^`]+``")  # reStructuredText inline literals: one unit each
_KEEP = "\0"  # a space inside a literal while lines are filled


def toml(value: Any) -> str:
    """A TOML basic string or array of strings: JSON's escapes are TOML's."""
    return json.dumps(value, ensure_ascii=False)


def paragraphs(text: str, indent: str = "", width: int = 96, hang: str = "") -> str:
    """Prose refilled at ``width`` columns, each line indented by ``indent``.

    Paragraphs are separated by blank lines; a line starting ``- `` is a list item (its
    later lines indented two more); a line of closing quotes stays alone; the later lines
    of any other paragraph are indented ``hang`` more (a Google-style ``Args:`` entry).
    Names never break (no hyphen or long-word splitting), so a line holds a 40-character
    name, nor do ````literals```` (a space in one is kept).

    Args:
        text: the prose, as the template wrote it (its own line breaks are not kept).
        indent: the prefix of every line (a docstring's indentation).
        width: the longest line, in columns, indentation included.
        hang: the extra indentation of a paragraph's later lines.

    Returns:
        The refilled text, ending with a line break.
    """
    out = []
    for paragraph in text.strip("\n").split("\n\n"):
        items: list[list[str]] = []
        for line in (raw.strip() for raw in paragraph.splitlines()):
            if not items or line.startswith("- ") or line == _QUOTES or items[-1] == [_QUOTES]:
                items.append([line])
            else:
                items[-1].append(line)
        out.append("\n".join(
            indent + _QUOTES if item == [_QUOTES] else textwrap.fill(
                _LITERAL.sub(lambda m: m.group().replace(" ", _KEEP), " ".join(item)), width,
                initial_indent=indent,
                subsequent_indent=indent + ("  " if item[0].startswith("- ") else hang),
                break_long_words=False, break_on_hyphens=False).replace(_KEEP, " ")
            for item in items))
    return "\n\n".join(out) + "\n"


def dunder_all(names: Sequence[str]) -> str:
    """An ``__all__`` list, one name a line, in ruff's order (RUF022, isort style): constants
    (``NAME``, and ``P6`` too), then classes, then the rest."""
    def kind(name: str) -> int:
        return 0 if name.isupper() else 1 if name[0].isupper() else 2

    lines = "".join(f'    "{name}",\n' for name in sorted(names, key=lambda n: (kind(n), n)))
    return f"__all__ = [\n{lines}]"


def from_import(module: str, name: str) -> str:
    """``from module import name`` on one line when it fits in 100 columns, else in
    parentheses with a trailing comma (ruff's isort keeps that form)."""
    line = f"from {module} import {name}"
    return line if len(line) <= 100 else f"from {module} import (\n    {name},\n)"


def in_docstring(text: str) -> str:
    """``text`` as it may stand inside a ``\"\"\"`` docstring: backslashes and triple
    quotes escaped."""
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def rst(markdown: str) -> str:
    """Markdown's ```code``` as a docstring's reStructuredText ````literal````."""
    return markdown.replace("`", "``")
