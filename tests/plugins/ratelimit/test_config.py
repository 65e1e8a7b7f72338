"""Configuration of [ratelimit]: defaults, and errors that name table, key, expected, found."""

from __future__ import annotations

from typing import Any

import pytest
import siomw_ratelimit
import socketio
from siomw_ratelimit.options import RateLimitOptions, async_storage_uri, redacted_uri

from siomw_core import Config, ConfigError, CoreSettings, attach


def build(table: dict[str, Any]) -> None:
    """Attach the plugin with ``table`` as its [ratelimit] table (config file 'siomw.toml')."""
    sio = socketio.AsyncServer(async_mode="asgi")
    config = Config(source="siomw.toml", core=CoreSettings(), tables={"ratelimit": table})
    attach(sio, config=config, entry_points=False, local_plugins=[("ratelimit", siomw_ratelimit)])


def test_defaults() -> None:
    """The embedded defaults: 60/minute per IP, moving window, memory, fail open, no HTTP
    limit (handshakes would count, no headers on allowed responses)."""
    options = RateLimitOptions()
    assert options.model_dump() == {
        "connect": "60/minute", "key": "ip", "strategy": "moving-window",
        "storage": "memory://", "key_prefix": "siomw", "per_namespace": False,
        "on_storage_error": "open", "storage_timeout": 1.0, "redis_client": "coredis",
        "http": None, "http_requests": "handshake", "headers": False,
        "event": None, "event_key": "sid", "events": {},
    }
    assert [str(item) for item in options.items()] == ["60 per 1 minute"]
    assert options.http_items() == ()
    assert options.event_items() == ()
    assert options.events_items() == {}


@pytest.mark.parametrize(("table", "expected"), [
    ({"connect": "lots"}, "[ratelimit] connect: expected a rate limit string such as '60/minute'"),
    ({"connect": "0/minute"}, "[ratelimit] connect: expected a rate limit of at least 1; "
                              "found '0/minute' (str)"),
    ({"connect": 60}, "[ratelimit] connect: expected Input should be a valid string; "
                      "found 60 (int)"),
    ({"strategy": "leaky-bucket"}, "[ratelimit] strategy: expected Input should be "
                                   "'fixed-window', 'moving-window' or 'sliding-window-counter'; "
                                   "found 'leaky-bucket' (str)"),
    ({"storage": "ftp://127.0.0.1"}, "[ratelimit] storage: expected a limits storage URI"),
    ({"storage": "localhost:6379"}, "[ratelimit] storage: expected a limits storage URI"),
    ({"key": "token"}, "[ratelimit] key: expected Input should be 'ip' or 'user'; "
                       "found 'token' (str)"),
    ({"on_storage_error": "ignore"}, "[ratelimit] on_storage_error: expected Input should be "
                                     "'open' or 'closed'; found 'ignore' (str)"),
    ({"key_prefix": ""}, "[ratelimit] key_prefix: expected"),
    ({"storage_timeout": -1}, "[ratelimit] storage_timeout: expected"),
    ({"limit": "3/minute"},
     "[ratelimit] limit: unknown key; expected a known key (connect, event, event_key, events, "
     "headers, http,"),
    ({"http": "lots"}, "[ratelimit] http: expected a rate limit string such as '60/minute'"),
    ({"http": "0/minute"}, "[ratelimit] http: expected a rate limit of at least 1; "
                           "found '0/minute' (str)"),
    ({"http": 100}, "[ratelimit] http: expected Input should be a valid string; found 100 (int)"),
    ({"http": ""}, "[ratelimit] http: expected a rate limit string"),
    ({"http_requests": "polling"}, "[ratelimit] http_requests: expected Input should be "
                                   "'handshake' or 'all'; found 'polling' (str)"),
    ({"headers": "maybe"}, "[ratelimit] headers: expected Input should be a valid boolean"),
    ({"http_limit": "9/minute"}, "[ratelimit] http_limit: unknown key; expected a known key"),
    ({"event": "often"}, "[ratelimit] event: expected a rate limit string such as '60/minute'"),
    ({"event": "0/second"}, "[ratelimit] event: expected a rate limit of at least 1; "
                            "found '0/second' (str)"),
    ({"event_key": "token"}, "[ratelimit] event_key: expected Input should be 'sid', 'user' "
                             "or 'ip'; found 'token' (str)"),
    ({"events": ["chat message"]}, "[ratelimit] events: expected Input should be a valid "
                                   "dictionary"),
])
def test_bad_values_name_table_key_expected_found(table: dict[str, Any], expected: str) -> None:
    """Each bad value fails startup with a message naming file, table, key, expected, found."""
    with pytest.raises(ConfigError) as info:
        build(table)
    message = str(info.value)
    assert message.startswith("siomw.toml: ")
    assert expected in message
    if "unknown key" not in message:
        assert f"found {next(iter(table.values()))!r}" in message


