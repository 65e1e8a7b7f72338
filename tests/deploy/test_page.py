"""docs/production.md says what the recipe's tests run: its files are included from
docs/examples/production (the tests use those files), its commands are the ones the harness
runs, and the refusal it shows is the one ``siomw serve --workers`` prints."""

from __future__ import annotations

import re

from tests.deploy.harness import APPS, PRODUCTION, REPO
from tests.deploy.test_workers import refusal

PAGE = (REPO / "docs" / "production.md").read_text()


def test_every_file_of_the_recipe_is_on_the_page() -> None:
    """Each file of docs/examples/production is included by a snippet line, and nothing
    else of that folder is."""
    included = set(re.findall(r'--8<-- "docs/examples/production/([^"]+)"', PAGE))
    assert included == {p.name for p in PRODUCTION.iterdir() if p.suffix in
                        (".py", ".toml", ".conf")}


def test_the_commands_are_the_harness_commands() -> None:
    """The page's ``siomw serve`` lines name the APP the harness serves, on loopback ports
    of the nginx upstream."""
    commands = re.findall(r"^siomw serve (\S+) --host 127\.0\.0\.1 --port (\d+)", PAGE, re.M)
    assert {app for app, _ in commands} == {APPS["asgi"]}
    upstream = set(re.findall(r"server 127\.0\.0\.1:(\d+);",
                              (PRODUCTION / "nginx.conf").read_text()))
    assert {port for _, port in commands} == upstream
    assert f"siomw serve {APPS['wsgi']} ..." in PAGE


def test_the_refusal_shown_is_the_one_printed() -> None:
    """The ``text`` block of the --workers section is the line tests/deploy/test_workers.py
    checks ``siomw serve --workers 2`` prints."""
    shown = re.search(r"```text\n(Error: --workers 2: .*)\n```", PAGE)
    assert shown is not None
    assert shown.group(1) == refusal(2, "uvicorn")
