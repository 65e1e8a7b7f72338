"""Every distribution installs from a clone and works there, as the README's "Install" says.

The six distributions (siomw-core and the five bundled plugins) are built from a copy of the
repository's files with ``python -m build`` (an sdist, then a wheel built from that sdist, so a
file missing from the sdist breaks the wheel), installed into a fresh virtualenv with their
declared dependencies from the package index, and driven there: ``siomw plugins`` lists the five
plugins enabled, and ``siomw serve``'s demo accepts a token from ``siomw token`` and refuses a
client without one. A missing package-data file, entry point or dependency fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from siomw_core.testing import connect_result

REPO = Path(__file__).resolve().parent.parent
#: distribution -> (source directory in the repository, import package)
DISTRIBUTIONS = {
    "siomw-core": (".", "siomw_core"),
    "siomw-logging": ("plugins/siomw-logging", "siomw_logging"),
    "siomw-jwt": ("plugins/siomw-jwt", "siomw_jwt"),
    "siomw-ratelimit": ("plugins/siomw-ratelimit", "siomw_ratelimit"),
    "siomw-headers": ("plugins/siomw-headers", "siomw_headers"),
    "siomw-metrics": ("plugins/siomw-metrics", "siomw_metrics"),
}
DEMO_ENV = {"SIOMW_JWT_SECRET": "a-demo-secret-of-at-least-32-bytes-for-hs256"}


@dataclass
class Installed:
    src: Path  # the copy of the repository the distributions were built from
    dist: Path  # the sdists and wheels
    venv: Path  # the virtualenv they are installed in
    env: dict[str, str]  # the environment of commands run from the virtualenv

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a command with the demo's jwt secret set (the jwt plugin needs one)."""
        return subprocess.run(argv, cwd=self.src.parent, env={**self.env, **DEMO_ENV},
                              capture_output=True, text=True, timeout=timeout, check=False)


def repository_files() -> list[str]:
    """What a clone holds: git's tracked files plus new ones not ignored (so a file not yet
    committed counts); every file but the ignored ones when this is not a git checkout."""
    if (REPO / ".git").exists() and shutil.which("git"):
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                             capture_output=True, text=True, check=True, timeout=30).stdout
        return [name for name in out.split("\0") if name and (REPO / name).is_file()]
    skip = {".git", ".venv", "node_modules", "__pycache__", "build", "site", "dist"}
    return [str(p.relative_to(REPO)) for p in REPO.rglob("*")
            if p.is_file() and not skip.intersection(p.relative_to(REPO).parts)
            and not any(part.endswith(".egg-info") for part in p.parts)]


def clean_env() -> dict[str, str]:
    """This environment without what would make the virtualenv see something else: no
    siomw settings, no PYTHONPATH, no active virtualenv."""
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if not k.startswith("SIOMW_") and k not in drop}


def check(proc: subprocess.CompletedProcess[str], what: str) -> str:
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the five distributions (in parallel) and install their wheels, with their
    dependencies from the index (pip's cache reused), into one fresh virtualenv."""
    root = tmp_path_factory.mktemp("packaging")
    src, dist, venv = root / "src", root / "dist", root / "venv"
    for name in repository_files():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, src / name)
    env = clean_env()
    builds = {
        dist_name: subprocess.Popen(
            [sys.executable, "-m", "build", "--outdir", str(dist), str(src / directory)],
            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for dist_name, (directory, _) in DISTRIBUTIONS.items()
    }
    for dist_name, proc in builds.items():
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"python -m build of {dist_name} failed:\n{out[-3000:]}"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=60)
    wheels = sorted(str(p) for p in dist.glob("*.whl"))
    assert len(wheels) == len(DISTRIBUTIONS), sorted(p.name for p in dist.iterdir())
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--no-input", "--disable-pip-version-check", *wheels],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    check(install, "pip install of the wheels")
    # the README's second line: the [examples] extra of the siomw-core wheel
    [core] = [w for w in wheels if Path(w).name.startswith("siomw_core-")]
    extra = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--no-input", "--disable-pip-version-check", f"{core}[examples]"],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    check(extra, "pip install of siomw-core[examples]")
    run_env = {**env, "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"}
    return Installed(src=src, dist=dist, venv=venv, env=run_env)


def test_every_distribution_has_an_sdist_and_a_wheel(installed: Installed) -> None:
    """One sdist and one wheel per distribution, named after it, version 0.1.0."""
    names = sorted(p.name for p in installed.dist.iterdir())
    expected = sorted(
        name
        for dist_name in DISTRIBUTIONS
        for name in (f"{dist_name.replace('-', '_')}-0.1.0.tar.gz",
                     f"{dist_name.replace('-', '_')}-0.1.0-py3-none-any.whl")
    )
    assert names == expected


