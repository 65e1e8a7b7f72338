"""The examples in docs/ run as documented, against real servers and real clients."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import aiohttp
import pytest
import socketio

from siomw_core import Config, CoreSettings, Siomw, load_config
from siomw_core.registry import Registry
from siomw_core.testing import connect_result, serve
from tests.docs_js import requires_docs_js, run_example_js, run_siomw

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def load_example(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import docs/examples/<name>.py afresh, as a user runs it: the bundled plugins are
    installed, and the example itself says which it uses."""
    monkeypatch.delenv("SIOMW_PLUGINS", raising=False)
    monkeypatch.delenv("SIOMW_CONFIG", raising=False)
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _no_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no ./siomw.toml is picked up by accident


async def test_registering_runs_in_order_and_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    """connect_registering.py: first, second, handler; a wrong token is refused by second."""
    ex = load_example("connect_registering", monkeypatch)
    async with serve(ex.app) as url:
        outcome, data, client = await connect_result(url, auth={"token": "let-me-in"})
        assert outcome == "connect"
        await client.disconnect()
        assert ex.seen == ["first", "second", "connect handler"]
        outcome, data, _ = await connect_result(url, auth={"token": "nope"})
        refusal = {"message": "not authorized", "data": {"content": "Please retry later"}}
        assert (outcome, data) == ("connect_error", refusal)
        assert ex.seen[3:] == ["first", "second"]


@requires_docs_js
async def test_client_errors_example_prints_message_and_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """client_errors.mjs shows err.message, err.data and socket.active as the page says."""
    ex = load_example("connect_registering", monkeypatch)
    async with serve(ex.app) as url:
        lines = await run_example_js("client_errors.mjs", URL=url)
    assert lines == ["not authorized", '{"content":"Please retry later"}', "false"]


@requires_docs_js
async def test_credentials_object_and_function(monkeypatch: pytest.MonkeyPatch) -> None:
    """connect_credentials.py with client_credentials.mjs: auth as object and as function."""
    ex = load_example("connect_credentials", monkeypatch)
    async with serve(ex.app) as url:
        lines = await run_example_js("client_credentials.mjs", URL=url)
        assert lines == ["object: alice", "function: bob"]
        outcome, data, _ = await connect_result(url, auth={"token": "forged"})
        assert (outcome, data) == (
            "connect_error", {"message": "unknown user", "data": {"code": "invalid_token"}}
        )


async def test_starlette_routes_untouched_and_namespace_guarded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """connect_starlette.py: Starlette serves /health; Socket.IO connections need the key."""
    ex = load_example("connect_starlette", monkeypatch)
    async with serve(ex.app) as url:
        async with aiohttp.ClientSession() as http, http.get(f"{url}/health") as resp:
            assert resp.status == 200
            assert await resp.json() == {"ok": True}
        outcome, data, _ = await connect_result(url)
        assert data == {"message": "missing API key", "data": {"code": "invalid_request"}}
        outcome, data, client = await connect_result(url, headers={"X-Api-Key": "k1"})
        assert outcome == "connect"
        await client.disconnect()


async def test_third_party_plugin_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """plugin_audit.py: its table is validated, its middleware refuses blocked addresses."""
    ex = load_example("plugin_audit", monkeypatch)
    sio = socketio.AsyncServer(async_mode="asgi")
    config = Config(source="test", core=CoreSettings(),
                    tables={"audit": {"blocked": ["127.0.0.1"]}})
    mw = Siomw(sio, config=config, entry_points=False, local_plugins=[("audit", ex)])
    assert [p.middleware.name for p in mw.placed("connect", "/")] == ["audit"]
    async with serve(mw.asgi_app()) as url:
        _, data, _ = await connect_result(url)
    assert data == {"message": "address blocked", "data": {"code": "blocked"}}
    bad = Config(source="siomw.toml", core=CoreSettings(), tables={"audit": {"blockd": []}})
    with pytest.raises(Exception, match=r"siomw.toml: \[audit\] blockd: unknown key"):
        Siomw(socketio.AsyncServer(async_mode="asgi"), config=bad, entry_points=False,
              local_plugins=[("audit", ex)])


