"""siomw's pytest plugin, run by pytest itself (``pytester``): a plugin author's test file in
a project of its own, a pytest session each (the plugin loads from its ``pytest11`` entry
point), real servers of every kind and real clients."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from siomw_core.testing.servers import available_kinds
from tests.jsclient import JS_DIR

pytest_plugins = ["pytester"]

#: an in-code plugin with a member at each level, importable by the servers (the pytester
#: folder is on the test's sys.path, which the servers get as PYTHONPATH)
GUARD = '''
from siomw_core import Middleware, Refusal, hookimpl


async def connect(socket, call_next):
    if (socket.handshake.auth or {}).get("user") == "mallory":
        raise Refusal("banned", {"code": "banned"})
    await call_next()


async def event(event, call_next):
    if event.name == "forbidden":
        raise Refusal("not this one", {"code": "forbidden_event"})
    await call_next()


async def engine(request, call_next):
    if request.headers.get("x-deny") == "yes":
        raise Refusal("denied", {"code": "denied"}, status=401)
    await call_next()


@hookimpl
def siomw_middlewares(config, settings):
    return [Middleware(name="guard", func=connect, level="connect"),
            Middleware(name="guard-events", func=event, level="event"),
            Middleware(name="guard-http", func=engine, level="engine")]
'''

EVERY_LEVEL = '''
import guard
import pytest
from siomw_core.testing import assert_accepted, assert_refused


def test_levels(siomw_server, siomw_kind):
    server = siomw_server(plugins=[("guard", guard)])
    assert server.kind == siomw_kind
    assert_refused(server.connect(auth={"user": "mallory"}), code="banned", message="banned")
    assert_accepted(server.connect(auth={"user": "alice"}))
    assert_refused(server.connect(auth={"user": "mallory"}, namespace="/chat"), code="banned")
    with server.client(auth={"user": "alice"}) as client:
        assert client.call("echo", 1) == 1
        assert client.call("echo", "a", {"b": 2}) == ["a", {"b": 2}]
        assert_refused(client.call("forbidden", 1), code="forbidden_event")
        client.emit("forbidden", 2)
        assert_refused(client.next_error(), code="forbidden_event")
        assert client.connected
    handshake = "/socket.io/?EIO=4&transport=polling"
    assert_accepted(server.request("GET", handshake))
    assert_refused(server.request("GET", handshake, headers={"X-Deny": "yes"}),
                   code="denied", status=401)
    polling = server.connect(headers={"X-Deny": "yes"}, transport="polling")
    assert_refused(polling, code="denied", status=401)


@pytest.mark.siomw_kinds("asgi")
def test_config_dict(siomw_server):
    server = siomw_server(plugins=["ratelimit"], config={"ratelimit": {"connect": "1/minute"}})
    assert_accepted(server.connect())
    assert_refused(server.connect(), code="rate_limited")
'''


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """The inner run, in this process (a pytest session of its own, whose plugins load
    from their entry points, siomw's among them: ``pytest11``)."""
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:xdist",
                                        "-o", "asyncio_default_fixture_loop_scope=function",
                                        *args)


def test_every_kind(pytester: pytest.Pytester) -> None:
    """The author's tests pass on every installed kind, at every level."""
    pytester.makepyfile(guard=GUARD, test_guard=EVERY_LEVEL)
    result = run(pytester, "-v")
    kinds = available_kinds()
    result.assert_outcomes(passed=len(kinds) + 1)
    for kind in kinds:
        result.stdout.fnmatch_lines([f"*test_levels?{kind}? PASSED*"])
    result.stdout.fnmatch_lines([f"siomw kinds: {'; '.join(kinds)}*"])


def test_failing_assertion_is_readable(pytester: pytest.Pytester) -> None:
    """A wrong expectation says what was expected and what each client saw."""
    pytester.makepyfile(guard=GUARD, test_wrong='''
import guard
from siomw_core.testing import assert_accepted, assert_refused


def test_wrong_code(siomw_server):
    server = siomw_server(plugins=[("guard", guard)])
    assert_refused(server.connect(auth={"user": "mallory"}), code="rate_limited")


def test_accepted_expected(siomw_server):
    server = siomw_server(plugins=[("guard", guard)])
    assert_accepted(server.connect(auth={"user": "mallory"}))


def test_refused_expected(siomw_server):
    server = siomw_server(plugins=[("guard", guard)])
    with server.client() as client:
        assert_refused(client.call("echo", 1), code="banned")
''')
    result = run(pytester, "--siomw-kinds=asgi")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([
        "*AssertionError: expected refused with code='rate_limited'; got code 'banned': "
        "refused (connect): message='banned', data={'code': 'banned'}",
        "*AssertionError: expected accepted; got refused (connect): message='banned', "
        "data={'code': 'banned'}",
        "*AssertionError: expected refused with code='banned'; got it was accepted: "
        "accepted (event), data=1",
    ])


