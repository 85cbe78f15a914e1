"""Mapping rules in taxonomy files: conditions, default rules and the mapping order."""

from __future__ import annotations

from typing import Any, NamedTuple

from tagtrail.domain.taxonomy.doc import SEASONS, Doc, entry_path
from tagtrail.domain.taxonomy.model import (
    CONTEXT_KEYS,
    Attribute,
    Condition,
    ModelLabel,
    Rule,
)
from tagtrail.errors import TaxonomyError


class Scope(NamedTuple):
    """What rules of one attribute may refer to."""

    attribute: str
    labels: set[str]
    values: dict[str, set[str]]  # attribute → value ids visible to the rule
    brands: set[str]
    brand: str | None


def parse_rules(doc: Doc, raw: Any, path: str, scope: Scope, rule_ids: set[str]) -> list[Rule]:
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
        when = parse_conditions(doc, entry.get("when", {}), f"{where}.when", scope)
        rules.append(Rule(id=rule_id, when_label=labels, then=then, when=when, brand=scope.brand))
    return rules


def parse_conditions(doc: Doc, raw: Any, path: str, scope: Scope) -> tuple[Condition, ...]:
    raw = doc.mapping(raw, path, optional=(*CONTEXT_KEYS, *scope.values))
    out: list[Condition] = []
    for key, value in raw.items():
        where = entry_path(path, key)
        items = doc.texts(value, where, scalar_ok=True)
        if key == scope.attribute:
            raise doc.fail(where, "a rule cannot test its own attribute")
        if key == "season":
            bad = [s for s in items if s.upper() not in SEASONS]
            if bad:
                raise doc.fail(where, f"unknown season {bad[0]!r}; use SS or FW (AW)")
            items = tuple(dict.fromkeys(SEASONS[s.upper()] for s in items))
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


def default_rules(
    doc: Doc, vocab: list[tuple[ModelLabel, str | None, str]], scope: Scope, rule_ids: set[str]
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


def record_edges(
    edges: dict[tuple[str, str], tuple[str, str]],
    doc: Doc,
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


def mapping_order(
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
