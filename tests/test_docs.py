"""The documentation (README and the MkDocs site in docs/) builds and its examples are real.

The site builds with ``--strict`` (a broken link or anchor, or a page missing from the
navigation, fails it); every GraphQL block validates against the schema; every
``tagtrail ...`` command line parses with the real CLI parser.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from graphql import parse, validate

from tagtrail.api.graphql.schema import build_schema
from tagtrail.cli import build_parser
from tagtrail.config import load_settings

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _fenced(language: tuple[str, ...]) -> list[tuple[str, int, str]]:
    """(page, first line, text) of every fenced block in one of ``language``."""
    found = []
    for page in PAGES:
        fence: str | None = None
        start, body = 0, []
        lines = page.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            stripped = line.strip()
            if stripped.startswith("```"):
                if fence is None:
                    fence, start, body = stripped[3:].strip(), number, []
                    continue
                if fence in language:
                    found.append((page.relative_to(ROOT).as_posix(), start, "\n".join(body)))
                fence = None
                continue
            if fence is not None:
                body.append(line)
    return found


GRAPHQL = _fenced(("graphql",))
SHELL = _fenced(("", "bash", "sh"))


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # Material's banner, not ours
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "graphql" / "index.html").exists()


def test_the_docs_have_examples() -> None:
    pages = {page for page, _, _ in GRAPHQL}
    assert {"README.md", "docs/graphql.md", "docs/learning.md"} <= pages
    assert len(GRAPHQL) >= 12
    assert len(_command_lines()) >= 20


@pytest.mark.parametrize("block", GRAPHQL, ids=[f"{page}:{line}" for page, line, _ in GRAPHQL])
def test_graphql_block_validates_against_the_schema(block: tuple[str, int, str]) -> None:
    page, line, text = block
    schema = build_schema(load_settings(environ={}))._schema
    errors = validate(schema, parse(text))
    assert not errors, f"{page}:{line}: {errors}"


def _command_lines() -> list[str]:
    lines = []
    for _page, _start, text in SHELL:
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("tagtrail "):
                lines.append(line.split("  #", 1)[0].split(" # ", 1)[0].strip())
    return lines


def _expansions(line: str) -> list[list[str]]:
    """Synopsis forms: `a|b|c` is each of them; `[...]` is optional (left out here)."""
    words = shlex.split(re.sub(r"\[[^\]]*\]", "", line))[1:]
    choices = [w.split("|") if "|" in w and not w.startswith("-") else [w] for w in words]
    return [list(c) for c in itertools.product(*choices)]


@pytest.mark.parametrize("line", sorted(set(_command_lines())))
def test_command_line_parses(line: str) -> None:
    parser = build_parser()
    for argv in _expansions(line):
        try:
            parser.parse_args(argv)
        except SystemExit as exc:  # argparse's way of saying no
            pytest.fail(f"documented line does not parse: {line!r} as {argv} ({exc})")
