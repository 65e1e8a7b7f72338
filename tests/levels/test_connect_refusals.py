"""The connect level's refusals as users write them: guarded namespaces without handlers,
ConnectionRefusedError in a middleware, concurrent call_next, a handler whose client left.
Real uvicorn servers, the JS ``socket.io-client`` and python-socketio's clients.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from socketio.exceptions import ConnectionRefusedError as SioConnectionRefusedError

from siomw_core import CallNext, Refusal, Socket
from siomw_core.testing import connect_result
from tests.conftest import requires_js
from tests.jsclient import js_outcome
from tests.levels.test_connect import (
    INTERNAL,
    TRANSPORTS,
    RawClient,
    assert_nothing_left,
    eventually,
    make,
    running,
)


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# --- a namespace a middleware guards exists (Node's io.of) ----------------------------------


@requires_js
async def test_of_use_creates_the_namespace_js() -> None:
    """mw.of("/chat").use(fn) with no handler for "/chat": the JS client gets the
    middleware's refusal (not "Invalid namespace"), or connects when it passes."""
    sio, mw = make()

    @mw.of("/chat").use
    async def members_only(socket: Socket, call_next: CallNext) -> None:
        if socket.handshake.auth.get("member") is not True:
            raise Refusal("members only", {"code": "not_member"})
        await call_next()

    async with running(sio) as url:
        refused = await js_outcome(url, namespace="/chat")
        accepted = await js_outcome(url, namespace="/chat", auth={"member": True})
        unknown = await js_outcome(url, namespace="/other")
    assert refused == {"event": "connect_error", "message": "members only",
                       "data": {"code": "not_member"}, "active": False}
    assert accepted["event"] == "connect"
    assert (unknown["event"], unknown["message"]) == ("connect_error", "Invalid namespace")


async def test_use_namespace_creates_the_namespace_python() -> None:
    """mw.use(fn, namespace="/ops") guards "/ops", so the server accepts it without a
    handler, and siomw chain lists it."""
    sio, mw = make()
    ran: list[str] = []

    @mw.use(namespace="/ops")
    async def note(socket: Socket, call_next: CallNext) -> None:
        ran.append(socket.namespace)
        await call_next()

    async with running(sio) as url:
        outcome, data, client = await connect_result(url, namespace="/ops",
                                                     transports=["websocket"])
        assert (outcome, data) == ("connect", None)
        await client.disconnect()
    assert ran == ["/ops"]
    assert mw.namespaces() == ["/", "/ops"]


# --- ConnectionRefusedError raised by a middleware -------------------------------------------


