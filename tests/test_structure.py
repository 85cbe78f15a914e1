"""The shape of the code base: no import cycles, no private names crossing modules, no code
packed to fit a line count. (Which layer may import which is import-linter's job:
pyproject.toml, run by the test command. Modules over ~400 lines are named in the test
run's summary, by ``long_modules`` via tests/conftest.py: a prompt to cut where concepts part,
not a failure.)"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

SRC = Path(__file__).resolve().parents[1] / "src" / "tagtrail"
MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "embedded/java" not in str(p))


def test_no_import_cycles() -> None:
    graph = grimp.build_graph("tagtrail")
    cycles = sorted(
        (module, imported)
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.startswith("tagtrail")
        and graph.chain_exists(importer=imported, imported=module)
    )
    assert cycles == []


def test_no_private_names_cross_modules() -> None:
    crossings = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tagtrail"):
                private = [
                    a.name
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
                module_private = any(
                    part.startswith("_") and not part.startswith("__")
                    for part in (node.module or "").split(".")
                )
                if private or module_private:
                    crossings.append(f"{path.relative_to(SRC)}: {node.module} {private}")
    assert crossings == []


def long_modules() -> dict[str, int]:
    """Modules of the package over ``MAX_LINES`` lines, with their length."""
    return {
        str(p.relative_to(SRC)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }


def test_no_code_is_packed_to_fit() -> None:
    """Formatting is ruff's: no fmt-skip or fmt-off comment anywhere (they were used to pack
    code under a line count)."""
    root = SRC.parents[1]
    packed = sorted(
        f"{path.relative_to(root)}:{number}"
        for folder in ("src", "tests", "bench")
        for path in (root / folder).rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "# fmt: " + "skip" in line or "# fmt: " + "off" in line
    )
    assert packed == []


def test_only_the_store_imports_opensearchpy() -> None:
    importers = sorted(
        str(p.relative_to(SRC))
        for p in _modules()
        if "opensearchpy" in p.read_text(encoding="utf-8")
        and not str(p.relative_to(SRC)).startswith("store/")
    )
    assert importers == []