def test_plugin_example_installed_warns_of_nothing(tmp_path: Path) -> None:
    """plugin_audit.py installed as a distribution, without jwt (blocked): ``siomw plugins``
    and ``siomw chain`` print no warning: it declares its contract range, and its ``before
    jwt`` is ``if_present``."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "siomw_audit.py").write_text((EXAMPLES / "plugin_audit.py").read_text())
    info = site / "siomw_audit-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: siomw-audit\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[siomw]\naudit = siomw_audit\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIOMW_")}
    env.update(PYTHONPATH=str(site), SIOMW_DISABLE_PLUGINS="jwt")
    siomw = str(Path(sys.executable).parent / "siomw")
    for command in (["plugins", "--json"], ["chain", "--json"]):
        done = subprocess.run([siomw, *command], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stderr == "", done.stderr
    [audit] = [r for r in json.loads(subprocess.run(
        [siomw, "plugins", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120, check=True).stdout) if r["name"] == "audit"]
    assert (audit["status"], audit["contract"], audit["contract_declared"]) == (
        "enabled", ">=1.0,<2", True)


def test_configuration_example_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/examples/siomw.toml validates against the installed bundled plugins."""
    monkeypatch.setenv("SIOMW_JWT_SECRET", "a-secret-of-at-least-32-bytes-for-hs256!")
    monkeypatch.delenv("SIOMW_PLUGINS", raising=False)
    registry = Registry(load_config(EXAMPLES / "siomw.toml"))
    names = {r.name: r for r in registry.plugins()}
    for plugin in ("logging", "jwt", "ratelimit"):
        assert plugin in names, f"bundled plugin {plugin} is not installed"
        assert names[plugin].enabled, names[plugin].error




REPO = EXAMPLES.parent.parent
SECRET = "a-secret-of-at-least-32-bytes-for-hs256!"


