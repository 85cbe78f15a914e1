"""Generated taxonomy changes for the stateful test: a copy of the folder in force with one
migration applied to its YAML (rename, move, merge, split, retire, retire an attribute,
palette rename) and the ``migrations.yaml`` that says where the tags go."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import yaml

from tagtrail.domain.taxonomy import Taxonomy

OPS = ("rename", "move", "merge", "split", "retire", "retire_attribute", "palette_rename")
# Values the brand overlays name (their labels, rules and conditions would need edits too):
# the generated migrations leave them alone, as does every value with children.
BRAND_NAMED = frozenset(
    {"puffer_jacket", "gilet", "parka", "storm_parka", "co_ord_sets", "co_ord_separates", "navy"}
)
# Attributes no mapping rule of another attribute tests: they can be retired on their own.
RETIRABLE = ("neckline", "sleeve_length", "pattern")


class Migration(msgspec.Struct, kw_only=True, frozen=True):
    """One generated change: ``op`` on ``attribute`` from ``source`` to ``targets``."""

    op: str
    attribute: str
    source: str = ""
    targets: tuple[str, ...] = ()
    parent: str | None = None  # move: the new parent

    def maps(self, attribute: str, value: str | None) -> tuple[str, ...] | None:
        """Where a tag of ``attribute`` holding ``value`` goes: the same value (a 1-tuple),
        the new one, the split's candidates, or None (retired)."""
        if attribute != self.attribute or value is None:
            return (value,) if value is not None else ()
        if self.op == "retire_attribute":
            return None
        if value != self.source or self.op == "move":
            return (value,)
        if self.op == "retire":
            return None
        return self.targets


def leaves(taxonomy: Taxonomy, attribute: str) -> list[str]:
    """Value ids of ``attribute`` with no children and no brand overlay naming them."""
    values = taxonomy.attribute(attribute).values
    parents = {v.parent for v in values if v.parent}
    return sorted(v.id for v in values if v.id not in parents and v.id not in BRAND_NAMED)


def roots(taxonomy: Taxonomy, attribute: str) -> list[str]:
    return sorted(v.id for v in taxonomy.attribute(attribute).values if not v.parent)


def plan(taxonomy: Taxonomy, op: str, pick: int, serial: int, in_use: list[str]) -> Migration:
    """The ``op`` migration on a value chosen by ``pick`` (values in use first)."""
    if op == "retire_attribute":
        present = [a for a in RETIRABLE if a in taxonomy.attribute_names]
        return Migration(op=op, attribute=present[pick % len(present)] if present else "")
    attribute = (
        "colour" if op == "palette_rename" else ("material" if op == "retire" else "category")
    )
    candidates = leaves(taxonomy, attribute)
    used = sorted({v for v in in_use if v in candidates})
    # Two times in three a value some asset holds (decided ones first): that is where a
    # migration can lose a decision.
    preferred = used if used and pick % 3 else candidates
    source = preferred[(pick // 3) % len(preferred)]
    if op in ("rename", "palette_rename"):
        target = f"{source}_r{serial}"
        return Migration(op=op, attribute=attribute, source=source, targets=(target,))
    if op == "merge":
        others = [v for v in candidates if v != source]
        return Migration(
            op=op, attribute=attribute, source=source, targets=(others[(pick // 7) % len(others)],)
        )
    if op == "split":
        return Migration(
            op=op,
            attribute=attribute,
            source=source,
            targets=(f"{source}_a{serial}", f"{source}_b{serial}"),
        )
    if op == "move":
        value = taxonomy.attribute(attribute).value(source)
        parents = [r for r in roots(taxonomy, attribute) if value is None or r != value.parent]
        return Migration(
            op=op, attribute=attribute, source=source, parent=parents[pick % len(parents)]
        )
    return Migration(op=op, attribute=attribute, source=source)


# Model-side text: a value's id changes, not the words the model is prompted with.
TEXT_KEYS = frozenset({"label", "prompts", "when_label", "synonyms", "description"})


def _replace(node: Any, old: str, new: str) -> Any:
    """Every value id (string or mapping key) equal to ``old`` becomes ``new``."""
    if isinstance(node, dict):
        return {
            (new if k == old else k): v if k in TEXT_KEYS else _replace(v, old, new)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_replace(v, old, new) for v in node]
    return new if node == old else node


def _mentions(node: Any, value: str) -> bool:
    if isinstance(node, dict):
        return any(_mentions(v, value) for v in node.values())
    if isinstance(node, list):
        return any(_mentions(v, value) for v in node)
    return bool(node == value)


def _edit_values(data: dict[str, Any], m: Migration) -> None:
    attr = data["attributes"][m.attribute]
    values = attr["values"]
    at = next(i for i, v in enumerate(values) if v["id"] == m.source)
    if m.op == "move":
        values[at]["parent"] = m.parent
    elif m.op == "split":
        entry = values[at]
        values[at : at + 1] = [
            {**entry, "id": t, "label": f"{entry['label']} {t[-2:]}", "synonyms": []}
            for t in m.targets
        ]
        data["attributes"] = _replace(data["attributes"], m.source, m.targets[0])
    elif m.op == "merge":
        del values[at]
        data["attributes"] = _replace(data["attributes"], m.source, m.targets[0])
    elif m.op == "retire":
        del values[at]
        for key in ("vocabulary", "rules"):
            attr[key] = [e for e in attr.get(key) or () if not _mentions(e, m.source)]
    else:  # rename
        data["attributes"] = _replace(data["attributes"], m.source, m.targets[0])


def _migration_entry(m: Migration, serial: int) -> dict[str, Any] | None:
    name = f"gen-{serial}-{m.op}"
    if m.op == "move":
        return None  # a move needs no entry: tags are re-expanded under the new hierarchy
    if m.op == "retire_attribute":
        return {"id": name, "retire_attribute": m.attribute}
    if m.op == "retire":
        return {"id": name, "attribute": m.attribute, "retire": [m.source]}
    if m.op == "merge":
        body = {"from": [m.source, m.targets[0]], "to": m.targets[0]}
        return {"id": name, "attribute": m.attribute, "merge": body}
    if m.op == "split":
        return {
            "id": name,
            "attribute": m.attribute,
            "split": {"from": m.source, "to": list(m.targets)},
        }
    return {"id": name, "attribute": m.attribute, "rename": {"from": m.source, "to": m.targets[0]}}


def _rewrite(path: Path, change: Callable[[Any], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def write_folder(current: Path, out: Path, m: Migration, serial: int) -> Path:
    """A new taxonomy folder: ``current`` with ``m`` applied, and its migrations.yaml."""
    shutil.copytree(current, out)
    (out / "migrations.yaml").unlink(missing_ok=True)
    if m.op == "palette_rename":

        def rename_colour(data: Any) -> None:
            next(c for c in data["colours"] if c["name"] == m.source)["name"] = m.targets[0]

        _rewrite(out / "colours.yaml", rename_colour)
    elif m.op == "retire_attribute":
        _rewrite(out / "taxonomy.yaml", lambda d: d["attributes"].pop(m.attribute))
    else:
        _rewrite(out / "taxonomy.yaml", lambda d: _edit_values(d, m))
    entry = _migration_entry(m, serial)
    if entry is not None:
        text = yaml.safe_dump({"migrations": [entry]}, sort_keys=False)
        (out / "migrations.yaml").write_text(text, encoding="utf-8")
    return out