def test_kinds_option_and_marker(pytester: pytest.Pytester) -> None:
    """``--siomw-kinds`` picks the kinds, ``siomw_kinds`` narrows one test, a misspelt
    kind is a usage error naming where it came from."""
    pytester.makepyfile(test_kinds='''
import pytest


def test_any(siomw_kind):
    assert siomw_kind in ("asgi", "threading")


@pytest.mark.siomw_kinds("threading")
def test_only_threading(siomw_kind):
    assert siomw_kind == "threading"
''')
    result = run(pytester, "-v", "--siomw-kinds=asgi,threading")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_only_threading?threading? PASSED*"])
    pytester.makeini("[pytest]\nsiomw_kinds = asgi\n")
    result = run(pytester, "-v")
    result.assert_outcomes(passed=1, skipped=1)  # test_only_threading: an empty set
    bad = run(pytester, "--siomw-kinds=asgi,tornado")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--siomw-kinds: unknown kind 'tornado'; expected some of "
                              "asgi, aiohttp, threading, gevent, flask or 'all'*"])
    alone = run(pytester, "--siomw-kinds=all,asgi")
    assert alone.ret == pytest.ExitCode.USAGE_ERROR
    alone.stderr.fnmatch_lines(["ERROR: --siomw-kinds: 'all' must stand alone (it means every "
                                "kind); got it with 'asgi'"])
    assert "expected some of" not in alone.stderr.str()


def test_a_misspelt_kind_in_the_marker_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """``@pytest.mark.siomw_kinds("asgii")`` is the same usage error as ``--siomw-kinds``'s,
    naming the marker and the test, not a silent skip ("got empty parameter set")."""
    pytester.makepyfile(test_typo='''
import pytest


@pytest.mark.siomw_kinds("asgii")
def test_typo(siomw_kind):
    pass
''')
    bad = run(pytester, "--siomw-kinds=asgi")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR, bad.stdout.str()
    bad.stderr.fnmatch_lines(["ERROR: @pytest.mark.siomw_kinds of test_typo.py::test_typo: "
                              "unknown kind 'asgii'; expected some of asgi, aiohttp, "
                              "threading, gevent, flask"])
    assert "empty parameter set" not in bad.stdout.str() + bad.stderr.str()


def test_start_failure_is_the_servers_message(pytester: pytest.Pytester) -> None:
    """A bad config fails the test with siomw's own one-line error, not a timeout."""
    pytester.makepyfile(test_bad='''
def test_bad(siomw_server):
    siomw_server(plugins=["ratelimit"], config={"ratelimit": {"connect": "often"}})
''')
    result = run(pytester, "--siomw-kinds=asgi")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the asgi server (siomw_core.testing.apps:asgi) exited*",
                                 "*ratelimit*connect*"])


def test_bad_arguments_name_siomw_server(pytester: pytest.Pytester) -> None:
    """A plugin no one installed and a value TOML cannot hold fail the test with one line
    naming ``siomw_server``'s argument, not SIOMW_PLUGINS nor a traceback of tomli-w's."""
    pytester.makepyfile(test_args='''
def test_unknown_plugin(siomw_server):
    siomw_server(plugins=["nosuch"])


def test_null_value(siomw_server):
    siomw_server(plugins=["ratelimit"], config={"ratelimit": {"connect": None}})
''')
    result = run(pytester, "--siomw-kinds=asgi")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "siomw_server(plugins=...): plugins: no installed plugin is named 'nosuch'; expected "
        "one of: *ratelimit*",
        "*test_null_value*",
        "siomw_server(config=...): config['ratelimit']['connect']: None cannot be "
        "written to siomw.toml (TOML has no null; leave the key out for its default)",
    ])
    shown = result.stdout.str()
    assert "SIOMW_PLUGINS" not in shown and "tomli_w" not in shown
    assert "During handling" not in shown and "Traceback" not in shown


@pytest.mark.skipif(shutil.which("node") is None or not (JS_DIR / "node_modules").is_dir(),
                    reason="node and tests/js/node_modules are needed")
def test_js_client(pytester: pytest.Pytester) -> None:
    """The JS client connects, is refused with the refusal's data, and gets acks."""
    pytester.makepyfile(guard=GUARD, test_js='''
import guard
from siomw_core.testing import assert_accepted, assert_refused


def test_js(siomw_server, js_client):
    server = siomw_server(plugins=[("guard", guard)])
    assert_refused(js_client.connect(server.url, auth={"user": "mallory"}), code="banned")
    assert_accepted(js_client.connect(server.url, auth={"user": "alice"}))
    assert js_client.call(server.url, "echo", 1, 2) == [1, 2]
    assert_refused(js_client.call(server.url, "forbidden"), code="forbidden_event")
    refused = js_client.connect(server.url, headers={"X-Deny": "yes"}, transport="polling")
    assert_refused(refused, status=401)
''')
    env = {"SIOMW_JS_MODULES": str(JS_DIR / "node_modules")}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        result = run(pytester, "--siomw-kinds=asgi,threading")
    result.assert_outcomes(passed=2)


def test_js_client_without_node(pytester: pytest.Pytester) -> None:
    """Without Node the JS test is skipped, saying why; with CI=true it fails."""
    pytester.makepyfile(test_js='''
def test_js(js_client):
    raise AssertionError("not reached")
''')
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", os.path.dirname(sys.executable))  # no node there
        patch.delenv("CI", raising=False)
        skipped = run(pytester, "-rs")
        patch.setenv("CI", "true")
        failed = run(pytester)
    skipped.assert_outcomes(skipped=1)
    skipped.stdout.fnmatch_lines(["*Node (node) is not on PATH*"])
    failed.assert_outcomes(errors=1)
    failed.stdout.fnmatch_lines(["*CI=true and the JS client is unavailable*"])
