"""``siomw new-plugin`` run as a user runs it: what it writes, and one-line errors for a bad
NAME, an unknown level, an existing directory and a multi-line description."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path

import pytest

from .conftest import REPO, new_plugin


def test_writes_the_project_and_says_what_next(tmp_path: Path) -> None:
    done = new_plugin("audit-log", "--dir", str(tmp_path), "--author",
                      "Ada Lovelace <ada@example.org>", "--description", "Audits who connects.",
                      cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    root = tmp_path / "siomw-audit-log"
    assert f"created {root}/: plugin 'audit_log' (connect), package siomw_audit_log" in done.stdout
    assert f"pip install -e '{root}[test]'" in done.stdout
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == [
        ".gitignore", "README.md", "docs/audit_log.md", "pyproject.toml",
        "siomw_audit_log/__init__.py", "siomw_audit_log/connect.py",
        "siomw_audit_log/options.py", "siomw_audit_log/py.typed",
        "tests/test_connect.py", "tests/test_options.py", "tests/test_plugin.py",
    ]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["name"] == "siomw-audit-log"
    assert project["description"] == "Audits who connects."
    assert project["authors"] == [{"name": "Ada Lovelace", "email": "ada@example.org"}]
    assert project["entry-points"]["siomw"] == {"audit_log": "siomw_audit_log"}
    assert project["dependencies"][0].startswith("siomw-core>=")
    assert project["optional-dependencies"]["test"][0].startswith("siomw-core[testing]>=")
    # pytest-asyncio, for the author's async tests, with the loop scope it warns without
    assert "pytest-asyncio>=0.24" in project["optional-dependencies"]["test"]
    pytest_ini = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["pytest"]
    assert pytest_ini["ini_options"]["asyncio_default_fixture_loop_scope"] == "function"


def test_relative_to_the_working_directory_by_default(tmp_path: Path) -> None:
    done = new_plugin("audit", "--level", "event", "--level", "engine", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("created siomw-audit/: plugin 'audit' (engine, event)")
    assert (tmp_path / "siomw-audit" / "siomw_audit" / "engine.py").is_file()
    assert not (tmp_path / "siomw-audit" / "siomw_audit" / "connect.py").exists()


def test_an_existing_directory_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "siomw-audit").mkdir()
    (tmp_path / "siomw-audit" / "mine.txt").write_text("keep")
    done = new_plugin("audit", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: siomw-audit exists already; nothing was written (remove it, or choose another "
        "NAME or --dir)"]
    assert [p.name for p in (tmp_path / "siomw-audit").iterdir()] == ["mine.txt"]


@pytest.mark.parametrize(("args", "says"), [
    (["Audit"], "Error: plugin name 'Audit' must be lower-case letters and digits"),
    (["siomw-audit"], "Error: plugin name 'siomw-audit' must not start with 'siomw' (try "
                      "'audit'"),
    (["order"], "Error: plugin name 'order' is a core key of siomw.toml"),
    (["core"], "Error: plugin name 'core' would name the project siomw-core, the core itself "
               "(installing it would replace the core); choose another"),
    (["ratelimit"], "Error: plugin name 'ratelimit' is taken: siomw-ratelimit"),
    (["audit", "--level", "namespace"], "Invalid value for '--level': 'namespace' is not one "
                                        "of 'engine', 'connect', 'event'."),
    (["audit", "--description", "two\nlines"], "Invalid value for '--description': a "
                                              "one-line summary"),
    (["audit", "--dir", "missing"], "Invalid value for '--dir': Directory 'missing' does not "
                                    "exist."),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, args: list[str],
                                                  says: str) -> None:
    done = new_plugin(*args, cwd=tmp_path)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and says in errors[0], done.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_example_of_docs_cli_md_is_what_it_prints(tmp_path: Path) -> None:
    page = (REPO / "docs" / "cli.md").read_text()
    section = page[page.index("## `siomw new-plugin"):]
    block = section[section.index("```console\n") + 11:]
    command, *expected = block[:block.index("```")].rstrip("\n").split("\n")
    assert command.startswith("$ siomw new-plugin ")
    done = new_plugin(*shlex.split(command)[3:], cwd=tmp_path)  # after "$ siomw new-plugin"
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip("\n").split("\n") == expected