def code_blocks(page: str, section: str, lang: str) -> list[str]:
    """The fenced ``lang`` blocks of the ``## section`` of a markdown page, as written."""
    text = (REPO / page).read_text()
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start:end if end != -1 else len(text)]
    return re.findall(rf"```{lang}\n(.*?)```", body, flags=re.S)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def shell_env() -> dict[str, str]:
    """A new shell's environment: this virtualenv first on PATH, no SIOMW_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIOMW_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


async def run_shell(script: str, cwd: Path, timeout: float = 60) -> str:
    """Run ``script`` in a new bash (``-euo pipefail``); return its stdout."""
    proc = await asyncio.create_subprocess_exec(
        "bash", "-euo", "pipefail", "-c", script, cwd=cwd, env=shell_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode == 0, err.decode()
    return out.decode()


@contextlib.asynccontextmanager
async def shell_server(script: str, command: str, cwd: Path) -> AsyncIterator[str]:
    """Run a documented server block in a new bash, its ``command`` line given ``--port`` (a
    free one; the only change), until the body is done; yield the server's URL."""
    port = free_port()
    pattern = rf"^{re.escape(command)}\b"
    assert re.search(pattern, script, flags=re.M), script
    script = re.sub(pattern, f"exec {command} --port {port}", script, flags=re.M)
    server = await asyncio.create_subprocess_exec(
        "bash", "-euo", "pipefail", "-c", script, cwd=cwd, env=shell_env(),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        for _ in range(200):  # bounded wait (20 s) for the server to listen
            assert server.returncode is None, "the server exited"
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        if server.returncode is None:
            server.terminate()
        await asyncio.wait_for(server.communicate(), 10)


async def test_readme_server_snippet_runs_as_written(tmp_path: Path) -> None:
    """README "Use it in your server": myapp.py as written, served by its first shell block,
    tokens from the second (another shell), with the bundled plugins installed: alice connects,
    the audit middleware refuses mallory (it runs inside jwt and reads socket.data["user"]),
    jwt refuses a client without a token."""
    [snippet] = code_blocks("README.md", "Use it in your server", "python")
    serve_block, token_block = code_blocks("README.md", "Use it in your server", "bash")
    (tmp_path / "myapp.py").write_text(snippet)
    async with shell_server(serve_block, "uvicorn myapp:app", tmp_path) as url:
        alice = (await run_shell(token_block, tmp_path)).strip()
        mallory_block = token_block.replace("--sub alice", "--sub mallory")
        mallory = (await run_shell(mallory_block, tmp_path)).strip()
        outcome, data, client = await connect_result(url, auth={"token": alice})
        assert (outcome, data) == ("connect", None)
        await client.disconnect()
        _, data, _ = await connect_result(url, auth={"token": mallory})
        assert data == {"message": "account suspended",
                        "data": {"code": "suspended", "sub": "mallory"}}
        _, data, _ = await connect_result(url)
        assert data == {"message": "Authentication required",
                        "data": {"code": "invalid_request", "detail": "missing_token"}}


async def test_try_the_demo_in_two_shells(tmp_path: Path) -> None:
    """docs/index.md "Try the demo": the first block (secret made once into a file, siomw serve)
    and the second, in another shell: its siomw token is accepted by that server, and siomw
    chain shows the engine chain and the connect chains."""
    serve_block, token_block = code_blocks("docs/index.md", "Try the demo", "bash")
    async with shell_server(serve_block, "siomw serve", tmp_path) as url:
        token, *chain = (await run_shell(token_block, tmp_path)).splitlines()
        assert "engine chain" in "\n".join(chain) and "connect chain of '/'" in "\n".join(chain)
        outcome, data, client = await connect_result(url, auth={"token": token})
        assert (outcome, data) == ("connect", None)
        assert (await client.call("whoami", timeout=5))["sub"] == "alice"
        await client.disconnect()


async def test_cli_chain_json_as_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/cli.md: `siomw chain --json` has the engine chain and each namespace's connect
    chain, rows of name, plugin, priority, reason; metrics (outermost, serving its page),
    logging-http and headers on the defaults."""
    monkeypatch.setenv("SIOMW_JWT_SECRET", SECRET)
    monkeypatch.delenv("SIOMW_PLUGINS", raising=False)
    shown = json.loads(await run_siomw("chain", "--json", cwd=Path.cwd()))
    assert list(shown) == ["engine", "connect", "event", "handlers"]
    rows = shown["engine"] + [row for level in ("connect", "event")
                              for chain in shown[level].values() for row in chain]
    assert all(list(row) == ["name", "plugin", "priority", "reason"] for row in rows)
    assert [row["name"] for row in shown["engine"]] == ["metrics", "logging-http", "headers"]
    assert sorted(shown["connect"]) == ["/", "/admin"]


# --- the site: mkdocs-material, and the API reference generated from the docstrings --------

@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``mkdocs build --strict`` of the repository's mkdocs.yml (once for this module): a
    broken docstring, a page outside the nav or a dead link fails it (the output says which).
    """
    site = tmp_path_factory.mktemp("site")
    mkdocs = Path(sys.executable).parent / "mkdocs"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(site)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return site


def reference_anchors(site: Path) -> set[str]:
    """The ids of the objects documented under docs/reference/ (mkdocstrings' headings)."""
    ids: set[str] = set()
    for page in (site / "reference").rglob("*.html"):
        ids |= set(re.findall(r'id="(siomw_core\.[\w.]+)"', page.read_text()))
    return ids


def test_site_builds_strict_with_the_whole_public_contract(site: Path) -> None:
    """The site builds with --strict; the API reference documents every name of
    siomw_core.__all__ and every hookspec, and its index page lists each public name."""
    import siomw_core
    from siomw_core import hookspecs

    anchors = reference_anchors(site)
    missing = [n for n in siomw_core.__all__ if f"siomw_core.{n}" not in anchors]
    assert not missing, f"public names not in the API reference (docs/reference/): {missing}"
    specs = [name for name, func in vars(hookspecs).items()
             if callable(func) and getattr(func, f"{hookspecs.PROJECT}_spec", None)]
    assert "siomw_middlewares" in specs
    undocumented = [s for s in specs if f"siomw_core.hookspecs.{s}" not in anchors]
    assert not undocumented, f"hookspecs not in the API reference: {undocumented}"
    index = (REPO / "docs" / "reference" / "index.md").read_text()
    unlisted = [n for n in siomw_core.__all__ if f"`{n}`" not in index]
    assert not unlisted, f"names missing from docs/reference/index.md's table: {unlisted}"


def test_site_is_material_with_copyable_highlighted_code(site: Path) -> None:
    """The built pages use mkdocs-material: a search index, code highlighted by Pygments
    (``class="highlight"`` with token spans) and copy buttons enabled."""
    assert (site / "search" / "search_index.json").is_file()
    page = (site / "plugins" / "writing" / "index.html").read_text()
    assert 'class="language-python highlight"' in page
    assert '<span class="kn">import</span>' in page
    assert '"content.code.copy"' in page  # material's config blob: copy buttons on code


async def test_publishing_build_block_builds_the_example_plugin(tmp_path: Path) -> None:
    """docs/plugins/publishing.md "Building and uploading": its first block, in a new shell in
    the directory of the example plugin of "Writing a plugin" (plugin_pyproject.toml and
    plugin_audit.py as siomw_audit.py), builds an sdist and a wheel that twine checks, and the
    wheel registers the entry point ``audit`` in the group ``siomw``."""
    import zipfile

    build_block = code_blocks("docs/plugins/publishing.md", "Building and uploading", "bash")[0]
    assert "twine upload" not in build_block  # uploading is a later block, never run here
    # twine 7 needs packaging>=26.1, which breaks coredis (siomw-ratelimit's, packaging<26)
    assert 'install build "twine<7"' in build_block
    project = tmp_path / "siomw-audit"
    project.mkdir()
    (project / "pyproject.toml").write_text((EXAMPLES / "plugin_pyproject.toml").read_text())
    (project / "siomw_audit.py").write_text((EXAMPLES / "plugin_audit.py").read_text())
    out = await run_shell(build_block, project, timeout=300)
    assert "PASSED" in out and "FAILED" not in out, out
    [wheel] = (project / "dist").glob("siomw_audit-0.1.0-*.whl")
    assert [p.name for p in (project / "dist").glob("*.tar.gz")] == ["siomw_audit-0.1.0.tar.gz"]
    with zipfile.ZipFile(wheel) as zf:
        entry_points = zf.read("siomw_audit-0.1.0.dist-info/entry_points.txt").decode()
    assert "[siomw]\naudit = siomw_audit" in entry_points


async def test_publishing_catalog_block_shows_the_catalog_entry(tmp_path: Path) -> None:
    """docs/plugins/publishing.md "What the catalog shows": its block prints the plugin's
    entry as the committed catalog page (docs/plugins/catalog.md) shows it."""
    [block] = code_blocks("docs/plugins/publishing.md", "What the catalog shows", "bash")
    out = await run_shell(block, tmp_path)

    def entry(page: str) -> str:
        return page[page.index("\n## headers\n"):].split("\n## ")[1]

    assert entry(out) == entry((REPO / "docs" / "plugins" / "catalog.md").read_text())


# --- "Writing a plugin": the scaffold and the pytest plugin, as the page shows them ---------

WRITING = "docs/plugins/writing.md"
FIVE_MINUTES = "A new plugin in five minutes"


def throwaway_venv(root: Path) -> Path:
    """A new virtualenv with siomw-core installed from this tree (a wheel built by pip, as
    from PyPI: package data and all) that also sees this one's packages (a ``.pth``: the
    dependencies and the bundled plugins, as a user's virtualenv has them). What ``pip
    install`` puts in it stays in it; the shared virtualenv is never written to."""
    import shutil
    import site
    import venv

    target = root / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(target)
    [own] = [p for p in (target / "lib").glob("python3*/site-packages")]
    here = site.getsitepackages()[0]
    # the plain line is what mypy reads; the import line runs the .pth files there (editables)
    (own / "_shared_venv.pth").write_text(f"{here}\nimport site; site.addsitedir({here!r})\n")
    python = target / "bin" / "python"
    for name in ("pip", "siomw", "pytest", "mypy"):  # console scripts, on the new python
        (target / "bin" / name).write_text(
            f"#!{python}\nimport sys\nfrom importlib.metadata import entry_points\n"
            f"[ep] = entry_points(group='console_scripts', name={name!r})\n"
            "sys.exit(ep.load()())\n")
        (target / "bin" / name).chmod(0o755)
    (target / "bin" / "ruff").symlink_to(Path(sys.executable).parent / "ruff")
    core = root / "siomw-core"
    core.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, core / name)
    shutil.copytree(REPO / "siomw_core", core / "siomw_core",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(core)],
                   check=True, capture_output=True, timeout=300)
    return target


