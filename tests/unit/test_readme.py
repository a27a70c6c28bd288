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


@pytest.mark.parametrize("marker", ["walkthrough", "idempotency", "client"])
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
