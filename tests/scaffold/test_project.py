"""The end-to-end run: a project written by ``siomw new-plugin``, with every level, installed
as a user installs it (``pip install ./siomw-NAME``, into the throwaway virtualenv of
``conftest.py``: ``--no-deps``, siomw-core comes from the repository's environment), is
listed by ``siomw plugins`` with its contract range, placed by ``siomw chain``, and passes its
own tests, unedited, against real servers.

Its tests run on every server kind installed (asgi, aiohttp, threading, gevent, flask in the
repository's environment: 52 tests in about 80 s here, the servers of equal arguments shared);
``SIOMW_SCAFFOLD_KINDS=asgi,threading`` narrows them to an ``AsyncServer`` and a sync
``Server``, the two runtimes a member meets.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from siomw_core.scaffold.versions import contract_range

from .conftest import DevEnv, new_plugin

NAME = "scaffoldcheck"
KINDS = os.environ.get("SIOMW_SCAFFOLD_KINDS", "")  # empty: every kind installed
CLI = ("-c", "from siomw_core.cli import main; main()")  # the virtualenv has no siomw script


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, devenv: DevEnv) -> Path:
    root = tmp_path_factory.mktemp("project")
    made = new_plugin(NAME, "--level", "engine", "--level", "connect", "--level", "event",
                      cwd=root)
    assert made.returncode == 0, made.stderr
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", devenv.python, "install", "--no-deps",
         "--no-input", "--disable-pip-version-check", f"./siomw-{NAME}"],
        cwd=root, env=devenv.env, capture_output=True, text=True, timeout=600, check=False)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-3000:]
    return root / f"siomw-{NAME}"


def siomw_json(devenv: DevEnv, *args: str, cwd: Path) -> Any:
    done = devenv.run(*CLI, *args, "--json", cwd=cwd, timeout=120,
                      extra={"SIOMW_PLUGINS": NAME})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_siomw_plugins_lists_it(project: Path, devenv: DevEnv, tmp_path: Path) -> None:
    [record] = [r for r in siomw_json(devenv, "plugins", cwd=tmp_path) if r["name"] == NAME]
    assert record["distribution"] == f"siomw-{NAME}"
    assert record["enabled"] and record["error"] is None, record
    assert record["contract"] == contract_range()  # >=<this core's contract>,<next major
    assert [(m["level"], m["name"], m["priority"]) for m in record["middlewares"]] == [
        ("engine", f"{NAME}-http", 1500), ("connect", NAME, 1500),
        ("event", f"{NAME}-events", 1500)]


def test_siomw_chain_places_it(project: Path, devenv: DevEnv, tmp_path: Path) -> None:
    chains = siomw_json(devenv, "chain", cwd=tmp_path)
    assert [m["name"] for m in chains["engine"]] == [f"{NAME}-http"]
    for namespace in chains["connect"]:
        assert [m["name"] for m in chains["connect"][namespace]] == [NAME]
        assert [m["name"] for m in chains["event"][namespace]] == [f"{NAME}-events"]


def test_its_own_tests_pass(project: Path, devenv: DevEnv) -> None:
    kinds = [f"--siomw-kinds={KINDS}"] if KINDS else []
    done = devenv.run("-m", "pytest", "-q", "-p", "no:cacheprovider", *kinds, cwd=project,
                      timeout=1200)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "passed" in summary and "failed" not in summary, summary
    assert "warnings summary" not in done.stdout, done.stdout[-6000:]  # nothing to ignore
    if shutil.which("node"):  # the JS client's tests ran too (without Node they skip)
        assert "skipped" not in summary, summary
