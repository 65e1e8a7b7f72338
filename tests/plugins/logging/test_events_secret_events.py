"""An event that carries credentials (jwt's re-authentication event) never has its
arguments logged, whatever their shape: one fact in the core's secrets registry
(``declare_secret(event=...)``), declared by jwt, respected by logging."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import siomw_jwt
import siomw_logging
import socketio

from siomw_core import Config, CoreSettings, Secrets, attach, declare_secret
from siomw_core.testing import close_client, connect_result, serve

from .support import event_lines, wait_for
from .test_secrets_and_hostile import JWT_SECRET, jwt_token


def stack(log: Path, jwt_table: dict[str, Any]) -> Any:
    """logging (events and their args) registered before jwt, and an echo handler."""
    tables = {"logging": {"file": str(log), "events": True, "event_args": True,
                          "access_log": False}, "jwt": jwt_table}
    sio = socketio.AsyncServer(async_mode="asgi")

    @sio.event
    async def echo(sid: str, *args: Any) -> list[Any]:
        return list(args)

    return attach(sio, config=Config(source="test", core=CoreSettings(), tables=tables),
                  entry_points=False,
                  local_plugins=[("logging", siomw_logging), ("jwt", siomw_jwt)])


@pytest.mark.parametrize("reauth_event", ["siomw:reauth", "auth:renew"])
async def test_reauth_args_are_redacted_whatever_their_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reauth_event: str
) -> None:
    """A token sent as a plain string (refused missing_token), in a list, or in the
    documented {"token": ...} object: the event line's args is "[redacted]" and the token
    is nowhere in the log; another event's args are still shown."""
    monkeypatch.setenv("SIOMW_JWT_SECRET", JWT_SECRET)
    log = tmp_path / "events.log"
    mw = stack(log, {"reauth_event": reauth_event})
    assert mw.registry.secrets.is_secret_event(reauth_event)
    first = jwt_token("ann")
    fresh = jwt_token("ann")
    async with serve(mw.asgi_app()) as url:
        outcome, _, c = await connect_result(url, auth={"token": first})
        assert outcome == "connect"
        try:
            plain = await c.call(reauth_event, fresh, timeout=5)
            listed = await c.call(reauth_event, [fresh], timeout=5)
            good = await c.call(reauth_event, {"token": fresh}, timeout=5)
            assert await c.call("echo", "visible", timeout=5) == ["visible"]
        finally:
            await close_client(c)
    assert plain["error"]["data"]["detail"] == "missing_token"
    assert listed["error"]["data"]["detail"] == "missing_token"
    assert good["ok"] is True
    await wait_for(log, lambda line: line["event"] == "event", count=4)
    lines = event_lines(log)
    assert [(line["name"], line["outcome"], line["args"]) for line in lines] == [
        (reauth_event, "refused", "[redacted]"), (reauth_event, "refused", "[redacted]"),
        (reauth_event, "accepted", "[redacted]"), ("echo", "accepted", ["visible"])]
    text = log.read_text()
    assert fresh not in text and first not in text


def test_declared_secret_event_names_are_exact_and_per_registry() -> None:
    """Event names are compared exactly (case-sensitive, as Socket.IO's); a stack's
    registry sees process-wide declarations; declared() lists them."""
    secrets = Secrets()
    secrets.declare(event=["siomw:reauth", "", None])
    assert secrets.is_secret_event("siomw:reauth")
    assert not secrets.is_secret_event("SIOMW:REAUTH") and not secrets.is_secret_event(123)
    assert secrets.declared()["event"] == ["siomw:reauth"]
    from siomw_core.secrets import PROCESS
    try:
        declare_secret(event="login:password")
        assert Secrets(parent=PROCESS).is_secret_event("login:password")
    finally:
        PROCESS._event.discard("login:password")
