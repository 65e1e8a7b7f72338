"""A griffe extension for the API reference: siomw's docstrings, written for people reading
the source, made to render as the reference's Markdown.

The docstrings follow the Google style (``Args:``, ``Returns:``, ``Raises:``) and name other
objects with Sphinx roles (``:class:`~siomw_core.Middleware```, ``:func:`siomw_middlewares```)
and introduce literal blocks with ``::``. griffe's Google parser reads neither role nor ``::``,
so after the package is loaded this extension rewrites each docstring:

- a role becomes a cross-reference that mkdocs-autorefs resolves to the object's entry in the
  reference (its name resolved as Python would from where the docstring is: the object's own
  scope, then its parents'); a target the reference does not show (``time.perf_counter``)
  stays code, without a link and without a warning;
- a paragraph ending ``::`` before an indented block ends ``:``, and a top-level block becomes
  a fenced Python block (highlighted, with a copy button);
- an ``Args:`` entry naming several parameters (``before, after: ordering``) becomes one
  entry per name with that description, as Google style has it, so that every name is still
  checked against the signature (a name not in it fails the strict build).

Loaded by mkdocs.yml (``extensions: [docs/reference/griffe_roles.py]``); nothing else uses it.
"""

from __future__ import annotations

import html
import re
from functools import partial
from typing import Any

import griffe

#: ``:role:`target``` and ``:role:`~a.b.target``` (``~``: show the last part only)
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|data|attr|mod|exc|obj|const):`(~?)([^`<>]+)`")


def resolve(obj: griffe.Object, target: str) -> str:
    """The full path of ``target`` as named in ``obj``'s docstring; ``target`` itself when it
    names nothing of the package (an outside library's object)."""
    if target.startswith("."):  # relative to the module (``.servers`` in a package)
        module = obj if obj.is_module else obj.module
        return module.path + target
    head, _, rest = target.partition(".")
    scope: griffe.Object | None = obj
    while scope is not None:
        try:
            found = scope.resolve(head)
        except (griffe.NameResolutionError, AttributeError, KeyError):
            scope = scope.parent
            continue
        return f"{found}.{rest}" if rest else found
    return target


def link(match: re.Match[str], *, obj: griffe.Object) -> str:
    """The cross-reference that replaces one role of ``obj``'s docstring."""
    tilde, target = match.group(1), match.group(2).strip().removesuffix("()")
    shown = target.rsplit(".", 1)[-1] if tilde else target.lstrip(".")
    full = resolve(obj, target)
    # optional: an identifier the site does not document renders as code, with no warning
    return (f'<autoref optional identifier="{html.escape(full)}">'
            f"<code>{html.escape(shown)}</code></autoref>")


def literal_blocks(text: str) -> str:
    """``para::`` + blank + indented block: the colon once; a top-level block fenced."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        indent = len(line) - len(line.lstrip())
        ends = line.rstrip().endswith("::") and i + 2 < len(lines) and not lines[i + 1].strip()
        nxt = lines[i + 2] if ends else ""
        if not (ends and len(nxt) - len(nxt.lstrip()) > indent):
            out.append(line)
            i += 1
            continue
        out.append(line.rstrip()[:-1])
        block_indent = len(nxt) - len(nxt.lstrip())
        j = i + 2
        block: list[str] = []
        while j < len(lines) and (not lines[j].strip()
                                  or len(lines[j]) - len(lines[j].lstrip()) >= block_indent):
            block.append(lines[j])
            j += 1
        while block and not block[-1].strip():
            block.pop()
            j -= 1
        if indent == 0:
            out += ["", "```python", *(b[block_indent:] for b in block), "```"]
        else:
            out += ["", *block]
        i = j
    return "\n".join(out)


ARGS = re.compile(r"^(\s*)(?:Args|Arguments|Parameters|Params):\s*$")
GROUPED = re.compile(r"^(\s+)(\**\w+(?:, \**\w+)+):(.*)$")


def grouped_args(text: str) -> str:
    """``a, b: description`` in an ``Args:`` section: one ``a:`` and one ``b:`` entry, each
    with the whole description (its continuation lines too)."""
    lines = text.split("\n")
    out: list[str] = []
    header: int | None = None  # the indentation of the Args: line we are in, if any
    item: int | None = None  # the indentation of its entries
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        indent = len(line) - len(line.lstrip())
        if header is not None and line.strip() and indent <= header:
            header = item = None
        match = ARGS.match(line)
        if match:
            header, item = len(match.group(1)), None
        elif header is not None and line.strip():
            item = indent if item is None else item
            grouped = GROUPED.match(line)
            if grouped and indent == item:
                more: list[str] = []
                while i < len(lines) and lines[i].strip() and (
                        len(lines[i]) - len(lines[i].lstrip()) > item):
                    more.append(lines[i])
                    i += 1
                for name in grouped.group(2).split(", "):
                    out += [f"{grouped.group(1)}{name}:{grouped.group(3)}", *more]
                continue
        out.append(line)
    return "\n".join(out)


class SphinxRoles(griffe.Extension):
    """Rewrites every docstring of the loaded package (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        seen: set[int] = set()
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if obj.docstring is not None:
                text = ROLE.sub(partial(link, obj=obj), obj.docstring.value)
                obj.docstring.value = grouped_args(literal_blocks(text))
            stack += [m for m in obj.members.values() if isinstance(m, griffe.Object)]
