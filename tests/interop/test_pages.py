"""The integration pages show what the interop suite runs: each kind's page includes its
example app from docs/examples/kinds (pymdownx snippets: the file itself, not a copy) and
has, alone on a line of a bash block, the command the suite starts it with."""

from __future__ import annotations

import re
from pathlib import Path

import jwt
import pytest

from tests.interop.servers import KINDS, KINDS_DIR, REPO, Kind
from tests.test_docs import run_shell

PAGES = REPO / "docs" / "integrations"


def bash_lines(page: str) -> list[str]:
    text = (PAGES / page).read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines()]


@pytest.mark.parametrize("kind", list(KINDS.values()), ids=list(KINDS))
def test_page_includes_the_app_and_its_command(kind: Kind) -> None:
    text = (PAGES / kind.page).read_text()
    assert f'--8<-- "docs/examples/kinds/{kind.app}"' in text
    assert kind.command in bash_lines(kind.page), (kind.page, kind.command)
    if kind.serve:
        assert kind.serve in bash_lines(kind.page), (kind.page, kind.serve)


def test_every_example_and_page_is_used() -> None:
    """Each app in docs/examples/kinds is a kind the suite runs; each page is in the nav,
    and the shared siomw.toml is shown on the overview."""
    apps = {p.name for p in KINDS_DIR.glob("*.py")}
    assert apps == {k.app for k in KINDS.values()}
    nav = (REPO / "mkdocs.yml").read_text()
    for page in PAGES.glob("*.md"):
        assert f"integrations/{page.name}" in nav, page.name
    overview = (PAGES / "index.md").read_text()
    assert '--8<-- "docs/examples/kinds/siomw.toml"' in overview


async def test_overview_secret_and_token_block_runs(tmp_path: Path) -> None:
    """The overview's bash block, in a new shell: it makes the secret file, and the token it
    prints is an HS256 token for alice signed with that secret (what the apps accept)."""
    text = (PAGES / "index.md").read_text()
    [block] = [b for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)
               if "siomw token" in b]
    printed = (await run_shell(block, tmp_path)).strip().splitlines()[-1]
    secret = (tmp_path / ".siomw-secret").read_text().strip()
    claims = jwt.decode(printed, secret, algorithms=["HS256"])
    assert claims["sub"] == "alice" and "exp" in claims
