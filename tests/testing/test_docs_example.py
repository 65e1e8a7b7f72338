"""docs/plugins/testing.md's example, run as written: its plugin installed (an entry point of
the group ``siomw``, from a dist-info beside it) and its test file run by pytest."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.jsclient import JS_DIR

pytest_plugins = ["pytester"]

PAGE = Path(__file__).resolve().parents[2] / "docs" / "plugins" / "testing.md"
BLOCK = re.compile(r'```python title="([^"]+)"\n(.*?)```', re.S)


def files() -> dict[str, str]:
    """The page's titled Python blocks: file name → text."""
    return {name: text for name, text in BLOCK.findall(PAGE.read_text())}


def write_example(folder: Path) -> None:
    """The page's files in ``folder``, the plugin installed there as a dist-info."""
    blocks = files()
    assert set(blocks) == {"siomw_audit.py", "tests/test_audit.py"}
    for name, text in blocks.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    info = folder / "siomw_audit-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: siomw-audit\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[siomw]\naudit = siomw_audit\n")


def test_example_runs_as_written(pytester: pytest.Pytester,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    write_example(pytester.path)
    if (JS_DIR / "node_modules").is_dir():
        monkeypatch.setenv("SIOMW_JS_MODULES", str(JS_DIR / "node_modules"))
    # two kinds, one async and one sync: every kind is tests/testing/test_pytest_plugin.py's
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist", "-v",
                                           "--siomw-kinds=asgi,threading", timeout=600)
    passed = 6 if (JS_DIR / "node_modules").is_dir() else 4
    result.assert_outcomes(passed=passed, skipped=6 - passed)
    result.stdout.fnmatch_lines(["siomw kinds: asgi; threading",
                                 "*test_refuses_banned_users?asgi? PASSED*"])


def test_example_warns_of_nothing(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """What the page's reader sees: the plugin declares its contract range (``siomw plugins``
    prints no warning), and with only the ``testing`` extra (no pytest-asyncio: ``-p
    no:asyncio`` here, where the repository's tools install it) the run has no warnings
    summary (pytest-asyncio's unset loop scope warned on every run)."""
    write_example(pytester.path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIOMW_")}
    env["PYTHONPATH"] = str(pytester.path)
    done = subprocess.run([str(Path(sys.executable).parent / "siomw"), "plugins", "--json"],
                          cwd=tmp_path, env={**env, "SIOMW_JWT_SECRET": "x" * 32},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    [audit] = [r for r in json.loads(done.stdout) if r["name"] == "audit"]
    assert (audit["contract"], audit["contract_declared"]) == (">=1.0,<2", True)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist",
                                           "-p", "no:asyncio", "--siomw-kinds=asgi",
                                           "-k", "not js", timeout=600)
    result.assert_outcomes(passed=2)
    assert "warnings summary" not in result.stdout.str(), result.stdout.str()
