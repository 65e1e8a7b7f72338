"""docs/plugins/testing.md's example, run as written: its plugin installed (an entry point of
the group ``siomw``, from a dist-info beside it) and its test file run by pytest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.jsclient import JS_DIR

pytest_plugins = ["pytester"]

PAGE = Path(__file__).resolve().parents[2] / "docs" / "plugins" / "testing.md"
BLOCK = re.compile(r'```python title="([^"]+)"\n(.*?)```', re.S)


def files() -> dict[str, str]:
    """The page's titled Python blocks: file name → text."""
    return {name: text for name, text in BLOCK.findall(PAGE.read_text())}


def test_example_runs_as_written(pytester: pytest.Pytester,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = files()
    assert set(blocks) == {"siomw_audit.py", "tests/test_audit.py"}
    for name, text in blocks.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    info = pytester.path / "siomw_audit-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: siomw-audit\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[siomw]\naudit = siomw_audit\n")
    if (JS_DIR / "node_modules").is_dir():
        monkeypatch.setenv("SIOMW_JS_MODULES", str(JS_DIR / "node_modules"))
    # two kinds, one async and one sync: every kind is tests/testing/test_pytest_plugin.py's
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist", "-v",
                                           "--siomw-kinds=asgi,threading", timeout=600)
    passed = 6 if (JS_DIR / "node_modules").is_dir() else 4
    result.assert_outcomes(passed=passed, skipped=6 - passed)
    result.stdout.fnmatch_lines(["siomw kinds: asgi; threading",
                                 "*test_refuses_banned_users?asgi? PASSED*"])
