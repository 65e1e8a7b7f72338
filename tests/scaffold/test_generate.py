"""Every project ``siomw new-plugin`` can write passes its own ruff and strict mypy settings
without an edit: each combination of levels, the longest name, a description with quotes and
backslashes (checked statically here; installed and run in ``test_project.py``)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from siomw_core.middleware import LEVELS
from siomw_core.scaffold import Project, plugin_names, render, write
from siomw_core.scaffold.names import MAX_LENGTH

from .conftest import DevEnv

COMBINATIONS = [list(c) for n in range(1, len(LEVELS) + 1)
                for c in itertools.combinations(LEVELS, n)]
LONGEST = "abcdefghij" * (MAX_LENGTH // 10)
TRICKY = 'Refuses "bad" clients \\ and """quotes""": a summary ' + "long " * 30


def projects() -> list[Project]:
    made = [Project(plugin_names(f"p{i}"), levels) for i, levels in enumerate(COMBINATIONS)]
    made.append(Project(plugin_names(LONGEST), LEVELS, description=TRICKY,
                        author=("Ada \"The\" Lovelace", "ada@example.org")))
    return made


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("generated")
    return [write(project, root) for project in projects()]


def test_every_level_combination_has_its_members_and_tests() -> None:
    for project in projects():
        files = render(project)
        package = project.names.package
        for level in LEVELS:
            assert (f"{package}/{level}.py" in files) == (level in project.levels)
            assert (f"tests/test_{level}.py" in files) == (level in project.levels)
        for path, text in files.items():
            if path.endswith(".py"):
                compile(text, path, "exec")  # a SyntaxError names the file
        meta = tomllib.loads(files["pyproject.toml"])["project"]
        assert meta["description"] == project.summary()


def test_the_description_and_author_survive_quoting() -> None:
    files = render(projects()[-1])
    meta = tomllib.loads(files["pyproject.toml"])["project"]
    assert meta["description"] == TRICKY
    assert meta["authors"] == [{"name": 'Ada "The" Lovelace', "email": "ada@example.org"}]
    package = plugin_names(LONGEST).package
    namespace: dict[str, object] = {}
    exec(compile(files[f"{package}/__init__.py"].split("from __future__")[0], "doc", "exec"),
         namespace)
    assert " ".join(str(namespace["__doc__"]).split()).count(" ".join(TRICKY.split())) == 1


def test_ruff_passes(written: list[Path]) -> None:
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache",
                           *map(str, written)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr


def test_mypy_strict_passes(written: list[Path], devenv: DevEnv, tmp_path: Path) -> None:
    """With each project's own ``[tool.mypy]`` (strict), siomw-core seen as installed: the
    default (connect), two members (engine and event) and all three under the longest name,
    which between them hold every template and each shape of ``__init__``."""
    cache = tmp_path / "mypy-cache"  # shared: siomw-core and pydantic are analysed once
    chosen = [path for path, project in zip(written, projects(), strict=True)
              if list(project.levels) in (["connect"], ["engine", "event"])] + [written[-1]]
    assert len(chosen) == 3
    failures = []
    for project in chosen:
        mypy = devenv.run("-m", "mypy", "--cache-dir", str(cache), cwd=project, timeout=300)
        if mypy.returncode != 0:
            failures.append(f"{project.name}:\n{mypy.stdout}{mypy.stderr}")
    assert failures == []
