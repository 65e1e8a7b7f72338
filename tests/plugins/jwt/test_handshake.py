"""The ``jwt-handshake`` engine member (``[jwt] handshake = true``) against real servers:
python-socketio's client, the JS client, curl, aiohttp and the websockets library."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import aiohttp
import pytest
import socketio
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from siomw_core import Config, CoreSettings, Request, attach
from siomw_core.testing import close_client, connect_result
from tests.conftest import requires_js
from tests.jsclient import js_outcome
from tests.levels.engine_kinds import Kind
from tests.plugins.jwt.handshake_helpers import (
    ENGINE_PATH,
    HANDSHAKE_TABLE,
    CountingJwt,
    curl,
    handshake_server,
)
from tests.plugins.jwt.helpers import refusal, token

MISSING = refusal("Authentication required", "invalid_request", "missing_token")
MALFORMED = refusal("Token is malformed", "invalid_token", "malformed")
EXPIRED = refusal("Token expired", "invalid_token", "expired")
BAD_HEADER = refusal("Authorization header is not a valid Bearer credential",
                     "invalid_request", "bad_authorization_header")
NO_TOKEN_CHALLENGE = 'Bearer realm="socket.io"'
TOKEN_COOKIE_TABLE = {**HANDSHAKE_TABLE, "query_param": "access_token", "cookie": "jwt"}


def bearer(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


async def namespaces_result(
    url: str, namespaces: list[str], **connect: Any
) -> tuple[dict[str, tuple[str, Any]], socketio.AsyncClient]:
    """Connect one python-socketio client to several namespaces over one engine session;
    return each namespace's outcome (``("connect", None)`` or ``("connect_error", data)``)."""
    client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
    loop = asyncio.get_running_loop()
    seen = {ns: loop.create_future() for ns in namespaces}
    for ns, fut in seen.items():
        def ok(fut: asyncio.Future[tuple[str, Any]] = fut) -> None:
            if not fut.done():
                fut.set_result(("connect", None))

        def error(data: Any = None, fut: asyncio.Future[tuple[str, Any]] = fut) -> None:
            if not fut.done():
                fut.set_result(("connect_error", data))

        client.on("connect", ok, namespace=ns)
        client.on("connect_error", error, namespace=ns)
    connecting = asyncio.create_task(client.connect(url, namespaces=namespaces, wait=False,
                                                    **connect))
    await asyncio.wait_for(asyncio.gather(*seen.values()), 10)
    await connecting
    return {ns: fut.result() for ns, fut in seen.items()}, client


# --- refusals as each client sees them -----------------------------------------------------

async def test_python_client_over_polling_gets_the_json_body() -> None:
    """python-socketio's client over polling hands the 401/400/403 JSON body to
    connect_error: no token, a malformed token, a bad header, an expired token."""
    async with handshake_server() as srv:
        cases = [
            ({}, MISSING),
            (bearer("a.b.c"), MALFORMED),
            ({"Authorization": "Bearer"}, BAD_HEADER),
            (bearer(token(exp=int(time.time()) - 10)), EXPIRED),
            (bearer(token(aud="elsewhere")),
             refusal("Token audience is not accepted", "invalid_token", "invalid_audience")),
        ]
        for headers, expected in cases:
            outcome, data, _ = await connect_result(srv.url, headers=headers,
                                                    transports=["polling"])
            assert (outcome, data) == ("connect_error", expected)
    assert srv.sessions == []  # no connect handler ran


async def test_curl_sees_status_headers_and_cors() -> None:
    """curl -i: 401 with application/json, the RFC 6750 §3 challenge, and the engine's CORS
    headers when an Origin is sent (cors_allowed_origins="*"); 400 for a bad header; the
    token is never echoed."""
    bad = token(aud="elsewhere")
    async with handshake_server(cors_allowed_origins="*") as srv:
        url = srv.url + ENGINE_PATH
        res = await curl(url, "-H", "Origin: https://app.example")
        assert res.status == 401
        assert res.headers["content-type"] == "application/json"
        assert res.headers["www-authenticate"] == NO_TOKEN_CHALLENGE
        assert res.headers["access-control-allow-origin"] == "https://app.example"
        assert res.headers["access-control-allow-credentials"] == "true"
        assert res.json() == MISSING

        res = await curl(url, "-H", f"Authorization: Bearer {bad}")
        assert res.status == 401
        assert res.headers["www-authenticate"] == (
            'Bearer error="invalid_token", error_description="Token audience is not accepted"'
        )
        assert "access-control-allow-origin" not in res.headers  # no Origin, no CORS
        assert bad not in res.raw and bad.split(".")[1] not in res.raw

        res = await curl(url, "-H", "Authorization: Bearer a b")
        assert res.status == 400
        assert res.headers["www-authenticate"] == (
            'Bearer error="invalid_request", '
            'error_description="Authorization header is not a valid Bearer credential"'
        )
        assert res.json() == BAD_HEADER

        res = await curl(url, "-H", "Authorization: Basic dXNlcjpwYXNz")  # another scheme
        assert (res.status, res.headers["www-authenticate"]) == (401, NO_TOKEN_CHALLENGE)

        good = await curl(url, "-H", f"Authorization: Bearer {token()}")
        assert good.status == 200 and good.body.startswith('0{"sid":')


