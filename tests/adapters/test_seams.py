"""The private python-socketio seams the server adapters use exist, with the signatures the
adapters call, in the versions pyproject.toml pins (python-socketio 5.18, python-engineio
4.15): an upgrade that moves one fails here, by name, before any behaviour test does."""

from __future__ import annotations

import inspect
from typing import Any

import engineio.async_socket
import engineio.socket
import pytest
import socketio

from siomw_core.adapters.async_server import AsyncServerAdapter
from siomw_core.adapters.sync_server import SyncServerAdapter

#: (method, its parameters after self) the connect and event levels replace or call
METHODS = [
    ("_handle_connect", ["eio_sid", "namespace", "data"]),
    ("_handle_event", ["eio_sid", "namespace", "id", "data"]),
    ("_handle_event_internal", ["server", "sid", "eio_sid", "data", "namespace", "id"]),
    ("_trigger_event", ["event", "namespace", "args"]),
    ("_send_packet", ["eio_sid", "pkt"]),
    ("_send_eio_packet", ["eio_sid", "eio_pkt"]),
    ("_handle_disconnect", ["eio_sid", "namespace", "reason"]),
]
#: attributes read (``base.ServerAdapter``)
ATTRIBUTES = ["handlers", "namespace_handlers", "namespaces", "reserved_events", "not_handled",
              "environ", "eio", "manager", "packet_class", "reason", "always_connect"]
MANAGER = [("pre_connect", ["eio_sid", "namespace"]), ("connect", ["sid", "namespace"]),
           ("disconnect", ["sid", "namespace", "kwargs"]),
           ("get_participants", ["namespace", "room"]),
           ("sid_from_eio_sid", ["eio_sid", "namespace"]),
           ("is_connected", ["sid", "namespace"])]

KINDS = [
    pytest.param(lambda: socketio.AsyncServer(async_mode="asgi"), True, id="async"),
    pytest.param(lambda: socketio.Server(async_mode="threading"), False, id="sync"),
]


def params(func: Any) -> list[str]:
    return list(inspect.signature(func).parameters)


@pytest.mark.parametrize(("build", "coroutine"), KINDS)
def test_server_methods_exist_with_their_signatures(build: Any, coroutine: bool) -> None:
    """Each replaced or called server method: present, its parameters as called, awaited
    on the async server and plain on the sync one (the adapters' whole difference)."""
    sio = build()
    for name, expected in METHODS:
        method = getattr(sio, name)
        assert params(method) == expected, name
        assert inspect.iscoroutinefunction(method) is coroutine, name
    for name in ATTRIBUTES:
        assert hasattr(sio, name), name


@pytest.mark.parametrize(("build", "coroutine"), KINDS)
def test_manager_methods_exist(build: Any, coroutine: bool) -> None:
    """The manager calls the levels make (pre_connect/connect/disconnect awaited on the
    async manager; get_participants, sid_from_eio_sid, is_connected plain on both)."""
    manager = build().manager
    for name, expected in MANAGER:
        assert params(getattr(manager, name)) == expected, name
    for name in ("pre_connect", "connect", "disconnect"):
        assert inspect.iscoroutinefunction(getattr(manager, name)) is coroutine, name


@pytest.mark.parametrize(("build", "adapter", "session_class"), [
    (lambda: socketio.AsyncServer(async_mode="asgi"), AsyncServerAdapter,
     engineio.async_socket.AsyncSocket),
    (lambda: socketio.Server(async_mode="threading"), SyncServerAdapter,
     engineio.socket.Socket),
])
def test_engine_session_shape(build: Any, adapter: Any, session_class: Any) -> None:
    """``eio.sockets`` maps an engine sid to a session with ``closed`` and ``session``:
    what ``alive`` and ``keep_session`` read and write, on a real engine session object."""
    sio = build()
    seams = adapter(sio)
    session = session_class(sio.eio, "abc")
    assert (session.closed, session.session) == (False, {})
    sio.eio.sockets["abc"] = session
    assert seams.alive("abc") and not seams.alive("other")
    seams.keep_session("abc", "/chat", {"user": "ann"})
    assert session.session == {"/chat": {"user": "ann"}}
    seams.keep_session("abc", "/chat", None)
    assert session.session == {}
    session.closed = True
    assert not seams.alive("abc")


@pytest.mark.parametrize(("wrong", "adapter", "needs"), [
    (lambda: socketio.Server(), AsyncServerAdapter, "socketio.AsyncServer"),
    (lambda: socketio.AsyncServer(), SyncServerAdapter, "socketio.Server"),
])
def test_an_adapter_refuses_the_other_kind(wrong: Any, adapter: Any, needs: str) -> None:
    with pytest.raises(TypeError, match=f"expected a {needs}, got"):
        adapter(wrong())


@pytest.mark.parametrize(("build", "driver_keys", "request_params"), [
    (lambda: socketio.AsyncServer(async_mode="asgi"), (), ["args", "kwargs"]),
    (lambda: socketio.AsyncServer(async_mode="aiohttp"), ("websocket", "translate_request"),
     ["args", "kwargs"]),
    (lambda: socketio.Server(async_mode="threading"), ("websocket",),
     ["environ", "start_response"]),
    (lambda: socketio.Server(async_mode="gevent"), ("websocket",),
     ["environ", "start_response"]),
])
def test_engine_seams_exist(build: Any, driver_keys: tuple[str, ...],
                            request_params: list[str]) -> None:
    """The engine level's seams (``adapters/engine_seam.py`` and the ``*_http.py``
    adapters): ``eio.handle_request`` with the arguments each kind's serving passes,
    ``eio._cors_headers(environ)``, and the async_mode driver's entries the adapters wrap
    (``eio._async``, a dict per mode)."""
    eio = build().eio
    assert params(eio.handle_request) == request_params
    assert params(eio._cors_headers) == ["environ"]
    assert isinstance(eio._async, dict)
    for key in driver_keys:
        assert key in eio._async, key