@pytest.mark.parametrize(("rate", "expected"), [
    ("fast", ": expected a rate limit string such as '60/minute'"),
    ("0/second", ": expected a rate limit of at least 1"),
])
def test_bad_event_rate_names_the_event(rate: str, expected: str) -> None:
    """A bad ``[ratelimit.events]`` value names the table and the event key, and shows
    only the bad value (not the whole table)."""
    with pytest.raises(ConfigError) as info:
        build({"events": {"chat message": rate}})
    message = str(info.value)
    assert message.startswith("siomw.toml: [ratelimit] events.")
    assert "chat message" in message
    assert expected in message
    assert message.endswith(f"; found {rate!r} (str)")


def test_event_keys_parse() -> None:
    """event and events take limits' notation (several with ";"); event_key its values."""
    options = RateLimitOptions(event="20/second;100/minute", event_key="user",
                               events={"chat message": "5/second"})
    assert [str(item) for item in options.event_items()] == ["20 per 1 second",
                                                             "100 per 1 minute"]
    assert {name: [str(i) for i in items] for name, items in options.events_items().items()} \
        == {"chat message": ["5 per 1 second"]}
    build({"event": "20/second", "event_key": "ip", "events": {"admin:kick": "1/minute"}})


def test_http_keys_parse() -> None:
    """http takes limits' notation (several with ";"); http_requests and headers their values."""
    options = RateLimitOptions(http="10/second;100 per 1 minute", http_requests="all",
                               headers=True)
    assert [str(item) for item in options.http_items()] == ["10 per 1 second",
                                                            "100 per 1 minute"]
    build({"http": "5/minute", "http_requests": "all", "headers": True, "key": "user"})


def test_bad_storage_lists_the_schemes() -> None:
    """An unknown storage scheme names the plain schemes one may write."""
    with pytest.raises(ConfigError, match=r"memory://, .*redis://.*; found 'ftp://x' \(str\)"):
        build({"storage": "ftp://x"})


def test_storage_without_moving_window_is_a_config_error() -> None:
    """memcached has no moving window: startup names strategy and storage."""
    with pytest.raises(ConfigError, match=r"siomw.toml: \[ratelimit\]: (strategy|storage): "):
        build({"storage": "memcached://127.0.0.1:11211", "strategy": "moving-window"})


@pytest.mark.parametrize(("given", "used"), [
    ("memory://", "async+memory://"),
    ("redis://127.0.0.1:6379/0", "async+redis://127.0.0.1:6379/0"),
    ("rediss://h:6380", "async+rediss://h:6380"),
    ("redis+sentinel://h:26379/mymaster", "async+redis+sentinel://h:26379/mymaster"),
    ("async+redis://h:1", "async+redis://h:1"),
    ("valkey://h:1", "async+valkey://h:1"),
])
def test_storage_uris_map_to_async_schemes(given: str, used: str) -> None:
    """Plain limits URIs are mapped to their limits.aio (async+) scheme; async+ is kept."""
    assert async_storage_uri(given) == used


def test_passwords_are_redacted_for_logs() -> None:
    """redacted_uri hides the password of a storage URI (log lines name the storage)."""
    assert redacted_uri("redis://user:s3cret@h:6379/0") == "redis://user:***@h:6379/0"
    assert redacted_uri("redis://:s3cret@h:6379") == "redis://:***@h:6379"
    assert redacted_uri("memory://") == "memory://"