def test_writing_scaffold_output_and_generated_test_as_shown(tmp_path: Path) -> None:
    """The page's ``text`` block is what ``siomw new-plugin blocklist`` prints, and the test it
    shows is the generated tests/test_connect.py, character for character."""
    from click.testing import CliRunner

    from siomw_core.cli import cli

    result = CliRunner().invoke(cli, ["new-plugin", "blocklist", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    page = (REPO / WRITING).read_text()
    section = page[page.index(f"\n## {FIVE_MINUTES}\n"):page.index("\n### What it writes\n")]
    [shown] = re.findall(r"```text\n(.*?)```", section, flags=re.S)
    printed = result.output.replace(f"{tmp_path}/", "")  # --dir: the page runs it in place
    assert printed.rstrip("\n") == textwrap.dedent(shown).rstrip("\n"), printed
    [test_block] = code_blocks(WRITING, "Testing it: the pytest plugin", "python")
    generated = (tmp_path / "siomw-blocklist" / "tests" / "test_connect.py").read_text()
    assert test_block == generated


async def test_writing_five_minutes_as_a_new_user(tmp_path: Path) -> None:
    """The page's five-minute block, as written, in a new shell and a new virtualenv (with
    siomw-core and the bundled plugins): the plugin is scaffolded, installed, listed enabled,
    placed in the connect chain, and its own tests, ruff and mypy pass."""
    from siomw_core import CONTRACT_VERSION

    [block] = code_blocks(WRITING, FIVE_MINUTES, "bash")
    env = throwaway_venv(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    shell = {**shell_env(), "SIOMW_JWT_SECRET": SECRET}  # step 3: jwt is installed here
    shell["PATH"] = f"{env / 'bin'}{os.pathsep}{shell['PATH']}"
    shell.pop("VIRTUAL_ENV", None)
    proc = await asyncio.create_subprocess_exec(
        "bash", "-euo", "pipefail", "-c", block, cwd=work, env=shell,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out_b, err_b = await asyncio.wait_for(proc.communicate(), 900)
    out, err = out_b.decode(), err_b.decode()
    assert proc.returncode == 0, out[-3000:] + err[-3000:]
    assert "created siomw-blocklist/: plugin 'blocklist' (connect)" in out
    listed = [line for line in out.splitlines() if line.startswith("│ blocklist ")]
    major = int(CONTRACT_VERSION.split(".")[0])
    declared = f">={CONTRACT_VERSION},<{major + 1}"  # what the scaffold writes for this core
    assert listed and "enabled" in listed[0] and declared in listed[0], out
    assert re.search(r"│ \d+ │ blocklist +│ blocklist +│ 1500 ", out), out  # placed by siomw chain
    assert re.search(r"\d+ passed", out) and " failed" not in out, out
    assert "Success: no issues found" in out  # mypy


def test_publishing_contract_example_loads_and_another_major_excludes_it() -> None:
    """docs/plugins/publishing.md "Versioning against the contract": the hook as shown loads
    as a plugin on this core (listed with its range), and the range it declares excludes a
    contract of another major (what refuses it there)."""
    from siomw_core.contract import supports

    [code] = code_blocks("docs/plugins/publishing.md", "Versioning against the contract",
                         "python")
    module = ModuleType("publishing_example")
    exec(compile(code, "publishing.md", "exec"), module.__dict__)
    config = Config(source="test", core=CoreSettings(), tables={})
    registry = Registry(config, entry_points=False, local_plugins=[("example", module)])
    [record] = [r for r in registry.plugins() if r.name == "example"]
    assert record.status == "enabled", record.error
    assert record.contract == ">=1.0,<2"
    assert supports(record.contract, "1.0") and not supports(record.contract, "2.0")


def test_publishing_naming_table_and_entry_point_are_the_scaffolds(tmp_path: Path) -> None:
    """docs/plugins/publishing.md: the naming table's ``audit-log`` column is what
    ``siomw new-plugin`` derives, and the entry-point block is in the pyproject.toml it writes
    for that name."""
    import tomllib

    from click.testing import CliRunner

    from siomw_core.cli import cli
    from siomw_core.scaffold.names import plugin_names

    page = (REPO / "docs" / "plugins" / "publishing.md").read_text()
    names = plugin_names("audit-log", check_installed=False)
    rows = re.findall(r"^\| (.+?) \| .+? \| `([^`]+)`.*\|$", page, flags=re.M)
    shown = {what: value for what, value in rows if what != "what"}
    assert list(shown.values()) == [names.distribution, names.package, names.plugin,
                                    names.env_prefix]
    [block] = code_blocks("docs/plugins/publishing.md", "The entry point", "toml")
    result = CliRunner().invoke(cli, ["new-plugin", "audit-log", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = tomllib.loads((tmp_path / "siomw-audit-log" / "pyproject.toml").read_text())
    assert tomllib.loads(block)["project"]["entry-points"] == written["project"]["entry-points"]