@pytest.mark.parametrize("dist_name", list(DISTRIBUTIONS))
def test_wheel_holds_every_file_of_its_package(installed: Installed, dist_name: str) -> None:
    """Every file of the package in the repository (modules, subpackages, py.typed, data) is in
    the wheel built from the sdist, and nothing else of the repository is."""
    directory, package = DISTRIBUTIONS[dist_name]
    base = installed.src / directory / package
    source = {f"{package}/{p.relative_to(base).as_posix()}" for p in base.rglob("*")
              if p.is_file() and "__pycache__" not in p.parts}
    assert f"{package}/py.typed" in source
    wheel = next(installed.dist.glob(f"{dist_name.replace('-', '_')}-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert {n for n in names if n.startswith(f"{package}/")} == source
    assert all(n.startswith((f"{package}/", f"{dist_name.replace('-', '_')}-0.1.0.dist-info/"))
               for n in names), names


def test_installed_packages_come_from_the_virtualenv(installed: Installed) -> None:
    """The virtualenv imports its own copies, not the repository's."""
    packages = [package for _, package in DISTRIBUTIONS.values()]
    code = (f"import importlib; print([importlib.import_module(p).__file__ for p in {packages}])")
    out = check(installed.run(installed.bin("python"), "-c", code), "import")
    site = str(installed.venv / "lib")
    for path in json.loads(out.replace("'", '"')):
        assert path.startswith(site), path


def test_siomw_plugins_lists_the_five_enabled(installed: Installed) -> None:
    """``siomw plugins --json`` in the virtualenv: the five bundled plugins, each from its
    distribution, enabled, no load error."""
    out = check(installed.run(installed.bin("siomw"), "plugins", "--json"), "siomw plugins")
    rows = {row["name"]: row for row in json.loads(out)}
    assert {name: (row["distribution"], row["version"], row["enabled"], row["error"])
            for name, row in rows.items()} == {
        "logging": ("siomw-logging", "0.1.0", True, None),
        "jwt": ("siomw-jwt", "0.1.0", True, None),
        "ratelimit": ("siomw-ratelimit", "0.1.0", True, None),
        "headers": ("siomw-headers", "0.1.0", True, None),
        "metrics": ("siomw-metrics", "0.1.0", True, None),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CLIENT = """
import asyncio, sys, socketio

async def main():
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(sys.argv[1], auth={"token": sys.argv[2]}, wait_timeout=10)
    print((await client.call("whoami", timeout=5))["sub"])
    await client.disconnect()

asyncio.run(main())
"""


def wait_listening(server: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 20  # bounded wait for the server to listen
    while True:
        assert server.poll() is None, f"the server exited: {server.communicate()[1]}"
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            assert time.monotonic() < deadline, "the server did not listen within 20 s"
            time.sleep(0.1)


def stop(server: subprocess.Popen[str]) -> None:
    server.terminate()
    try:
        server.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.communicate()


def test_examples_extra_runs_a_python_client_and_the_starlette_example(
    installed: Installed,
) -> None:
    """With the [examples] extra, as the README installs it: a python-socketio AsyncClient
    run by the virtualenv's Python connects to the demo with a token (aiohttp is there), and
    ``uvicorn docs.examples.serve_mounted:api`` serves its Starlette app."""
    env = {**installed.env, **DEMO_ENV}
    port = free_port()
    server = subprocess.Popen(
        [installed.bin("siomw"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=installed.src.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        wait_listening(server, port)
        tok = check(installed.run(installed.bin("siomw"), "token", "--sub", "alice"),
                    "siomw token").strip()
        client = installed.run(installed.bin("python"), "-c", CLIENT,
                               f"http://127.0.0.1:{port}", tok)
        assert (client.returncode, client.stdout, client.stderr) == (0, "alice\n", "")
    finally:
        stop(server)
    port = free_port()
    mounted = subprocess.Popen(
        [installed.bin("uvicorn"), "docs.examples.serve_mounted:api", "--port", str(port)],
        cwd=installed.src, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_listening(mounted, port)
        handshake = installed.run(installed.bin("python"), "-c", (
            "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).status)"),
            f"http://127.0.0.1:{port}/realtime/socket.io/?EIO=4&transport=polling")
        assert (handshake.returncode, handshake.stdout) == (0, "200\n"), handshake.stderr
    finally:
        stop(mounted)


async def test_demo_accepts_a_token_and_refuses_without(installed: Installed) -> None:
    """``siomw serve`` from the virtualenv (the demo, the five plugins): a token from ``siomw
    token`` connects and ``whoami`` answers its sub; no token gets invalid_request; ``/`` is
    the demo page."""
    env = {**installed.env, **DEMO_ENV}
    port = free_port()
    server = subprocess.Popen(
        [installed.bin("siomw"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=installed.src.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        deadline = time.monotonic() + 20  # bounded wait for the server to listen
        while True:
            assert server.poll() is None, f"siomw serve exited: {server.communicate()[1]}"
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "siomw serve did not listen within 20 s"
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}"
        token = installed.run(installed.bin("siomw"), "token", "--sub", "alice")
        tok = check(token, "siomw token").strip()

        outcome, data, client = await connect_result(url, auth={"token": tok})
        assert (outcome, data) == ("connect", None)
        who = await client.call("whoami", timeout=5)
        assert who["sub"] == "alice"
        await client.disconnect()

        outcome, data, _ = await connect_result(url)
        assert (outcome, data) == ("connect_error", {
            "message": "Authentication required",
            "data": {"code": "invalid_request", "detail": "missing_token"}})

        async with aiohttp.ClientSession() as http, http.get(f"{url}/") as resp:
            assert resp.status == 200
            assert resp.headers["content-type"] == "text/html; charset=utf-8"
    finally:
        server.terminate()
        try:
            server.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()
