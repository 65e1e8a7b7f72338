"""A throwaway virtualenv for generated projects, and running ``siomw new-plugin``.

The virtualenv is made with this interpreter (``python -m venv --without-pip``) and sees the
repository's environment through a ``.pth`` file: siomw-core and its dependencies come from
there (``pip install --no-deps ./siomw-NAME`` adds only the new plugin), as the brief of
``tests/scaffold`` asks. ``--system-site-packages`` would not do it: from a virtualenv's
interpreter it exposes the base interpreter's site-packages, not the virtualenv's. The
``.pth`` holds, as plain lines (which mypy reads too), a folder holding only a link to the
source of ``siomw_core`` (it is installed editable, through an import hook mypy cannot follow)
and the repository environment's site-packages, then an ``import site`` line that processes
that site-packages' own ``.pth`` files (the bundled plugins' editable installs).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: ``siomw`` of the repository's environment (the one the tests run in)
SIOMW = str(Path(sys.executable).parent / "siomw")


@dataclass(frozen=True)
class DevEnv:
    """The throwaway virtualenv: its interpreter, and a clean environment to run it in."""

    python: str
    env: dict[str, str]

    def run(self, *args: str, cwd: Path, timeout: float = 300,
            extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``python ARGS`` of the virtualenv in ``cwd``, output captured."""
        return subprocess.run([self.python, *args], cwd=cwd, env={**self.env, **(extra or {})},
                              capture_output=True, text=True, timeout=timeout, check=False)


def clean_env() -> dict[str, str]:
    """This environment without siomw settings, PYTHONPATH or an active virtualenv."""
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if not k.startswith("SIOMW_") and k not in drop}


def new_plugin(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``siomw new-plugin ARGS`` as a user runs it."""
    return subprocess.run([SIOMW, "new-plugin", *args], cwd=cwd, env=clean_env(),
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="session")
def devenv(tmp_path_factory: pytest.TempPathFactory) -> DevEnv:
    root = tmp_path_factory.mktemp("devenv")
    venv, core = root / "venv", root / "core"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    core.mkdir()
    (core / "siomw_core").symlink_to(REPO / "siomw_core", target_is_directory=True)
    python = str(venv / "bin" / "python")
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]  # the repository environment's site-packages
    (Path(purelib) / "_siomw_repository.pth").write_text(
        f"{core}\n{ours}\nimport site; site.addsitedir({ours!r})\n")
    env = clean_env()
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    js = REPO / "tests" / "js" / "node_modules"
    if (js / "socket.io-client").is_dir():  # the repository's copy: no npm install
        env["SIOMW_JS_MODULES"] = str(js)
    return DevEnv(python=python, env=env)