async def test_cors_preflight_passes_without_token() -> None:
    """A CORS preflight (OPTIONS) is not a handshake: it is answered by the engine, not 401."""
    async with handshake_server(cors_allowed_origins="*") as srv:
        res = await curl(srv.url + ENGINE_PATH, "-X", "OPTIONS",
                         "-H", "Origin: https://app.example",
                         "-H", "Access-Control-Request-Method: GET",
                         "-H", "Access-Control-Request-Headers: authorization")
    assert res.status == 200
    assert res.headers["access-control-allow-origin"] == "https://app.example"
    assert "www-authenticate" not in res.headers


async def test_handshake_scopes_refuse_with_403() -> None:
    """handshake_scopes: a token without them gets 403 insufficient_scope with the scope
    attribute (RFC 6750 §3); one with them connects."""
    table = {**HANDSHAKE_TABLE, "handshake_scopes": ["chat", "read"]}
    expected = {"message": "Insufficient scope",
                "data": {"code": "insufficient_scope", "detail": "missing_scope",
                         "scope": "chat read"}}
    async with handshake_server(table) as srv:
        res = await curl(srv.url + ENGINE_PATH, "-H",
                         f"Authorization: Bearer {token(scope='chat')}")
        assert res.status == 403
        assert res.headers["www-authenticate"] == (
            'Bearer error="insufficient_scope", scope="chat read"'
        )
        assert res.json() == expected
        _, data, _ = await connect_result(srv.url, headers=bearer(token(scope="chat")),
                                          transports=["polling"])
        assert data == expected
        outcome, _, client = await connect_result(
            srv.url, headers=bearer(token(scopes=["read", "chat"])), transports=["polling"])
        assert outcome == "connect"
        await close_client(client)


@requires_js
async def test_js_client_sees_transport_errors() -> None:
    """The JS client reports engine refusals as transport errors: over polling "xhr poll
    error" with description 401, over WebSocket "websocket error"; with a token in a header
    or in the query parameter it connects over either transport."""
    async with handshake_server(TOKEN_COOKIE_TABLE) as srv:
        good = token()
        results = await asyncio.gather(
            js_outcome(srv.url, transports=["polling"]),
            js_outcome(srv.url, transports=["polling"],
                       extraHeaders={"Authorization": "Bearer a.b.c"}),
            js_outcome(srv.url, transports=["websocket"]),
            js_outcome(srv.url, transports=["polling"],
                       extraHeaders={"Authorization": f"Bearer {good}"}),
            js_outcome(srv.url, transports=["websocket"], query={"access_token": good}),
            js_outcome(srv.url, query={"access_token": good}),  # polling, then upgrade
        )
    no_token, bad_token, ws_no_token, *connected = results
    for obs in (no_token, bad_token):
        assert (obs["event"], obs["message"], obs["description"]) == (
            "connect_error", "xhr poll error", 401)
    assert (ws_no_token["event"], ws_no_token["message"]) == ("connect_error", "websocket error")
    assert [obs["event"] for obs in connected] == ["connect"] * 3
    assert [s["user"]["sub"] for _, s in srv.sessions] == ["alice"] * 3


