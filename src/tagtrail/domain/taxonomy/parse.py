"""Validation of taxonomy documents into typed structs (used by :mod:`.taxonomy`).

Hand-written rather than ``msgspec.convert`` so that every error names the file and the
YAML entry path in the customer's words ("attributes.category.values[3].parent").
"""

from __future__ import annotations

from typing import Any

import msgspec

from tagtrail.domain.governance import Governance
from tagtrail.domain.palette import Palette
from tagtrail.domain.taxonomy.doc import ATTR_KEYS, OVERLAY_KEYS, Doc, ParsedTaxonomy
from tagtrail.domain.taxonomy.model import (
    CONTEXT_KEYS,
    Attribute,
    Brand,
    BrandAttribute,
    Kind,
    ModelLabel,
    Source,
    Value,
)
from tagtrail.domain.taxonomy.rules import (
    Scope,
    default_rules,
    mapping_order,
    parse_rules,
    record_edges,
)


def _overlay(
    raw: Any,
    doc: Doc,
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
        keys = OVERLAY_KEYS if attr.source == "model" else ("labels",)
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
        scope = Scope(name, vocab_labels, values, set(brands), brand_id)
        rule_ids = {r.id for r in attr.rules}
        rules = parse_rules(doc, entry.get("rules", []), f"{path}.rules", scope, rule_ids)
        rules += default_rules(doc, vocab, scope, rule_ids)
        record_edges(edges, doc, path, name, rules)
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


def _brands(doc: Doc, raw: Any) -> dict[str, Brand]:
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
    doc: Doc,
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
    entry = doc.mapping(raw, path, ("kind", "source"), (*ATTR_KEYS, "prompt_templates"))
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
    doc = Doc(file)
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
        scope = Scope(name, {m.label for m in attribute.vocabulary}, all_values, set(brands), None)
        rule_ids: set[str] = set()
        rules = parse_rules(doc, attrs_raw[name].get("rules", []), f"{path}.rules", scope, rule_ids)
        rules += default_rules(doc, vocab, scope, rule_ids)
        record_edges(edges, doc, path, name, rules)
        attributes[name] = msgspec.structs.replace(attribute, rules=tuple(rules))
    local_templates = {n: t for n, (_, _, t) in stage1.items()}
    for overlay_file, stem, overlay_raw in overlays:
        brand = _overlay(
            overlay_raw, Doc(overlay_file), stem, attributes, brands, local_templates, edges
        )
        brands[brand.id] = brand
    ordered = list(attributes.values())
    return ParsedTaxonomy(
        name=doc.text(top["name"], "name"),
        label=doc.text(top["label"], "label"),
        attributes=tuple(ordered),
        brands=tuple(brands.values()),
        mapping_order=mapping_order(ordered, edges),
    )
