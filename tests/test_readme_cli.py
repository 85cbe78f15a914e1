"""Every `tagtrail ...` command line in the README parses with the real CLI parser."""

from __future__ import annotations

import itertools
import re
import shlex
from pathlib import Path

import pytest

from tagtrail.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def _command_lines() -> list[str]:
    lines, fence = [], None
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
            continue
        if fence in ("", "bash", "sh") and line.startswith("tagtrail "):
            lines.append(line.split("  #", 1)[0].split(" # ", 1)[0].strip())
    return lines


def _expansions(line: str) -> list[list[str]]:
    """Synopsis forms: `a|b|c` is each of them; `[...]` is optional (left out here)."""
    words = shlex.split(re.sub(r"\[[^\]]*\]", "", line))[1:]
    choices = [w.split("|") if "|" in w and not w.startswith("-") else [w] for w in words]
    return [list(c) for c in itertools.product(*choices)]


def test_the_readme_has_command_lines() -> None:
    lines = _command_lines()
    assert len(lines) >= 15
    assert "tagtrail retag --preview --attribute category --sample 5" in lines


@pytest.mark.parametrize("line", _command_lines())
def test_readme_command_parses(line: str) -> None:
    parser = build_parser()
    for argv in _expansions(line):
        try:
            parser.parse_args(argv)
        except SystemExit as exc:  # argparse's way of saying no
            pytest.fail(f"README line does not parse: {line!r} as {argv} ({exc})")