async def test_websocket_only_handshake_gets_the_real_status() -> None:
    """A WebSocket-only handshake without a token is refused with HTTP 401, the challenge
    and the JSON body (websockets client); python-socketio's client sees a connection error;
    with a token it connects over WebSocket only."""
    async with handshake_server() as srv:
        ws_url = srv.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        with pytest.raises(InvalidStatus) as info:
            async with ws_connect(ws_url, proxy=None, open_timeout=5):
                pass
        response = info.value.response
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == NO_TOKEN_CHALLENGE
        assert response.headers["Content-Type"] == "application/json"
        assert json.loads(response.body) == MISSING

        with pytest.raises(InvalidStatus) as info:
            async with ws_connect(ws_url, proxy=None, open_timeout=5,
                                  additional_headers=bearer(token(exp=1))):
                pass
        assert info.value.response.status_code == 401
        assert json.loads(info.value.response.body) == EXPIRED

        outcome, _, _ = await connect_result(srv.url, transports=["websocket"])
        assert outcome == "connect_error"  # the python client only says "Connection error"

        async with ws_connect(ws_url, proxy=None, open_timeout=5,
                              additional_headers=bearer(token())) as ws:
            assert str(await ws.recv()).startswith("0{")
            await ws.send("40")
            assert str(await ws.recv()).startswith('40{"sid":')
        outcome, _, client = await connect_result(srv.url, transports=["websocket"],
                                                  headers=bearer(token()))
        assert outcome == "connect"
        await close_client(client)
    assert [ns for ns, _ in srv.sessions] == ["/", "/"]


# --- where the token comes from --------------------------------------------------------------

async def test_query_param_and_cookie_when_configured() -> None:
    """With query_param and cookie set, a token in either passes the handshake (polling and
    WebSocket) and its claims reach the session; Authorization wins over both."""
    async with handshake_server(TOKEN_COOKIE_TABLE) as srv:
        for transport in ("polling", "websocket"):
            outcome, _, client = await connect_result(
                f"{srv.url}?access_token={token(sub='query')}", transports=[transport])
            assert outcome == "connect"
            await close_client(client)
            outcome, _, client = await connect_result(
                srv.url, headers={"Cookie": f"theme=dark; jwt={token(sub='cookie')}"},
                transports=[transport])
            assert outcome == "connect"
            await close_client(client)
        outcome, _, client = await connect_result(
            f"{srv.url}?access_token={token(sub='query')}",
            headers={**bearer(token(sub="header")), "Cookie": f"jwt={token(sub='cookie')}"})
        assert outcome == "connect"
        await close_client(client)
        res = await curl(f"{srv.url}{ENGINE_PATH}&access_token=a.b.c")
        assert (res.status, res.json()) == (401, MALFORMED)
    assert [s["user"]["sub"] for _, s in srv.sessions] == [
        "query", "cookie", "query", "cookie", "header"]


async def test_query_param_and_cookie_ignored_when_not_configured() -> None:
    """Without query_param and cookie, tokens there count as no token: 401 missing_token."""
    async with handshake_server() as srv:
        for url, headers in [
            (f"{srv.url}?access_token={token()}", {}),
            (f"{srv.url}?token={token()}", {}),
            (srv.url, {"Cookie": f"jwt={token()}"}),
        ]:
            outcome, data, _ = await connect_result(url, headers=headers,
                                                    transports=["polling"])
            assert (outcome, data) == ("connect_error", MISSING)


async def test_odd_query_and_cookie_tokens() -> None:
    """Hostile query and cookie values: too large, non-ASCII, empty, a malformed Cookie
    header: RFC 6750 refusals, never internal_error, never echoed."""
    table = {**TOKEN_COOKIE_TABLE, "max_token_bytes": 2000}
    async with handshake_server(table) as srv:
        url = srv.url + ENGINE_PATH
        cases = [
            ((f"{url}&access_token={'x' * 3000}",), 401,
             refusal("Token too large", "invalid_token", "too_large")),
            ((f"{url}&access_token=%C3%A9.%C3%A9.%C3%A9",), 401, MALFORMED),
            ((f"{url}&access_token=",), 401, MISSING),
            ((f"{url}&access_token=a.b.c&access_token=",), 401, MISSING),  # last one wins
            ((url, "-H", "Cookie: jwt="), 401, MISSING),
            # each pair is read on its own: the token '"unterminated' is presented, malformed
            ((url, "-H", 'Cookie: jwt="unterminated; other'), 401, MALFORMED),
            ((url, "-H", "Cookie: jwt=a.b.c; jwt=d.e.f"), 401, MALFORMED),
            ((url, "-H", "Cookie: " + ";" * 500), 401, MISSING),
        ]
        for args, status, expected in cases:
            res = await curl(args[0], *args[1:])
            assert (res.status, res.json()) == (status, expected), args
            assert "x" * 100 not in res.raw


# --- the connect level reuses the handshake's claims ------------------------------------------

