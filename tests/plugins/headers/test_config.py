"""The [headers] table: override, removal, extra headers, and the errors that name the key,
including values that would inject a header (CR/LF)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
import siomw_headers
import socketio
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from siomw_core import Config, ConfigError, CoreSettings, attach, load_config
from siomw_core.testing import serve

from .support import DEFAULTS, OTHER_ORIGIN, POLLING, make_server, raw_request


def attach_with(table: dict[str, Any]) -> None:
    """Attach the plugin to a new server with ``table`` as its [headers] table."""
    sio = socketio.AsyncServer(async_mode="asgi")
    attach(sio, config=Config(source="siomw.toml", core=CoreSettings(),
                              tables={"headers": table}),
           entry_points=False, local_plugins=[("headers", siomw_headers)])


async def served_headers(table: dict[str, Any]) -> list[tuple[str, str]]:
    """The (lower-case name, value) pairs of a handshake response with ``table``."""
    _, mw = make_server(table)
    async with serve(mw.asgi_app()) as url, aiohttp.ClientSession() as http, \
            http.get(url + POLLING, headers={"Origin": OTHER_ORIGIN}) as resp:
        assert resp.status == 200
        return [(n.decode().lower(), v.decode()) for n, v in resp.raw_headers]


async def test_override_and_remove() -> None:
    """A key's value replaces the default; false and "" leave the header out."""
    got = await served_headers({
        "x_frame_options": "DENY",
        "content_security_policy": "default-src 'none'",
        "referrer_policy": "no-referrer, strict-origin-when-cross-origin",
        "cross_origin_resource_policy": False,
        "x_download_options": "",
    })
    names = [n for n, _ in got]
    values = dict(got)
    assert values["x-frame-options"] == "DENY" and names.count("x-frame-options") == 1
    assert values["content-security-policy"] == "default-src 'none'"
    assert values["referrer-policy"] == "no-referrer, strict-origin-when-cross-origin"
    assert "cross-origin-resource-policy" not in names
    assert "x-download-options" not in names
    assert values["x-content-type-options"] == "nosniff"  # the others stay


async def test_remove_every_header() -> None:
    """With every key false the plugin adds nothing (and the engine still answers)."""
    got = await served_headers({key: False for key in siomw_headers.HEADER_OF})
    assert not {n for n, _ in got} & {*DEFAULTS, "strict-transport-security"}
    assert ("content-type", "text/plain; charset=UTF-8") in got


async def test_extra_headers() -> None:
    """extra adds headers, after the defaults, on responses and refusals."""
    table = {"extra": {"X-Custom": "v", "Permissions-Policy": "camera=(), geolocation=()"}}
    got = await served_headers(table)
    assert ("x-custom", "v") in got
    assert ("permissions-policy", "camera=(), geolocation=()") in got
    names = [n for n, _ in got]
    assert names.index("x-custom") > names.index("x-permitted-cross-domain-policies")
    _, mw = make_server(table)
    async with serve(mw.asgi_app()) as url:
        status, refused, _ = await raw_request(url, f"GET {POLLING}&deny=1 HTTP/1.1")
    assert status == 401 and ("X-Custom".lower(), "v") in [(n.lower(), v) for n, v in refused]


def test_defaults_are_documented_values() -> None:
    """The embedded defaults are the documented ones (helmet's, CSP for non-documents)."""
    plain, secure = siomw_headers.build_headers(siomw_headers.HeadersOptions())
    assert {n.lower(): v for n, v in plain} == DEFAULTS
    assert {n.lower(): v for n, v in secure} == {
        **DEFAULTS, "strict-transport-security": "max-age=15552000; includeSubDomains"}
    assert len(secure) == len(plain) + 1


def test_lists_built_once() -> None:
    """Without HSTS the plain and secure lists are one tuple; the member only appends it."""
    options = siomw_headers.HeadersOptions.model_validate({"strict_transport_security": False})
    plain, secure = siomw_headers.build_headers(options)
    assert plain is secure and isinstance(plain, tuple)


