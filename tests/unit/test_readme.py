"""Every shell block of the README and the client's README pastes into zsh as it comes (macOS's
shell, without `interactivecomments`), where a `#` starts no comment: a comment there would run as a
command, and a quote or a parenthesis in one would swallow or break the lines after it. What a
comment would say goes in the words around the block. The walkthrough is also pasted into zsh and
bash in a terminal by tests/e2e/test_user_flows.py."""

from __future__ import annotations

import re
import shlex

import pytest

from devstack.template import ROOT

README = (ROOT / "README.md").read_text()


# The pages whose shell blocks a reader pastes, and the languages of a shell block (no language: a
# block of commands too).
SHELL_PAGES = ["README.md", "clients/python/README.md"]
SHELLS = {"sh", "bash", "zsh", "shell", "console", ""}


def shell_blocks(page: str) -> list[str]:
    found = re.findall(r"^( *)```(\S*)\n(.*?)^\1```$", (ROOT / page).read_text(), re.M | re.S)  # in a list too
    return [block for _, language, block in found if language in SHELLS]


def comments(block: str) -> list[str]:
    """The words of a block that a `#` starts, which bash skips and zsh runs; or the quote that a
    comment left open, which swallows the lines after it."""
    lexer = shlex.shlex(block, posix=True, punctuation_chars=True)
    lexer.commenters = ""  # as zsh reads it: a `#` is an ordinary character
    lexer.whitespace_split = True
    try:
        return [word for word in lexer if word.startswith("#")]
    except ValueError:  # "No closing quotation"
        return ["a quote left open (by an apostrophe in a comment?)"]


@pytest.mark.parametrize("page", SHELL_PAGES)
def test_no_shell_block_of_a_page_has_a_comment_for_zsh_to_run(page: str) -> None:
    blocks = shell_blocks(page)
    assert blocks, page
    found = [
        f"{page}, the block that starts `{block.splitlines()[0]}`: {words}"
        for block in blocks
        if (words := comments(block))
    ]
    assert not found, "\n".join(found)


# The marked shell blocks: the walkthrough is what `make run` prints, and the end-to-end tests paste
# it and most of the others into bash or zsh.
MARKED = ["walkthrough", "client", "idempotency", "analysis", "archives", "links", "buckets", "prefix-batch"]


@pytest.mark.parametrize("marker", MARKED)
def test_a_marked_block_is_a_shell_block_that_the_comment_check_covers(marker: str) -> None:
    first_block = rf"<!-- {marker} -->\n(?:(?!```)[^\n]*\n)*```sh\n"
    assert re.search(first_block, README), f"README.md: the first block after <!-- {marker} --> is not ```sh"


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