async def test_claims_reused_without_second_decode() -> None:
    """The CONNECTs of a handshake-verified session reuse its claims (the decoder runs once
    per handshake), namespace scopes still apply; a CONNECT whose auth carries its own token
    has that token verified."""
    plugin = CountingJwt()
    async with handshake_server(plugin=plugin) as srv:
        outcomes, client = await namespaces_result(
            srv.url, ["/", "/admin", "/public"], headers=bearer(token(scope="chat")),
            transports=["polling"])
        assert outcomes["/"] == outcomes["/public"] == ("connect", None)
        assert outcomes["/admin"] == ("connect_error", {
            "message": "Insufficient scope",
            "data": {"code": "insufficient_scope", "detail": "missing_scope", "scope": "admin"},
        })
        assert plugin.calls == 1  # the handshake only
        await close_client(client)

        outcomes, client = await namespaces_result(
            srv.url, ["/", "/admin"], headers=bearer(token()),
            auth={"token": token(sub="bob", scope="admin")}, transports=["websocket"])
        assert outcomes == {"/": ("connect", None), "/admin": ("connect", None)}
        assert plugin.calls == 1 + 1 + 2  # its handshake, then each CONNECT's own token
        await close_client(client)

        _, data, _ = await connect_result(srv.url, headers=bearer(token()),
                                          auth={"token": "a.b.c"})
        assert data == MALFORMED  # a bad own token is refused even after a good handshake
    users = [(ns, s["user"]["sub"], s["user"].get("scope")) for ns, s in srv.sessions]
    assert users == [("/", "alice", "chat"), ("/public", "alice", "chat"),
                     ("/", "bob", "admin"), ("/admin", "bob", "admin")]
    first, second = srv.sessions[0][1]["user"], srv.sessions[1][1]["user"]
    assert first == second and first is not second  # a copy per namespace


async def test_handshake_state_holds_the_claims() -> None:
    """request.state["jwt.claims"] is visible as socket.handshake.state["jwt.claims"] to the
    connect chain, and to an engine member running after jwt-handshake."""
    seen: list[Any] = []

    def setup(mw: Any) -> None:
        @mw.engine.use(after="jwt-handshake")
        async def audit(request: Request, call_next: Any) -> None:
            if request.is_handshake:
                seen.append(("engine", request.state["jwt.claims"]["sub"]))
            await call_next()

        @mw.use(after="jwt")
        async def who(socket: Any, call_next: Any) -> None:
            seen.append(("connect", socket.handshake.state["jwt.claims"]["sub"]))
            await call_next()

    async with handshake_server(setup=setup) as srv:
        outcome, _, client = await connect_result(srv.url, headers=bearer(token()))
        assert outcome == "connect"
        await close_client(client)
    assert seen == [("engine", "alice"), ("connect", "alice")]


async def post(http: aiohttp.ClientSession, url: str, body: str) -> None:
    async with http.post(url, data=body) as res:
        assert (res.status, await res.text()) == (200, "OK")


