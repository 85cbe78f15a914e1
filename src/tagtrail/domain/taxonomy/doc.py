"""Shared pieces of taxonomy parsing: the per-file error builder and common checks."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from tagtrail.domain.governance import TIERS, Governance, Tier
from tagtrail.domain.taxonomy.model import (
    Attribute,
    Brand,
    ModelLabel,
    Value,
)
from tagtrail.errors import TaxonomyError

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
SEASONS = {"SS": "SS", "FW": "FW", "AW": "FW"}
ATTR_KEYS = ("label", "description", "values", "vocabulary", "rules", "governance")
OVERLAY_KEYS = ("labels", "values", "vocabulary", "rules")


class ParsedTaxonomy(NamedTuple):
    name: str
    label: str
    attributes: tuple[Attribute, ...]
    brands: tuple[Brand, ...]
    mapping_order: tuple[str, ...]


def entry_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Doc:
    """One file being parsed; builds errors that name it."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, path: str, message: str) -> TaxonomyError:
        return TaxonomyError(message, file=self.file, path=path or "$")

    def mapping(
        self, raw: Any, path: str, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.fail(path, f"expected a mapping, got {type(raw).__name__}")
        allowed = required + optional
        for key in raw:
            if key not in allowed:
                raise self.fail(
                    entry_path(path, str(key)), f"unknown key {key!r}; allowed: {allowed}"
                )
        for key in required:
            if raw.get(key) is None:
                raise self.fail(entry_path(path, key), "missing required field")
        return raw

    def text(self, raw: Any, path: str) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise self.fail(path, f"expected a non-empty string, got {raw!r}")
        return raw

    def ident(self, raw: Any, path: str) -> str:
        if not isinstance(raw, str) or not ID_PATTERN.match(raw):
            raise self.fail(path, f"invalid id {raw!r} (lowercase letters, digits, '_')")
        return raw

    def texts(self, raw: Any, path: str, *, scalar_ok: bool = False) -> tuple[str, ...]:
        if scalar_ok and not isinstance(raw, list):
            raw = [raw]
        if not isinstance(raw, list):
            raise self.fail(path, f"expected a list of strings, got {raw!r}")
        return tuple(self.text(item, f"{path}[{i}]") for i, item in enumerate(raw))

    def governance(self, raw: Any, path: str, base: Governance) -> Governance:
        raw = self.mapping(raw, path, optional=("high", "medium", "cap"))
        numbers = {"high": base.high, "medium": base.medium}
        for key in numbers:
            if key in raw:
                value = raw[key]
                ok = isinstance(value, int | float) and not isinstance(value, bool)
                if not ok or not 0.0 <= float(value) <= 1.0:
                    raise self.fail(
                        entry_path(path, key), f"threshold must be in [0, 1], got {value!r}"
                    )
                numbers[key] = float(value)
        if numbers["medium"] > numbers["high"]:
            raise self.fail(
                entry_path(path, "medium"), f"medium {numbers['medium']} > high {numbers['high']}"
            )
        cap = raw.get("cap", base.cap)
        if cap not in TIERS:
            raise self.fail(
                entry_path(path, "cap"), f"unknown tier {cap!r}; known: {sorted(TIERS)}"
            )
        tier: Tier = cap
        return Governance(high=numbers["high"], medium=numbers["medium"], cap=tier)

    def templates(self, raw: Any, path: str) -> tuple[str, ...]:
        out = self.texts(raw, path)
        for i, template in enumerate(out):
            if "{label}" not in template:  # a template without it adds the same text to all
                raise self.fail(f"{path}[{i}]", "prompt template must contain '{label}'")
        return out

    def values(self, raw: Any, path: str, known: dict[str, Value]) -> list[Value]:
        """Parse a values list, checking ids, parents and cycles against ``known`` too."""
        if not isinstance(raw, list) or not raw:
            raise self.fail(path, "expected a non-empty list of values")
        parsed: list[tuple[str, Value]] = []
        seen = dict(known)
        for i, entry in enumerate(raw):
            where = f"{path}[{i}]"
            entry = self.mapping(entry, where, ("id",), ("label", "synonyms", "parent"))
            value_id = self.ident(entry["id"], f"{where}.id")
            if value_id in seen:
                raise self.fail(f"{where}.id", f"duplicate value id {value_id!r}")
            parent = entry.get("parent")
            value = Value(
                id=value_id,
                label=self.text(entry.get("label", value_id.replace("_", " ").title()), where),
                synonyms=self.texts(entry.get("synonyms", []), f"{where}.synonyms"),
                parent=None if parent is None else self.ident(parent, f"{where}.parent"),
            )
            seen[value_id] = value
            parsed.append((where, value))
        for where, value in parsed:
            if value.parent is not None and value.parent not in seen:
                raise self.fail(f"{where}.parent", f"unknown parent {value.parent!r}")
            chain = [value.id]
            current = value.parent
            while current is not None:
                if current in chain:
                    cycle = " → ".join([*chain, current])
                    raise self.fail(f"{where}.parent", f"parent cycle: {cycle}")
                chain.append(current)
                current = seen[current].parent
        return [value for _, value in parsed]

    def vocabulary(
        self, raw: Any, path: str, templates: tuple[str, ...], known: set[str]
    ) -> list[tuple[ModelLabel, str | None, str]]:
        """(label, maps_to, entry path) for each entry; a bare string is a label."""
        if not isinstance(raw, list) or not raw:
            raise self.fail(path, "expected a non-empty list of model labels")
        out: list[tuple[ModelLabel, str | None, str]] = []
        seen = set(known)
        for i, entry in enumerate(raw):
            where = f"{path}[{i}]"
            if isinstance(entry, str):
                entry = {"label": entry}
            entry = self.mapping(entry, where, ("label",), ("prompts", "maps_to"))
            label = self.text(entry["label"], f"{where}.label")
            if label in seen:
                raise self.fail(f"{where}.label", f"duplicate model label {label!r}")
            seen.add(label)
            own = self.texts(entry.get("prompts", []), f"{where}.prompts")
            prompts = [t.replace("{label}", label) for t in (*templates, *own)]
            for prompt in prompts:
                if "{" in prompt or "}" in prompt:
                    raise self.fail(f"{where}.prompts", f"unknown placeholder in {prompt!r}")
            if not prompts:
                raise self.fail(f"{where}.prompts", "no prompts (and no prompt_templates)")
            maps_to = entry.get("maps_to")
            maps = None if maps_to is None else self.ident(maps_to, f"{where}.maps_to")
            model_label = ModelLabel(label=label, prompts=tuple(dict.fromkeys(prompts)))
            out.append((model_label, maps, where))
        return out