@requires_js
@pytest.mark.parametrize("kind", ["socketio", "builtin"])
async def test_connection_refused_error_in_a_middleware_js(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """ConnectionRefusedError("bad token", {"code": 401}) raised in a middleware reaches the
    JS client as err.message / err.data, with no ERROR log, as from a connect handler."""
    sio, mw = make()
    exc_type = SioConnectionRefusedError if kind == "socketio" else ConnectionRefusedError

    @mw.use
    async def auth(socket: Socket, call_next: CallNext) -> None:
        raise exc_type("bad token", {"code": 401})

    async with running(sio) as url:
        outcome = await js_outcome(url)
    assert outcome == {"event": "connect_error", "message": "bad token", "data": {"code": 401},
                       "active": False}
    assert errors(caplog) == []


@requires_js
@pytest.mark.parametrize("where", ["middleware", "connect handler"])
@pytest.mark.parametrize("kind", ["socketio", "builtin"])
@pytest.mark.parametrize(("args", "data"), [
    (("multi", 1), 1),
    (("multi", 1, 2), [1, 2]),
    (("multi", 1, None), [1, None]),
    (("multi", 1, 2, 3, 4, 5), [1, 2, 3, 4, 5]),
])
async def test_connection_refused_error_with_several_arguments_js(
    where: str, kind: str, args: tuple[Any, ...], data: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """ConnectionRefusedError("multi", 1, 2), python-socketio's or the built-in one, in a
    middleware or in the connect handler: the JS client gets err.data [1, 2], as
    python-socketio's rule gives (one argument after the message: itself; more: a list),
    although the built-in (an OSError) keeps only two of three arguments in ``args``."""
    sio, mw = make()
    exc_type = SioConnectionRefusedError if kind == "socketio" else ConnectionRefusedError

    if where == "middleware":
        @mw.use
        async def auth(socket: Socket, call_next: CallNext) -> None:
            raise exc_type(*args)
    else:
        @sio.event
        async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
            raise exc_type(*args)

    async with running(sio) as url:
        outcome = await js_outcome(url)
    assert outcome == {"event": "connect_error", "message": "multi", "data": data,
                       "active": False}
    assert errors(caplog) == []


@pytest.mark.parametrize("raised", [SioConnectionRefusedError(), ConnectionRefusedError()])
async def test_bare_connection_refused_error_in_a_middleware(raised: Exception) -> None:
    """Without arguments, python-socketio's default messages."""
    sio, mw = make()

    @mw.use
    async def auth(socket: Socket, call_next: CallNext) -> None:
        raise raised

    expected = ("Connection rejected by server" if isinstance(raised, SioConnectionRefusedError)
                else "Connection refused by server")
    async with running(sio) as url:
        outcome, data, _ = await connect_result(url, transports=["websocket"])
    assert (outcome, data) == ("connect_error", {"message": expected})


# --- concurrent call_next --------------------------------------------------------------------


@pytest.mark.parametrize("style", ["gather", "create_task_return", "create_task_sleep"])
async def test_concurrent_call_next_never_leaves_the_handler_unpaired(style: str) -> None:
    """gather(call_next(), call_next()), or create_task(call_next()) then returning, refuses
    with internal_error; a connect handler that ran is paired with the disconnect handler,
    and nothing of the attempt is left."""
    sio, mw = make()
    calls: list[str] = []
    seen: dict[str, str] = {}
    tasks: list[asyncio.Future[None]] = []

    @mw.use
    async def concurrent(socket: Socket, call_next: CallNext) -> None:
        seen.update(sid=socket.sid, eio_sid=socket.eio_sid)
        if style == "gather":
            await asyncio.gather(call_next(), call_next())
        else:
            tasks.append(asyncio.ensure_future(call_next()))
            if style == "create_task_sleep":
                await asyncio.sleep(0.05)  # the handler is running now

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        calls.append("connect")
        await asyncio.sleep(0.3)

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        calls.append(f"disconnect:{reason}")

    async with running(sio) as url:
        outcome, data, _ = await connect_result(url, transports=["websocket"])
        assert (outcome, data) == ("connect_error", INTERNAL)
        await asyncio.sleep(0.5)  # anything late would have run now
        if style == "create_task_return":
            assert calls == []
        else:
            assert calls == ["connect", "disconnect:server disconnect"]
        await eventually(lambda: seen["eio_sid"] not in sio.eio.sockets)
        assert_nothing_left(sio, mw, seen["sid"], seen["eio_sid"])


# --- a handler whose client left -------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_handler_touching_the_session_after_the_client_left_is_quiet(
    transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    """save_session after an await, once the client left, raises KeyError('Session not
    found') in the handler: a quiet abandoned attempt (no ERROR), nothing left behind."""
    sio, mw = make()
    inside = asyncio.Event()
    release = asyncio.Event()
    failed: list[str] = []
    seen: dict[str, str] = {}

    @mw.use
    async def note(socket: Socket, call_next: CallNext) -> None:
        seen.update(sid=socket.sid, eio_sid=socket.eio_sid)
        await call_next()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        inside.set()
        await release.wait()
        try:
            await sio.save_session(sid, {"user": "alice"})
        except KeyError as exc:
            failed.append(str(exc))
            raise

    async with running(sio) as url:
        raw = RawClient()
        await raw.open(url, transport)
        await raw.send("0")
        await asyncio.wait_for(inside.wait(), 5)
        await raw.close()
        await eventually(lambda: seen["eio_sid"] not in sio.eio.sockets)
        release.set()
        await eventually(lambda: not mw.connect_level.pending)
        await asyncio.sleep(0.1)
        assert failed == ["'Session not found'"]
        assert_nothing_left(sio, mw, seen["sid"], seen["eio_sid"])
    assert errors(caplog) == []


async def test_handler_failing_while_the_client_is_there_is_still_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The quiet path is for a client that left: the same KeyError with the client still
    connected is internal_error, logged."""
    sio, _ = make()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        raise KeyError("Session not found")

    async with running(sio) as url:
        outcome, data, _ = await connect_result(url, transports=["websocket"])
    assert (outcome, data) == ("connect_error", INTERNAL)
    assert any("siomw: the connect handler raised for" in message for message in errors(caplog))

