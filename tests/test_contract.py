"""The plugin contract: the bundled plugins import only what ``siomw_core`` exports at its top
level (no submodule, so no adapter or server-kind detail), and nothing of ASGI, WSGI or aiohttp
is in their code: the same plugin serves every server kind."""

from __future__ import annotations

import ast
from pathlib import Path

import siomw_core

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(ROOT.glob("plugins/siomw-*/siomw_*/**/*.py"))
#: names a plugin written for every server kind has no use for
FRAMEWORK_TERMS = ("asgi", "wsgi", "aiohttp", "start_response")


def test_there_are_plugin_sources() -> None:
    assert len(SOURCES) > 20


def test_plugins_import_only_the_top_level_contract() -> None:
    """``from siomw_core import X`` with X in ``siomw_core.__all__``; never a submodule."""
    problems = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and \
                    node.module.split(".")[0] == "siomw_core":
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                if node.module != "siomw_core":
                    problems.append(f"{where}: imports {node.module}")
                for alias in node.names:
                    if alias.name not in siomw_core.__all__:
                        problems.append(f"{where}: {alias.name} is not in siomw_core.__all__")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("siomw_core."):
                        problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports "
                                        f"{alias.name}")
    assert problems == []


def test_plugin_code_knows_no_server_framework() -> None:
    """No ASGI, WSGI or aiohttp in the plugins' code (comments and docstrings aside)."""
    problems = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name | ast.Attribute):
                name = node.id if isinstance(node, ast.Name) else node.attr
                if any(term in name.lower() for term in FRAMEWORK_TERMS):
                    problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    node.value in ("asgi.scope", "aiohttp.request", "websocket.accept"):
                problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert problems == []
