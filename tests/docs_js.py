"""Run the docs' JS examples exactly as their comments say.

Each ``docs/examples/*.mjs`` says: ``npm ci --prefix docs/examples``, then, from the repository,
``URL=... node docs/examples/<name>.mjs``. So the tests run ``node docs/examples/<name>.mjs``
with the repository as working directory, ``socket.io-client`` resolved from
``docs/examples/node_modules`` (no ``NODE_PATH``, no copy beside ``tests/js``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES_JS = REPO / "docs" / "examples"


def docs_js_available() -> bool:
    """Node is on PATH and ``npm ci --prefix docs/examples`` ran."""
    installed = (EXAMPLES_JS / "node_modules" / "socket.io-client").is_dir()
    return shutil.which("node") is not None and installed


# under CI a missing install fails the test instead of skipping it
requires_docs_js = pytest.mark.skipif(
    not docs_js_available() and not os.environ.get("CI"),
    reason="node and docs/examples/node_modules are needed (npm ci --prefix docs/examples)",
)


async def run_example_js(script: str, timeout: float = 20, **env: str) -> list[str]:
    """Run ``node docs/examples/<script>`` from the repository with ``env`` added to the
    environment; return its stdout lines. Raises AssertionError (with node's stderr) when it
    exits non-zero, TimeoutError after ``timeout`` seconds."""
    environ = {k: v for k, v in os.environ.items() if k != "NODE_PATH"} | env
    proc = await asyncio.create_subprocess_exec(
        "node", f"docs/examples/{script}", cwd=REPO, env=environ,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode()
    return out.decode().splitlines()


async def run_siomw(*args: str, timeout: float = 30, cwd: Path = REPO) -> str:
    """Run the ``siomw`` command of this environment (from the repository by default), as a
    reader of the docs types it; return its stdout (stripped). Raises AssertionError with its
    stderr when it exits non-zero."""
    siomw = Path(sys.executable).with_name("siomw")
    proc = await asyncio.create_subprocess_exec(
        str(siomw), *args, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode == 0, err.decode()
    return out.decode().strip()