@pytest.mark.parametrize(("table", "key", "expected"), [
    ({"content_security_policy": "default-src 'none'\r\nSet-Cookie: a=b"},
     "content_security_policy", "CR, LF or other control characters"),
    ({"content_security_policy": "a\nb"}, "content_security_policy", "'\\n'"),
    ({"strict_transport_security": "max-age=1\r\nX: y"}, "strict_transport_security",
     "'\\r'"),
    ({"referrer_policy": "no-referrer\r\nX-Evil: 1"}, "referrer_policy",
     "control characters"),
    ({"extra": {"X-Custom": "v\r\nSet-Cookie: session=evil"}}, "extra",
     "header 'X-Custom': a header value of visible ASCII"),
    ({"extra": {"X-Custom": "v\x00"}}, "extra", "'\\x00'"),
    ({"extra": {"X-Custom": "caf\u00e9"}}, "extra", "visible ASCII"),
    ({"extra": {"X-Evil\r\nSet-Cookie": "v"}}, "extra",
     "header 'X-Evil\\r\\nSet-Cookie': a header name"),
    ({"extra": {"X Custom": "v"}}, "extra", "token characters"),
    ({"extra": {"Content-Type": "text/html"}}, "extra", "the engine's"),
    ({"extra": {"Access-Control-Allow-Origin": "*"}}, "extra", "the engine's"),
    ({"extra": {"Set-Cookie": "a=b"}}, "extra", "the engine's"),
    ({"extra": {"x-frame-options": "DENY"}}, "extra", "the key 'x_frame_options'"),
    ({"extra": {"X-A": "1", "x-a": "2"}}, "extra", "the same header twice"),
    ({"extra": {"X-A": ""}}, "extra", "non-empty value"),
    ({"extra": ["X-A", "1"]}, "extra", "valid dictionary"),
    ({"x_frame_options": "ALLOW-FROM https://evil.example"}, "x_frame_options",
     "'DENY', 'SAMEORIGIN' or ''"),
    ({"x_frame_options": True}, "x_frame_options", "or false to remove"),
    ({"x_content_type_options": 0}, "x_content_type_options", "or false to remove"),
    ({"cross_origin_resource_policy": "same-origin\r\nX: y"},
     "cross_origin_resource_policy", "'same-origin', 'same-site', 'cross-origin'"),
    ({"strict_transport_security": "includeSubDomains"}, "strict_transport_security",
     "max-age=<seconds>"),
    ({"strict_transport_security": " max-age=5"}, "strict_transport_security",
     "leading or trailing whitespace"),
    ({"referrer_policy": "everywhere"}, "referrer_policy", "referrer policies"),
    ({"content_security_policy": ["default-src 'none'"]}, "content_security_policy",
     "a string, or false"),
    ({"x_xss_protection": "0"}, "x_xss_protection", "unknown key"),
])
def test_bad_values_name_the_key(table: dict[str, Any], key: str, expected: str) -> None:
    """A bad value stops startup with a ConfigError naming file, table, key and the rule."""
    with pytest.raises(ConfigError) as info:
        attach_with(table)
    message = str(info.value)
    assert f"siomw.toml: [headers] {key}" in message
    assert expected in message
    assert "\n" not in message  # a hostile value is shown escaped, never raw


def test_env_overrides(tmp_path: Path) -> None:
    """SIOMW_HEADERS__<KEY> overrides a key: false removes, JSON sets extra; an injected
    CR/LF names the environment variable."""
    config = load_config(environ={
        "SIOMW_HEADERS__X_FRAME_OPTIONS": "DENY",
        "SIOMW_HEADERS__CROSS_ORIGIN_RESOURCE_POLICY": "false",
        "SIOMW_HEADERS__EXTRA": '{"X-Custom": "v"}',
    })
    sio = socketio.AsyncServer(async_mode="asgi")
    mw = attach(sio, config=config, entry_points=False, local_plugins=[("headers", siomw_headers)])
    options = mw.registry.records["headers"].options
    assert isinstance(options, siomw_headers.HeadersOptions)
    assert options.x_frame_options == "DENY"
    assert options.cross_origin_resource_policy == ""
    assert options.extra == {"X-Custom": "v"}
    bad = load_config(environ={"SIOMW_HEADERS__CONTENT_SECURITY_POLICY": "a\r\nb: c"})
    with pytest.raises(ConfigError, match="environment variable "
                       "SIOMW_HEADERS__CONTENT_SECURITY_POLICY: \\[headers\\] "
                       "content_security_policy"):
        attach(socketio.AsyncServer(async_mode="asgi"), config=bad, entry_points=False,
               local_plugins=[("headers", siomw_headers)])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_no_accepted_value_can_inject(value: str) -> None:
    """Whatever string is configured, an accepted value has no CR, LF or other control
    character: header injection cannot come through the config."""
    for field in ("content_security_policy", "referrer_policy", "strict_transport_security"):
        try:
            options = siomw_headers.HeadersOptions.model_validate({field: value})
        except ValidationError:
            continue
        accepted = getattr(options, field)
        assert all(ch == "\t" or " " <= ch <= "~" for ch in accepted)
    try:
        options = siomw_headers.HeadersOptions.model_validate({"extra": {value or "X": "v",
                                                                          "X-V": value}})
    except ValidationError:
        return
    for name, header_value in options.extra.items():
        assert all(ch == "\t" or " " <= ch <= "~" for ch in header_value)
        assert all("!" <= ch <= "~" and ch not in '"(),/:;<=>?@[\\]{}' for ch in name)
