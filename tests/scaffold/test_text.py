"""The template filters: generated text stays valid and within 100 columns."""

from __future__ import annotations

import tomllib

from siomw_core.scaffold.text import dunder_all, from_import, in_docstring, paragraphs, toml

NAME = "abcdefghij" * 4  # the longest plugin name


def test_paragraphs_fill_and_keep_names_and_literals_whole() -> None:
    text = (f'"""The member ``{NAME}-http`` refuses with ``{{"code": "address blocked"}}`` '
            + "and more words " * 12 + "\n\n- an item " + "that goes on " * 10 + "\n" + '"""')
    out = paragraphs(text, indent="    ", width=96)
    lines = out.rstrip("\n").split("\n")
    assert all(len(line) <= 96 for line in lines), lines
    assert f"``{NAME}-http``" in out
    assert '``{"code": "address blocked"}``' in out  # its space did not break the line
    assert lines[-1] == '    """'  # the closing quotes stay alone
    [item] = [i for i, line in enumerate(lines) if line.startswith("    - an item")]
    assert lines[item + 1].startswith("      goes on")  # a list item's later lines hang
    assert out.endswith("\n") and "\n\n" in out


def test_paragraphs_hang_an_args_entry() -> None:
    out = paragraphs("options: " + "the table " * 15, indent="        ", width=100, hang="    ")
    first, second = out.rstrip("\n").split("\n")
    assert first.startswith("        options: ") and second.startswith("            t")


def test_dunder_all_is_in_ruffs_order() -> None:
    assert dunder_all(["connect_member", "P6Connect", "PRIORITY", "NAME", "P6"]) == (
        '__all__ = [\n    "NAME",\n    "P6",\n    "PRIORITY",\n    "P6Connect",\n'
        '    "connect_member",\n]')


def test_from_import_splits_only_when_it_must() -> None:
    assert from_import("siomw_audit", "AuditOptions") == "from siomw_audit import AuditOptions"
    long = from_import(f"siomw_{NAME}", f"{NAME.capitalize()}Options")
    assert long.splitlines() == [f"from siomw_{NAME} import (", f"    {NAME.capitalize()}"
                                 "Options,", ")"]


def test_in_docstring_and_toml_keep_any_text() -> None:
    text = 'a "quote", a backslash \\ and """ three quotes'
    namespace: dict[str, object] = {}
    exec(compile(f'"""{in_docstring(text)}"""', "doc", "exec"), namespace)
    assert namespace["__doc__"] == text
    assert tomllib.loads(f"key = {toml(text)}\nlist = {toml([text, 'é'])}") == {
        "key": text, "list": [text, "é"]}
