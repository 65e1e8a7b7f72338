"""Which names are secret (siomw_core.secrets): built-in names, per-stack declarations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from siomw_core import (
    Config,
    CoreSettings,
    Middleware,
    Secrets,
    current_secrets,
    declare_secret,
    hookimpl,
)
from siomw_core.registry import Registry
from siomw_core.secrets import PROCESS, building


@pytest.mark.parametrize(
    ("kind", "name", "secret"),
    [
        ("query", "token", True), ("query", "Access-Token", True), ("query", "id_token", True),
        ("query", "room", False), ("query", "tokens", False),
        ("header", "Authorization", True), ("header", "Proxy-Authorization", True),
        ("header", "Cookie", True), ("header", "X-Api-Key", True), ("header", "Accept", False),
        ("cookie", "sessionid", True), ("cookie", "connect.sid", True),
        ("cookie", "refresh_token", True), ("cookie", "theme", False),
    ],
)
def test_builtin_names(kind: str, name: str, secret: bool) -> None:
    """The fixed defaults live here, compared in lower case with "-" read as "_"."""
    assert getattr(Secrets(), f"is_secret_{kind}")(name) is secret


def test_declarations_during_a_build_stay_in_that_stack() -> None:
    """declare_secret inside a stack's build goes to that stack; a sibling does not see it."""
    one, two = Secrets(parent=PROCESS), Secrets(parent=PROCESS)
    with building(one):
        assert current_secrets() is one
        declare_secret(query=["access", None, ""], header="X-Tenant", cookie="prefs",
                       event="siomw:reauth")
    assert current_secrets() is PROCESS
    assert one.is_secret_query("ACCESS") and one.is_secret_header("x-tenant")
    assert one.is_secret_cookie("prefs") and one.is_secret_event("siomw:reauth")
    assert not (two.is_secret_query("access") or two.is_secret_header("x-tenant")
                or two.is_secret_cookie("prefs") or two.is_secret_event("siomw:reauth"))
    assert one.declared() == {"query": ["access"], "header": ["x_tenant"], "cookie": ["prefs"],
                              "event": ["siomw:reauth"]}


@pytest.fixture
def process_wide() -> Iterator[None]:
    """Remove what the test declares process-wide."""
    yield
    PROCESS._query.discard("app_only_param")


def test_declarations_outside_a_build_reach_every_stack(process_wide: None) -> None:
    """An application's declare_secret at import time is process-wide."""
    declare_secret(query="app-only-param")
    assert Secrets(parent=PROCESS).is_secret_query("app_only_param")


class Declaring:
    """An in-code plugin reading its secret from the query parameter its table names."""

    @hookimpl
    def siomw_middlewares(self, config: Any, settings: CoreSettings) -> list[Middleware]:
        declare_secret(query="ticket")

        async def noop(socket: Any, call_next: Any) -> None:
            await call_next()

        return [Middleware(name="declaring", func=noop)]


def test_registry_builds_each_stack_into_its_own_registry() -> None:
    """Two registries (two servers in one process): only the one with the plugin has it."""
    config = Config(source="test", core=CoreSettings())
    with_plugin = Registry(config, entry_points=False, local_plugins=[("d", Declaring())])
    without = Registry(config, entry_points=False)
    assert with_plugin.secrets.is_secret_query("ticket")
    assert not without.secrets.is_secret_query("ticket")
    assert not PROCESS.is_secret_query("ticket")


@pytest.mark.parametrize("name", ["accessToken", "apiKey", "clientSecret", "AuthToken"])
def test_camel_case_query_and_cookie_names_are_secret(name: str) -> None:
    """JavaScript clients name parameters in camelCase: ``?accessToken=`` is as secret as
    ``?access_token=`` in the access log and in cookies."""
    secrets = Secrets()
    assert secrets.is_secret_query(name)
    assert secrets.is_secret_cookie(name)


def test_camel_case_of_a_declared_name_is_secret() -> None:
    secrets = Secrets()
    secrets.declare(query="ticket_id")
    assert secrets.is_secret_query("ticketId") and secrets.is_secret_query("TICKET-ID")
    assert not secrets.is_secret_query("page") and not secrets.is_secret_query("pageSize")



_SAVED: list[dict[str, list[str]]] = []


def test_conftest_restores_every_kind_of_process_declaration() -> None:
    """Declares every kind of name process-wide (event names too); the next test checks
    that the autouse fixture (tests/conftest.py) put PROCESS back."""
    assert set(PROCESS.declared()) == {"query", "header", "cookie", "event"}
    _SAVED.append(PROCESS.declared())
    declare_secret(query="leak_q", header="x-leak", cookie="leak_c", event="leak:event")
    assert PROCESS.is_secret_event("leak:event") and PROCESS.is_secret_query("leak_q")


def test_conftest_restored_the_previous_declarations() -> None:
    """(Runs after the one above.) Its event, query, header and cookie names are gone."""
    assert _SAVED and PROCESS.declared() == _SAVED[0]
    assert not PROCESS.is_secret_event("leak:event")
    assert not PROCESS.is_secret_query("leak_q")