async def poll(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as res:
        assert res.status == 200
        return await res.text()


async def open_session(http: aiohttp.ClientSession, base: str, tok: str) -> str:
    """An Engine.IO handshake with ``tok`` in Authorization; returns the session's URL."""
    async with http.get(base + ENGINE_PATH, headers=bearer(tok)) as res:
        assert res.status == 200, await res.text()
        sid = json.loads((await res.text())[1:])["sid"]
    return f"{base}{ENGINE_PATH}&sid={sid}"


async def test_session_requests_pass_without_token() -> None:
    """Only the handshake needs the token: the session's POSTs, polls and WebSocket upgrade
    carry none and pass; a made-up sid is not a handshake and meets the engine's own 400."""
    async with handshake_server() as srv, aiohttp.ClientSession() as http:
        session = await open_session(http, srv.url, token())
        await post(http, session, "40")  # CONNECT to "/", no token anywhere
        assert (await poll(http, session)).startswith('40{"sid":')
        ws_url = session.replace("http://", "ws://").replace("polling", "websocket")
        async with ws_connect(ws_url, proxy=None, open_timeout=5) as ws:  # the upgrade
            await ws.send("2probe")
            assert await ws.recv() == "3probe"
        async with http.get(f"{srv.url}{ENGINE_PATH}&sid=made-up") as res:
            assert res.status == 400
            assert "www-authenticate" not in res.headers
    assert [s["user"]["sub"] for _, s in srv.sessions] == ["alice"]


async def test_expiry_checked_again_at_connect() -> None:
    """A token valid at the handshake but expired when a CONNECT arrives is refused
    (invalid_token/expired) without a decode; leeway is honoured on reuse."""
    plugin = CountingJwt()
    async with handshake_server(plugin=plugin) as srv, aiohttp.ClientSession() as http:
        now = time.time()
        exp = int(now) + (1 if now % 1 < 0.5 else 2)  # valid for 0.5 to 1.5 s more
        session = await open_session(http, srv.url, token(exp=exp))
        await post(http, session, "40")
        assert (await poll(http, session)).startswith('40{"sid":')
        while time.time() < exp:
            await asyncio.sleep(0.05)
        await post(http, session, "40/public,")
        assert await poll(http, session) == "44/public," + json.dumps(EXPIRED,
                                                                        separators=(",", ":"))
        assert plugin.calls == 1
    table = {**HANDSHAKE_TABLE, "leeway": 30}
    async with handshake_server(table) as srv:
        outcome, _, client = await connect_result(
            srv.url, headers=bearer(token(exp=int(time.time()) - 5)), transports=["polling"])
        assert outcome == "connect"
        await close_client(client)


# --- state cannot be injected -----------------------------------------------------------------

async def test_client_cannot_inject_claims() -> None:
    """Claims-shaped auth, query parameters and headers change nothing: the session holds the
    handshake's verified claims, and /admin is still refused."""
    fake = {"sub": "mallory", "scope": "admin"}
    async with handshake_server() as srv:
        outcomes, client = await namespaces_result(
            f"{srv.url}?jwt.claims={json.dumps(fake)}&siomw=1&jwt.verified=1",
            ["/", "/admin"],
            headers={**bearer(token()), "jwt.claims": json.dumps(fake)},
            auth={"jwt.claims": fake, "jwt.verified": True, "state": {"jwt.claims": fake},
                  "user": fake},
        )
        assert outcomes["/"] == ("connect", None)
        assert outcomes["/admin"][0] == "connect_error"
        await close_client(client)
    assert [s["user"]["sub"] for _, s in srv.sessions] == ["alice"]


async def test_state_from_elsewhere_is_not_trusted() -> None:
    """Only the jwt-handshake member's record is trusted: another engine member that writes
    "jwt.claims"/"jwt.verified" into request.state (handshake = false) lets nobody in."""
    from siomw_jwt.handshake import Verified

    def setup(mw: Any) -> None:
        @mw.engine.use
        async def forger(request: Request, call_next: Any) -> None:
            fake = {"sub": "mallory", "scope": "admin"}
            request.state["jwt.claims"] = fake
            request.state["jwt.verified"] = Verified(object(), None, frozenset({"admin"}), fake)
            await call_next()

    for table in ({**HANDSHAKE_TABLE, "handshake": False}, HANDSHAKE_TABLE):
        async with handshake_server(table, setup=setup) as srv:
            if table["handshake"]:  # ours verifies a real token and overwrites the forgery
                outcome, data, _ = await connect_result(srv.url, headers=bearer(token()),
                                                        namespace="/admin")
                assert data["data"]["code"] == "insufficient_scope"
            outcome, data, _ = await connect_result(srv.url, transports=["polling"])
            assert (outcome, data) == ("connect_error", MISSING)
        assert srv.sessions == []


async def test_bare_asgi_app_runs_the_handshake_check(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """handshake = true with the user's own socketio.ASGIApp(sio): the engine chain runs in
    python-engineio's seam, so the handshake is verified there and the connect level reuses
    the claims (one decode per connection), and nothing is warned."""
    plugin = CountingJwt()
    caplog.set_level(logging.WARNING)
    async with handshake_server(plugin=plugin, served="bare") as srv:
        for _ in range(2):
            outcome, _, client = await connect_result(srv.url, headers=bearer(token()))
            assert outcome == "connect"
            await close_client(client)
        _, data, _ = await connect_result(srv.url, transports=["polling"])
        assert data == MISSING
    assert plugin.calls == 2
    assert [r.getMessage() for r in caplog.records
            if r.name.startswith("siomw") and r.levelno >= logging.WARNING] == []


async def test_without_engine_chain_connect_level_verifies(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """handshake = true but the engine chain cannot run (aiohttp's sio.attach(app) before
    siomw was attached): the connect level verifies the handshake's token itself (nothing
    reused); the core says why in one error line and the plugin warns once."""
    plugin = CountingJwt()
    caplog.set_level(logging.WARNING)
    async with handshake_server(plugin=plugin, served="aiohttp_late") as srv:
        for _ in range(2):
            outcome, _, client = await connect_result(srv.url, headers=bearer(token()))
            assert outcome == "connect"
            await close_client(client)
        _, data, _ = await connect_result(srv.url)
        assert data == MISSING
    assert plugin.calls == 2
    warnings = [r for r in caplog.records if r.name == "siomw.jwt"
                and "without passing the jwt-handshake engine member" in r.getMessage()]
    assert len(warnings) == 1
    core = [r.getMessage() for r in caplog.records if r.name == "siomw"
            and r.levelno == logging.ERROR]
    assert core == ["siomw: an engine request reached python-engineio without the engine "
                    "chain: sio.attach(app) ran before siomw_core.attach(sio), so aiohttp "
                    "holds python-engineio's own handler; attach siomw first"]


async def test_refused_client_closes_cleanly() -> None:
    """A refused python client leaves no engine session behind."""
    async with handshake_server() as srv:
        _, _, client = await connect_result(srv.url, transports=["polling"])
        await close_client(client)
        assert srv.mw.sio.eio.sockets == {}


async def test_query_param_and_cookie_at_connect_level_alone() -> None:
    """With handshake = false, query_param and cookie are read by the connect level (after
    auth.token and Authorization) and verified there; no engine member exists."""
    table = {**TOKEN_COOKIE_TABLE, "handshake": False}
    async with handshake_server(table) as srv:
        assert srv.mw.describe()["engine"] == []
        outcome, _, client = await connect_result(f"{srv.url}?access_token={token(sub='q')}")
        assert outcome == "connect"
        await close_client(client)
        outcome, _, client = await connect_result(srv.url,
                                                  headers={"Cookie": f"jwt={token(sub='c')}"})
        assert outcome == "connect"
        await close_client(client)
        outcome, _, client = await connect_result(f"{srv.url}?access_token={token(sub='q')}",
                                                  auth={"token": token(sub="auth")})
        assert outcome == "connect"
        await close_client(client)
        _, data, _ = await connect_result(f"{srv.url}?access_token=a.b.c")
        assert data == MALFORMED
        _, data, _ = await connect_result(f"{srv.url}?token={token()}")
        assert data == MISSING
    assert [s["user"]["sub"] for _, s in srv.sessions] == ["q", "c", "auth"]


@pytest.mark.parametrize("handshake", [True, False], ids=["engine-level", "connect-level"])
async def test_cookie_token_beside_a_malformed_cookie(handshake: bool) -> None:
    """A malformed pair elsewhere in the Cookie header (SimpleCookie gives up on all of it)
    does not hide the token cookie: the core's parser reads each pair on its own."""
    table = {**TOKEN_COOKIE_TABLE, "handshake": handshake}
    async with handshake_server(table) as srv:
        outcome, _, client = await connect_result(
            srv.url, headers={"Cookie": f"a=1; b c=2; jwt={token(sub='c')}; lone"},
            transports=["polling"])
        assert outcome == "connect"
        await close_client(client)
    assert [s["user"]["sub"] for _, s in srv.sessions] == ["c"]


@pytest.mark.parametrize("kind_name", ["asgi", "aiohttp", "wsgi"])
async def test_handshake_check_and_reuse_on_every_kind(kind_name: str) -> None:
    """The jwt-handshake member on every server kind (each served as its users serve it):
    a handshake without a token is refused 401 before any session, one with a token is
    verified once, and the connect level reuses its claims (socket.handshake.state)."""
    kind = Kind(kind_name)
    sio = kind.server()
    users: list[Any] = []

    def connect(sid: str, environ: Any, auth: Any) -> None:
        users.append(sid)

    kind.handler(sio, "connect", connect)
    plugin = CountingJwt()
    config = Config(source="test", core=CoreSettings(), tables={"jwt": HANDSHAKE_TABLE})
    mw = attach(sio, config=config, entry_points=False, local_plugins=[("jwt", plugin)])
    async with kind.serve(sio, mw) as url:
        refused = await curl(url + ENGINE_PATH)
        for transport in ("polling", "websocket"):
            outcome, data, client = await connect_result(url, headers=bearer(token()),
                                                         transports=[transport])
            assert outcome == "connect", data
            await close_client(client)
    assert (refused.status, refused.json()) == (401, MISSING)
    assert plugin.calls == 2  # one decode per connection: the connect level reused it
    assert len(users) == 2
