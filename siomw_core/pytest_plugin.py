"""siomw's pytest plugin (registered under ``pytest11``): real servers of every kind, real
clients, and assertions for refusals at each level (``docs/plugins/testing.md``).

Fixtures:

- ``siomw_server``: a factory, ``siomw_server(plugins=[...], config={...})`` starts a real
  server of the test's kind on a free loopback port and returns a
  :class:`siomw_core.testing.servers.Server`; a test that asks for it runs once per kind
  selected (``siomw_kind``);
- ``siomw_kind``: the kind of this run of the test;
- ``js_client``: a :class:`siomw_core.testing.js.JsClient` (skipped without Node; a
  failure when ``CI`` is ``"true"``).

Kinds: ``--siomw-kinds=asgi,threading`` (or ``all``), else the ``siomw_kinds`` ini option,
else every kind whose packages are installed; ``@pytest.mark.siomw_kinds("asgi", ...)``
narrows one test. This module imports only pytest: the rest is imported when a fixture is
used, so that the plugin costs nothing in other projects' runs.
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from siomw_core.testing.js import JsClient
    from siomw_core.testing.servers import Server

__all__ = ["ServerFactory"]

#: every kind, in parametrisation order (siomw_core.testing.servers.KINDS, unimported)
ALL_KINDS = ("asgi", "aiohttp", "threading", "gevent", "flask")
#: shared servers kept running per module; the least recently used one stops past it
SHARED_LIMIT = 4


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("siomw", "siomw servers and clients")
    group.addoption("--siomw-kinds", dest="siomw_kinds", default=None, metavar="KINDS",
                    help="server kinds siomw_server runs each test on, comma-separated "
                         f"({', '.join(ALL_KINDS)}) or 'all' (default: the installed ones)")
    parser.addini("siomw_kinds", "server kinds siomw_server runs each test on (comma- or "
                  "space-separated, or 'all')", default="all")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "siomw_kinds(*kinds): run this siomw_server test on these kinds only")
    _selected(config)  # a misspelt kind is a usage error at once


def _selected(config: pytest.Config) -> list[str]:
    """The kinds asked for (every one in ALL_KINDS, installed or not).

    Raises:
        pytest.UsageError: an unknown kind, naming the option or ini it came from.
    """
    option = config.getoption("siomw_kinds", None)
    raw, source = (option, "--siomw-kinds") if option else (config.getini("siomw_kinds"),
                                                            "siomw_kinds (ini)")
    text = " ".join(raw) if isinstance(raw, list) else str(raw)
    names = [n for n in text.replace(",", " ").split() if n]
    if not names or names == ["all"]:
        return list(ALL_KINDS)
    _check_kinds(names, source, all_allowed=True)
    return [n for n in ALL_KINDS if n in names]


def _check_kinds(names: Sequence[str], source: str, *, all_allowed: bool) -> None:
    """Every one of ``names`` is a kind (``all`` alone is handled by the caller).

    Raises:
        pytest.UsageError: one line naming ``source`` (the option, the ini or the marker):
            an unknown kind, or ``all`` beside kinds (it already means every one).
    """
    if all_allowed and "all" in names:
        others = ", ".join(repr(n) for n in names if n != "all")
        raise pytest.UsageError(f"{source}: 'all' must stand alone (it means every kind); "
                                f"got it with {others}")
    unknown = [n for n in names if n not in ALL_KINDS]
    if unknown:
        alternatives = " or 'all'" if all_allowed else ""
        raise pytest.UsageError(f"{source}: unknown kind {', '.join(map(repr, unknown))}; "
                                f"expected some of {', '.join(ALL_KINDS)}{alternatives}")


def _explicit(config: pytest.Config) -> bool:
    """Kinds were named (not ``all``): a named kind that cannot run is skipped, saying
    why, instead of left out."""
    option = config.getoption("siomw_kinds", None)
    raw = option or config.getini("siomw_kinds")
    text = " ".join(raw) if isinstance(raw, list) else str(raw)
    return text.strip() not in ("", "all")


def pytest_report_header(config: pytest.Config) -> str:
    from siomw_core.testing.servers import KINDS, missing

    parts = []
    for name in _selected(config):
        lacking = missing(name)
        parts.append(name if not lacking else
                     f"{name} (not installed: {', '.join(lacking)}; "
                     f"pip install 'siomw-core[{KINDS[name].extra}]')")
    return f"siomw kinds: {'; '.join(parts)}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "siomw_kind" not in metafunc.fixturenames:
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if "siomw_kind" in (names if isinstance(names, (list, tuple)) else
                            [n.strip() for n in str(names).split(",")]):
            return  # the test chose its kinds itself
    from siomw_core.testing.servers import KINDS, missing

    config = metafunc.config
    kinds = _selected(config)
    for marker in metafunc.definition.iter_markers("siomw_kinds"):
        # a misspelt kind leaves no kind: pytest_collection_modifyitems says so
        kinds = [k for k in kinds if k in marker.args]
    params = []
    for kind in kinds:
        lacking = missing(kind)
        if not lacking:
            params.append(pytest.param(kind, id=kind))
        elif _explicit(config):
            reason = (f"kind {kind} needs {', '.join(lacking)}: "
                      f"pip install 'siomw-core[{KINDS[kind].extra}]'")
            params.append(pytest.param(kind, id=kind, marks=pytest.mark.skip(reason=reason)))
    # module scope: pytest groups a module's tests by kind, so that shared servers of one
    # kind are reused back to back
    metafunc.parametrize("siomw_kind", params, scope="module")


@pytest.fixture(scope="module")
def siomw_kind() -> str:
    """The server kind of this run of the test (parametrised by the plugin)."""
    raise pytest.UsageError("siomw_kind is parametrised by siomw's plugin; a test that "
                            "parametrises it itself must give values")


class _Shared:
    """A module's shared servers, by their arguments; at most SHARED_LIMIT run."""

    def __init__(self) -> None:
        self.servers: OrderedDict[str, Server] = OrderedDict()

    def get(self, key: str) -> Server | None:
        server = self.servers.get(key)
        if server is not None and server.running:
            self.servers.move_to_end(key)
            return server
        return None

    def put(self, key: str, server: Server) -> None:
        self.servers[key] = server
        while len(self.servers) > SHARED_LIMIT:
            _, oldest = self.servers.popitem(last=False)
            oldest.stop(wait=False)

    def close(self) -> None:
        for server in self.servers.values():
            server.stop(wait=False)
        self.servers.clear()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A misspelt kind in ``@pytest.mark.siomw_kinds`` is the usage error a misspelt
    ``--siomw-kinds`` is (at collection's end, where pytest reports it in one line; raised
    while parametrising it would be a collection error with a traceback), not a skip
    ("got empty parameter set").

    Raises:
        pytest.UsageError: naming the marker and the test.
    """
    for item in items:
        for marker in item.iter_markers("siomw_kinds"):
            test = item.nodeid.split("[", 1)[0]
            _check_kinds([str(a) for a in marker.args],
                         f"@pytest.mark.siomw_kinds of {test}", all_allowed=False)


@pytest.fixture(scope="module")
def _siomw_shared() -> Iterator[_Shared]:
    shared = _Shared()
    yield shared
    shared.close()


class ServerFactory:
    """``siomw_server``: call it to start a server of the test's kind.

    Servers it started stop when the test ends; ``shared=True`` ones when the module ends.
    """

    def __init__(self, kind: str, directory: Path, shared: _Shared) -> None:
        self.kind = kind
        self.directory = directory
        self._shared = shared
        self._own: list[Server] = []

    def __call__(self, *, plugins: Sequence[object] | None = None,
                 config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
                 app: str | None = None, env: Mapping[str, str] | None = None,
                 strict: bool | None = True, shared: bool = False,
                 args: Sequence[str] = ()) -> Server:
        """Start a server of this test's kind (:func:`siomw_core.testing.servers.start`)
        and return it once it listens on 127.0.0.1.

        Args:
            plugins: installed plugins' names (``["ratelimit"]``), ``(name, plugin)``
                pairs or modules (in-code plugins, importable by the server): the
                allow-list. None: a dict config's ``plugins``, a file's own, else none.
            config: the plugins' tables and core keys as a dict (written as ``siomw.toml``),
                or a path to a ``siomw.toml``.
            app: ``module:attribute`` of an application of this kind of the test's own;
                default: one that accepts every namespace and acks every event with its
                arguments.
            env: environment variables of the server (secrets).
            strict: siomw's ``strict`` (default True: a plugin that cannot load fails the
                start); None leaves it to the config.
            shared: reuse a server started with the same arguments earlier in this module
                (its state, such as spent rate-limit budgets, carries over).
            args: more options of ``siomw serve``.

        The start failing (a config error) fails the test with the server's own message; an
        argument it cannot start with (a plugin not installed, a config value TOML cannot
        hold) fails it with one line naming ``siomw_server(ARGUMENT=...)`` and the place.
        """
        from siomw_core.testing.arguments import BadArgument
        from siomw_core.testing.servers import ServerError, start

        key = repr((self.kind, plugins, _canonical(config), app, _canonical(env), strict,
                    list(args)))
        if shared:
            running = self._shared.get(key)
            if running is not None:
                return running
        folder = self.directory / f"server{len(self._own) + len(self._shared.servers)}"
        folder.mkdir(parents=True, exist_ok=True)
        failure = ""
        try:
            server = start(self.kind, folder, app=app, plugins=plugins, config=config,
                           env=env, strict=strict, args=args)
        except ServerError as exc:
            failure = str(exc)
        except BadArgument as exc:
            failure = exc.said_by("siomw_server")
        if failure:  # outside the except: the report is the one line, not a chained one
            pytest.fail(failure, pytrace=False)
        if shared:
            self._shared.put(key, server)
        else:
            self._own.append(server)
        return server

    def close(self) -> None:
        """Stop the servers this test started (not the shared ones)."""
        for server in self._own:
            server.stop(wait=False)  # awaited at the session's end (reap)
        self._own.clear()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if "siomw_core.testing.servers" in sys.modules:
        sys.modules["siomw_core.testing.servers"].reap()


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return sorted((str(k), _canonical(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


@pytest.fixture
def siomw_server(siomw_kind: str, tmp_path: Path,
                 _siomw_shared: _Shared) -> Iterator[ServerFactory]:
    """A factory of real servers of the test's kind (see :class:`ServerFactory`)."""
    factory = ServerFactory(siomw_kind, tmp_path, _siomw_shared)
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def _siomw_js(pytestconfig: pytest.Config) -> JsClient | str:
    """The JS client, or why there is none."""
    import shutil

    from siomw_core.testing.js import JsClient, JsUnavailable, find_modules, install_modules

    node = shutil.which("node")
    if node is None:
        return "Node (node) is not on PATH: the JS client cannot run"
    modules = find_modules(pytestconfig.rootpath) or find_modules(Path.cwd())
    if modules is None:
        try:
            modules = install_modules(lambda line: _say(pytestconfig, line))
        except JsUnavailable as exc:
            return str(exc)
    return JsClient(node, modules)


def _say(config: pytest.Config, line: str) -> None:
    """Show ``line`` to the user now, through pytest's capture."""
    capture = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")
    if capture is None or reporter is None:
        print(line, file=sys.stderr)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


@pytest.fixture
def js_client(_siomw_js: JsClient | str) -> JsClient:
    """The JS ``socket.io-client`` (``js_client.connect(server.url, auth=...)``). Without
    Node or the client the test is skipped, and fails when the environment variable ``CI``
    is ``"true"`` (a CI run must not pass by skipping)."""
    if isinstance(_siomw_js, str):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and the JS client is unavailable: {_siomw_js}", pytrace=False)
        pytest.skip(_siomw_js)
    return _siomw_js
