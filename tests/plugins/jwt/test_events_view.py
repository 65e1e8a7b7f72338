"""What users of the jwt plugin's event rules see outside the events' ordinary path: the
order of stacked scopes in a refusal, and ``siomw chain`` showing configured rules."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import siomw_jwt
import socketio

from siomw_core import Config, CoreSettings, attach
from siomw_core.testing import serve
from tests.plugins.jwt.events_helpers import client
from tests.plugins.jwt.helpers import TABLE, token
from tests.test_cli import run

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"


async def test_stacked_requires_refusal_names_scopes_in_the_order_written() -> None:
    """@requires("a") over @requires("b", "c"), token with scope a: the refusal's "scope"
    is "a b c" (outermost decorator first), above or below @sio.on alike."""
    sio = socketio.AsyncServer(async_mode="asgi")

    @sio.on("above")
    @siomw_jwt.requires("a")
    @siomw_jwt.requires("b", "c")
    async def above(sid: str) -> str:
        return "ran"

    @siomw_jwt.requires("a")
    @siomw_jwt.requires("b", "c")
    @sio.on("below")
    async def below(sid: str) -> str:
        return "ran"

    config = Config(source="test", core=CoreSettings(), tables={"jwt": TABLE})
    mw = attach(sio, config=config, entry_points=False, local_plugins=[("jwt", siomw_jwt)])
    async with serve(mw.asgi_app()) as url, client(url, token(scope="a")) as c:
        answers: list[Any] = [await c.call(name, timeout=5) for name in ("above", "below")]
    for answer in answers:
        assert answer["error"]["data"] == {"code": "insufficient_scope",
                                           "detail": "missing_scope", "scope": "a b c"}


def test_siomw_chain_shows_jwt_events_rules(tmp_path: Path) -> None:
    """`siomw chain --json` on docs/examples/jwt_events_app.py: "admin:ban" (no decorator)
    shows its [jwt.events."admin:ban"] scopes from the configuration, "admin:kick" its
    decorator's; a configured event without a handler is listed too, and a rule limited
    to other namespaces is not shown on "/"."""
    for name in ("jwt_events_app.py", "jwt_events_siomw.toml"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    toml = tmp_path / "jwt_events_siomw.toml"
    toml.write_text(toml.read_text() + '\n[jwt.events."audit:read"]\nscopes = ["audit"]\n'
                    '\n[jwt.events."mod:only"]\nscopes = ["mod"]\nnamespaces = ["/mod"]\n')
    result = run("chain", "--json", "jwt_events_app:app", cwd=tmp_path,
                 env={"SIOMW_PLUGINS": "jwt"})
    assert result.returncode == 0, result.stderr
    handlers = json.loads(result.stdout)["handlers"]
    assert handlers["/"]["admin:ban"] == [{
        "plugin": "jwt", "kind": "scopes", "scopes": ["admin"],
        "config": '[jwt.events."admin:ban"]', "source": "config"}]
    assert handlers["/"]["admin:kick"] == [{
        "plugin": "jwt", "kind": "scopes", "scopes": ["admin"], "source": "decorator"}]
    assert handlers["/"]["audit:read"] == [{
        "plugin": "jwt", "kind": "scopes", "scopes": ["audit"],
        "config": '[jwt.events."audit:read"]', "source": "config"}]
    assert handlers["/"]["whoami"] == []
    assert "mod:only" not in handlers["/"]
    assert handlers["/mod"]["mod:only"][0]["source"] == "config"
    assert handlers["/mod"]["mute"] == [{
        "plugin": "jwt", "kind": "scopes", "scopes": ["mod"], "source": "decorator"}]
