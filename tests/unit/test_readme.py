"""The README's runnable blocks paste into zsh as it comes (macOS's shell, without
`interactivecomments`), where a `#` starts no comment: a comment there would run as a command, and a
quote or a parenthesis in one would swallow or break the lines after it. The walkthrough is also
pasted into zsh and bash in a terminal by tests/e2e/test_user_flows.py."""

from __future__ import annotations

import re
import shlex

import pytest

from devstack.template import ROOT

README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("marker", ["walkthrough", "idempotency", "analysis", "client"])
def test_a_runnable_block_has_no_comment_for_zsh_to_run(marker: str) -> None:
    found = re.search(rf"<!-- {marker} -->(.*?)(?:<!-- /{marker} -->|\n\n[^`\n])", README, re.S)
    assert found is not None, marker
    blocks = re.findall(r"```sh\n(.*?)```", found.group(1), re.S)
    assert blocks, marker
    for block in blocks:
        lexer = shlex.shlex(block, posix=True, punctuation_chars=True)
        lexer.commenters = ""  # as zsh reads it: a `#` is an ordinary character
        lexer.whitespace_split = True
        words = list(lexer)
        assert not [word for word in words if word.startswith("#")], f"{marker}: a comment in\n{block}"


# The pages a newcomer reads in the repository.
PAGES = ["README.md", "CHANGELOG.md", "docs/api.md", "docs/operations.md", "clients/python/README.md"]


@pytest.mark.parametrize("page", PAGES)
def test_every_link_of_a_page_stays_in_the_repository_and_finds_its_file(page: str) -> None:
    text = re.sub(r"```.*?```", "", (ROOT / page).read_text(), flags=re.S)  # code blocks hold no links
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links or page == "CHANGELOG.md"
    for link in links:
        if re.match(r"(https?|mailto):|#", link):
            continue
        target = (ROOT / page).parent / link.split("#")[0]
        assert target.resolve().is_relative_to(ROOT), f"{page}: {link} points outside the repository"
        assert target.exists(), f"{page}: {link} finds nothing"


def test_the_licence_is_the_mit_licence_the_packages_declare() -> None:
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License\n\nCopyright (c) 2026 The imagejobs authors\n")
    for project in ("pyproject.toml", "clients/python/pyproject.toml"):
        assert 'license = "MIT"' in (ROOT / project).read_text(), project
