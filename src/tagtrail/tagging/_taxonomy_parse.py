"""Validation of taxonomy documents into typed structs (used by :mod:`.taxonomy`).

Hand-written rather than ``msgspec.convert`` so that every error names the file and the
YAML entry path in the customer's words ("attributes.category.values[3].parent").
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import msgspec

from tagtrail.errors import TaxonomyError
from tagtrail.tagging.governance import TIERS, Governance, Tier
from tagtrail.tagging.palette import Palette
from tagtrail.tagging.taxonomy import (
    CONTEXT_KEYS,
    Attribute,
    Brand,
    BrandAttribute,
    Condition,
    Kind,
    ModelLabel,
    Rule,
    Source,
    Value,
)

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_SEASONS = {"SS": "SS", "FW": "FW", "AW": "FW"}
_ATTR_KEYS = ("label", "description", "values", "vocabulary", "rules", "governance")
_OVERLAY_KEYS = ("labels", "values", "vocabulary", "rules")


class ParsedTaxonomy(NamedTuple):
    name: str
    label: str
    attributes: tuple[Attribute, ...]
    brands: tuple[Brand, ...]
    mapping_order: tuple[str, ...]


class _Doc:
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
                raise self.fail(_at(path, str(key)), f"unknown key {key!r}; allowed: {allowed}")
        for key in required:
            if raw.get(key) is None:
                raise self.fail(_at(path, key), "missing required field")
        return raw

    def text(self, raw: Any, path: str) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise self.fail(path, f"expected a non-empty string, got {raw!r}")
        return raw

    def ident(self, raw: Any, path: str) -> str:
        if not isinstance(raw, str) or not _ID.match(raw):
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
                    raise self.fail(_at(path, key), f"threshold must be in [0, 1], got {value!r}")
                numbers[key] = float(value)
        if numbers["medium"] > numbers["high"]:
            raise self.fail(
                _at(path, "medium"), f"medium {numbers['medium']} > high {numbers['high']}"
            )
        cap = raw.get("cap", base.cap)
        if cap not in TIERS:
            raise self.fail(_at(path, "cap"), f"unknown tier {cap!r}; known: {sorted(TIERS)}")
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


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Scope(NamedTuple):
    """What rules of one attribute may refer to."""

    attribute: str
    labels: set[str]
    values: dict[str, set[str]]  # attribute → value ids visible to the rule
    brands: set[str]
    brand: str | None


def _rules(doc: _Doc, raw: Any, path: str, scope: _Scope, rule_ids: set[str]) -> list[Rule]:
    if not isinstance(raw, list):
        raise doc.fail(path, "expected a list of rules")
    rules: list[Rule] = []
    for i, entry in enumerate(raw):
        where = f"{path}[{i}]"
        entry = doc.mapping(entry, where, ("id", "when_label", "then"), ("when",))
        rule_id = doc.text(entry["id"], f"{where}.id")
        if rule_id in rule_ids:
            raise doc.fail(f"{where}.id", f"duplicate rule id {rule_id!r}")
        rule_ids.add(rule_id)
        labels = doc.texts(entry["when_label"], f"{where}.when_label", scalar_ok=True)
        for j, label in enumerate(labels):
            if label not in scope.labels:
                raise doc.fail(f"{where}.when_label[{j}]", f"unknown model label {label!r}")
        then = doc.ident(entry["then"], f"{where}.then")
        if then not in scope.values[scope.attribute]:
            raise doc.fail(f"{where}.then", f"unknown {scope.attribute} value {then!r}")
        when = _conditions(doc, entry.get("when", {}), f"{where}.when", scope)
        rules.append(Rule(id=rule_id, when_label=labels, then=then, when=when, brand=scope.brand))
    return rules


def _conditions(doc: _Doc, raw: Any, path: str, scope: _Scope) -> tuple[Condition, ...]:
    raw = doc.mapping(raw, path, optional=(*CONTEXT_KEYS, *scope.values))
    out: list[Condition] = []
    for key, value in raw.items():
        where = _at(path, key)
        items = doc.texts(value, where, scalar_ok=True)
        if key == scope.attribute:
            raise doc.fail(where, "a rule cannot test its own attribute")
        if key == "season":
            bad = [s for s in items if s.upper() not in _SEASONS]
            if bad:
                raise doc.fail(where, f"unknown season {bad[0]!r}; use SS or FW (AW)")
            items = tuple(dict.fromkeys(_SEASONS[s.upper()] for s in items))
        elif key == "brand":
            bad = [b for b in items if b not in scope.brands]
            if bad:
                raise doc.fail(where, f"unknown brand {bad[0]!r}; known: {sorted(scope.brands)}")
        elif key != "collection":
            bad = [v for v in items if v not in scope.values[key]]
            if bad:
                raise doc.fail(where, f"unknown {key} value {bad[0]!r}")
        out.append(Condition(key=key, any_of=items))
    return tuple(out)


def _default_rules(
    doc: _Doc, vocab: list[tuple[ModelLabel, str | None, str]], scope: _Scope, rule_ids: set[str]
) -> list[Rule]:
    """``maps_to`` shorthand → an unconditional rule after every explicit rule."""
    rules: list[Rule] = []
    for label, maps_to, where in vocab:
        if maps_to is None:
            continue
        if maps_to not in scope.values[scope.attribute]:
            raise doc.fail(f"{where}.maps_to", f"unknown {scope.attribute} value {maps_to!r}")
        rule_id = f"default:{label.label}"
        if rule_id in rule_ids:
            raise doc.fail(f"{where}.maps_to", f"duplicate rule id {rule_id!r}")
        rule_ids.add(rule_id)
        rules.append(Rule(id=rule_id, when_label=(label.label,), then=maps_to, brand=scope.brand))
    return rules


def _record_edges(
    edges: dict[tuple[str, str], tuple[str, str]],
    doc: _Doc,
    path: str,
    name: str,
    rules: list[Rule],
) -> None:
    """Remember which rule makes ``name`` depend on another attribute (for cycle errors)."""
    for i, rule in enumerate(rules):
        for cond in rule.when:
            if cond.key not in CONTEXT_KEYS:
                where = f"{path}.rules[{i}].when.{cond.key}"
                edges.setdefault((name, cond.key), (doc.file, where))


def _mapping_order(
    attributes: list[Attribute], edges: dict[tuple[str, str], tuple[str, str]]
) -> tuple[str, ...]:
    """Stable topological order; ``edges[(a, b)]`` = (file, path) of a rule of a testing b."""
    names = [a.name for a in attributes]
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(name: str, stack: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*stack[stack.index(name) :], name]
            file, path = edges[(cycle[-2], cycle[-1])]
            raise TaxonomyError(
                f"rule conditions form a cycle: {' → '.join(cycle)}", file=file, path=path
            )
        state[name] = 1
        for a, b in edges:
            if a == name:
                visit(b, [*stack, name])
        state[name] = 2
        order.append(name)

    for name in names:
        visit(name, [])
    return tuple(order)


def _overlay(
    raw: Any,
    doc: _Doc,
    stem: str,
    base: dict[str, Attribute],
    brands: dict[str, Brand],
    templates: dict[str, tuple[str, ...]],
    edges: dict[tuple[str, str], tuple[str, str]],
) -> Brand:
    top = doc.mapping(raw, "", ("brand",), ("description", "attributes"))
    brand_id = doc.ident(top["brand"], "brand")
    if brand_id not in brands:
        raise doc.fail("brand", f"unknown brand {brand_id!r}; declare it under brands: first")
    if brand_id != stem:
        raise doc.fail("brand", f"brand {brand_id!r} must live in brands/{brand_id}.yaml")
    entries = doc.mapping(top.get("attributes", {}), "attributes", optional=tuple(base))
    parsed: dict[str, tuple[dict[str, Any], list[Value], list[Any]]] = {}
    values = {n: {v.id for v in a.values} for n, a in base.items()}
    for name, entry in entries.items():
        path = f"attributes.{name}"
        attr = base[name]
        keys = _OVERLAY_KEYS if attr.source == "model" else ("labels",)
        entry = doc.mapping(entry, path, optional=keys)
        known = {v.id: v for v in attr.values}
        new_values = (
            doc.values(entry["values"], f"{path}.values", known) if "values" in entry else []
        )
        vocab = (
            doc.vocabulary(
                entry["vocabulary"],
                f"{path}.vocabulary",
                templates[name],
                {m.label for m in attr.vocabulary},
            )
            if "vocabulary" in entry
            else []
        )
        values[name] |= {v.id for v in new_values}
        parsed[name] = (entry, new_values, vocab)
    overlays: list[BrandAttribute] = []
    for name, (entry, new_values, vocab) in parsed.items():
        path = f"attributes.{name}"
        labels_raw = doc.mapping(
            entry.get("labels", {}), f"{path}.labels", optional=tuple(values[name])
        )
        labels = {str(k): doc.text(v, f"{path}.labels.{k}") for k, v in labels_raw.items()}
        attr = base[name]
        vocab_labels = {m.label for m in attr.vocabulary} | {m.label for m, _, _ in vocab}
        scope = _Scope(name, vocab_labels, values, set(brands), brand_id)
        rule_ids = {r.id for r in attr.rules}
        rules = _rules(doc, entry.get("rules", []), f"{path}.rules", scope, rule_ids)
        rules += _default_rules(doc, vocab, scope, rule_ids)
        _record_edges(edges, doc, path, name, rules)
        overlays.append(
            BrandAttribute(
                attribute=name,
                labels=labels,
                values=tuple(new_values),
                vocabulary=tuple(m for m, _, _ in vocab),
                rules=tuple(rules),
            )
        )
    brand = brands[brand_id]
    return Brand(id=brand.id, label=brand.label, aliases=brand.aliases, overlays=tuple(overlays))


def _brands(doc: _Doc, raw: Any) -> dict[str, Brand]:
    if not isinstance(raw, list):
        raise doc.fail("brands", "expected a list of brands")
    brands: dict[str, Brand] = {}
    for i, entry in enumerate(raw):
        entry = doc.mapping(entry, f"brands[{i}]", ("id", "label"), ("aliases",))
        brand_id = doc.ident(entry["id"], f"brands[{i}].id")
        if brand_id in brands:
            raise doc.fail(f"brands[{i}].id", f"duplicate brand {brand_id!r}")
        label = doc.text(entry["label"], f"brands[{i}].label")
        aliases = doc.texts(entry.get("aliases", []), f"brands[{i}].aliases")
        brands[brand_id] = Brand(id=brand_id, label=label, aliases=aliases)
    return brands


def _attribute(
    doc: _Doc,
    name: str,
    raw: Any,
    defaults: Governance,
    templates: tuple[str, ...],
    palette: Palette,
) -> tuple[Attribute, list[tuple[ModelLabel, str | None, str]], tuple[str, ...]]:
    """An attribute without its rules (they need every attribute's values first)."""
    path = f"attributes.{name}"
    doc.ident(name, path)
    if name in CONTEXT_KEYS:
        raise doc.fail(path, f"{name!r} is reserved for asset context conditions")
    entry = doc.mapping(raw, path, ("kind", "source"), (*_ATTR_KEYS, "prompt_templates"))
    kind: Kind = entry["kind"]
    if kind not in ("single", "multi"):
        raise doc.fail(f"{path}.kind", f"unknown kind {kind!r}; use single or multi")
    source: Source = entry["source"]
    if source not in ("model", "colour_analyser"):
        raise doc.fail(f"{path}.source", f"unknown source {source!r}")
    governance = doc.governance(entry.get("governance", {}), f"{path}.governance", defaults)
    vocab: list[tuple[ModelLabel, str | None, str]] = []
    if source == "colour_analyser":
        for key in ("values", "vocabulary", "rules", "prompt_templates"):
            if key in entry:
                raise doc.fail(f"{path}.{key}", "colour values come from colours.yaml")
        values = [
            Value(id=c.name, label=c.label, synonyms=c.synonyms, family=c.family)
            for c in palette.colours
        ]
    else:
        for key in ("values", "vocabulary"):
            if key not in entry:
                raise doc.fail(f"{path}.{key}", "missing required field")
        if "prompt_templates" in entry:
            templates = doc.templates(entry["prompt_templates"], f"{path}.prompt_templates")
        values = doc.values(entry["values"], f"{path}.values", {})
        vocab = doc.vocabulary(entry["vocabulary"], f"{path}.vocabulary", templates, set())
    attribute = Attribute(
        name=name,
        label=doc.text(entry.get("label", name.replace("_", " ").title()), f"{path}.label"),
        kind=kind,
        source=source,
        values=tuple(values),
        vocabulary=tuple(m for m, _, _ in vocab),
        rules=(),
        governance=governance,
    )
    return attribute, vocab, templates


def parse_taxonomy_documents(
    raw: Any, *, file: str, palette: Palette, overlays: list[tuple[str, str, Any]]
) -> ParsedTaxonomy:
    """Validate taxonomy.yaml (``raw``) and the brand overlays ``(file, stem, raw)``."""
    doc = _Doc(file)
    optional = ("description", "governance_defaults", "prompt_templates", "brands")
    top = doc.mapping(raw, "", ("name", "label", "attributes"), optional)
    defaults = doc.governance(
        top.get("governance_defaults", {}), "governance_defaults", Governance()
    )
    templates = doc.templates(top.get("prompt_templates", []), "prompt_templates")
    brands = _brands(doc, top.get("brands", []))
    attrs_raw = top["attributes"]
    if not isinstance(attrs_raw, dict) or not attrs_raw:
        raise doc.fail("attributes", "expected a non-empty mapping of attributes")
    stage1 = {
        name: _attribute(doc, name, entry, defaults, templates, palette)
        for name, entry in attrs_raw.items()
    }
    all_values = {n: {v.id for v in a.values} for n, (a, _, _) in stage1.items()}
    edges: dict[tuple[str, str], tuple[str, str]] = {}
    attributes: dict[str, Attribute] = {}
    for name, (attribute, vocab, _) in stage1.items():
        path = f"attributes.{name}"
        scope = _Scope(name, {m.label for m in attribute.vocabulary}, all_values, set(brands), None)
        rule_ids: set[str] = set()
        rules = _rules(doc, attrs_raw[name].get("rules", []), f"{path}.rules", scope, rule_ids)
        rules += _default_rules(doc, vocab, scope, rule_ids)
        _record_edges(edges, doc, path, name, rules)
        attributes[name] = msgspec.structs.replace(attribute, rules=tuple(rules))
    local_templates = {n: t for n, (_, _, t) in stage1.items()}
    for overlay_file, stem, overlay_raw in overlays:
        brand = _overlay(
            overlay_raw, _Doc(overlay_file), stem, attributes, brands, local_templates, edges
        )
        brands[brand.id] = brand
    ordered = list(attributes.values())
    return ParsedTaxonomy(
        name=doc.text(top["name"], "name"),
        label=doc.text(top["label"], "label"),
        attributes=tuple(ordered),
        brands=tuple(brands.values()),
        mapping_order=_mapping_order(ordered, edges),
    )
