"""The pages' GraphQL documents: all in ``static/documents.js``, all valid against the schema.

Node loads the module as the browser does (so shared selections are filled in) and the
documents are validated against ``schema.graphql`` (itself kept equal to the code by
``tests/api/test_access.py``). A document written in another module fails the second
test, so none escapes the check.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from graphql import build_schema, parse, validate

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "tagtrail" / "web" / "static"
DOCUMENT_START = re.compile(r"[`\"']\s*(query|mutation|subscription|fragment)\b\s*[A-Za-z_{(]")


def _documents(tmp_path: Path) -> dict[str, str]:
    """Every exported document by name (``NAME`` or ``NAME.key`` for a table of them)."""
    module = tmp_path / "documents.mjs"  # .mjs: an ES module whatever package.json says
    shutil.copy(STATIC / "documents.js", module)
    script = f"import * as d from {json.dumps(module.as_uri())}; console.log(JSON.stringify(d));"
    node = shutil.which("node") or "node"
    done = subprocess.run(
        [node, "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    found: dict[str, str] = {}
    for name, value in json.loads(done.stdout).items():
        if isinstance(value, str):
            found[name] = value
        else:
            found.update({f"{name}.{key}": text for key, text in value.items()})
    return found


def test_every_document_of_the_pages_validates(tmp_path: Path) -> None:
    schema = build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8"))
    documents = _documents(tmp_path)
    assert {"SEARCH", "EXPLAIN", "DECIDE.corrected", "DECIDE_MANY.rejected", "REOPEN"} <= set(
        documents
    )
    failures = {
        name: [e.message for e in validate(schema, parse(text))] for name, text in documents.items()
    }
    assert not {name: errors for name, errors in failures.items() if errors}


def test_no_page_writes_a_document_elsewhere() -> None:
    for module in sorted(STATIC.glob("*.js")):
        if module.name == "documents.js":
            continue
        text = module.read_text(encoding="utf-8")
        found = [m.group(0) for m in DOCUMENT_START.finditer(text)]
        assert not found, f"{module.name} writes documents {found}: move them to documents.js"
