"""Cross-attribute rules through governance: what a rule may depend on, and the record of it.

A mapping rule may test another attribute ("a longline cardigan in a spring/summer window is
outerwear"). It may only depend on a value that is *in force* for the asset: applied by the
machine (tier ``auto_applied`` or ``flagged``) or decided by a human (``confirmed`` or
``corrected``). A suggestion, a rejected value, or a model value a human overruled is not.
A human decision always wins over the model's value of the same attribute.

The decision of the dependent attribute records, in ``evidence.rule_dependencies``, each
condition of the rule that fired with the value it used and its source (``metadata``,
``model``, ``analyser`` or ``human``, with tier or state, probability and event id), and the
values it was *not* allowed to use (with why). A reviewer's decision on a dependency
re-evaluates the dependents at once, from the stored raw label and probability (no model
run): :func:`remap_dependents` makes their new events in the reviewer's own revision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from tagtrail.domain.asset import Asset
from tagtrail.domain.evidence import RULE_DEPENDENCIES, RuleDependencies, RuleDependency
from tagtrail.domain.governance import decide_tier
from tagtrail.domain.projection import fold_tags
from tagtrail.domain.records import (
    APPLIED_STATES,
    HUMAN_STATES,
    ModelDecision,
    Tag,
    TagEvent,
    Thresholds,
    event_id,
)
from tagtrail.domain.taxonomy import CONTEXT_KEYS, Taxonomy
from tagtrail.domain.taxonomy.mapping import AssetContext, MappedValue, map_label

EVIDENCE_KEY = RULE_DEPENDENCIES


class Known(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """A value of one attribute of an asset, as rules of other attributes see it."""

    attribute: str
    value: str | None
    source: str  # model, analyser or human
    state: str  # the tier of a machine value, the state of a human decision
    probability: float | None = None
    event_id: str | None = None
    #: A human decided it (or it re-proposes a rejected value): fresh model values do not
    #: replace it.
    locked: bool = False

    @property
    def usable(self) -> bool:
        return self.value is not None and self.state in APPLIED_STATES


def known_from_tags(tags: Iterable[Tag]) -> dict[str, Known]:
    """The stored tags of an asset as dependencies (a human decision is the human's value)."""
    return {
        t.attribute: Known(
            attribute=t.attribute,
            value=t.value,
            source="human" if t.state in HUMAN_STATES else t.source,
            state=t.state,
            probability=t.probability,
            event_id=t.event_id,
            locked=t.state in HUMAN_STATES or t.reproposal_of is not None,
        )
        for t in tags
    }


def _record(k: Known, why: str | None = None) -> RuleDependency:
    return RuleDependency(
        attribute=k.attribute,
        value=k.value,
        source=k.source,
        state=k.state,
        probability=k.probability,
        event_id=k.event_id,
        why=why,
    )


def _why_not(k: Known) -> str:
    if k.state == "rejected":
        return "a human rejected it"
    if k.probability is not None:
        return f"only a suggestion (p {k.probability:.4g}): rules use applied or human values"
    return "not applied: rules use applied or human-decided values"


class Dependencies:
    """The values of one asset that rules may test, updated as attributes are decided."""

    def __init__(self, stored: Mapping[str, Known] | None = None) -> None:
        self.current: dict[str, Known] = dict(stored or {})

    def decided(self, decision: ModelDecision) -> None:
        """A fresh machine decision: in force unless a human decided the attribute."""
        held = self.current.get(decision.attribute)
        if held is not None and held.locked:
            return
        self.current[decision.attribute] = Known(
            attribute=decision.attribute,
            value=decision.value,
            source=decision.actor.type,
            state=decision.tier or "suggested",
            probability=decision.probability,
        )

    def mapped(self) -> dict[str, str | tuple[str, ...]]:
        """attribute → value for rule conditions: only applied or human-decided values."""
        return {a: k.value for a, k in self.current.items() if k.usable and k.value is not None}

    def evidence(
        self, taxonomy: Taxonomy, result: MappedValue, context: AssetContext
    ) -> dict[str, Any] | None:
        """What the rule that mapped ``result`` depended on (None: it tests nothing)."""
        tested = {
            c.key
            for rule in taxonomy.rules_for(result.attribute, context.brand)
            if result.model_label in rule.when_label
            for c in rule.when
            if c.key not in CONTEXT_KEYS
        }
        used: list[RuleDependency] = []
        for condition in result.when:
            if condition.key in CONTEXT_KEYS:
                value = getattr(context, condition.key)
                used.append(RuleDependency(attribute=condition.key, value=value, source="metadata"))
                continue
            known = self.current[condition.key]  # the rule held, so the value is in force
            used.append(_record(known))
        ignored = [
            _record(k, _why_not(k))
            for name in sorted(tested)
            if (k := self.current.get(name)) is not None and not k.usable
        ]
        if not used and not ignored:
            return None
        record = RuleDependencies(rule_id=result.rule_id, depends_on=used, not_used=ignored)
        out: dict[str, Any] = msgspec.to_builtins(record)
        return out


def dependents(taxonomy: Taxonomy, attribute: str, brand: str | None) -> tuple[str, ...]:
    """Attributes whose rules test ``attribute``, directly or through another, in order."""
    affected = {attribute}
    out: list[str] = []
    for name in taxonomy.mapping_order or taxonomy.attribute_names:
        keys = {c.key for rule in taxonomy.rules_for(name, brand) for c in rule.when}
        if name not in affected and keys & affected:
            affected.add(name)
            out.append(name)
    return tuple(out)


def remap_dependents(
    taxonomy: Taxonomy,
    asset: Asset,
    decided: TagEvent,
    machine: Mapping[str, TagEvent],
) -> list[TagEvent]:
    """Events re-mapping the machine tags that depend on the attribute ``decided`` changed.

    ``asset`` is the asset before ``decided`` (a human decision); ``machine``
    the model events behind the dependents' current tags. The raw label and probability of
    each stay; the rule, value and tier follow the human value. Human-decided dependents
    are left alone (human decisions win), and so are dependents whose value stays.
    """
    brand = asset.brand
    tags = fold_tags([decided], asset.tags)
    deps = Dependencies(known_from_tags(tags.values()))
    context = AssetContext(season=asset.season, brand=brand, collection=asset.collection)
    out: list[TagEvent] = []
    for name in dependents(taxonomy, decided.attribute, brand):
        tag, event = tags.get(name), machine.get(name)
        if tag is None or event is None or tag.event_id != event.event_id:
            continue  # a human decided it, or it changed since it was read
        if event.raw_label is None or event.probability is None:
            continue
        step = msgspec.structs.replace(context, mapped=deps.mapped())
        result = map_label(taxonomy, name, event.raw_label, step)
        if result is None or (result.value, result.rule_id) == (tag.value, tag.rule_id):
            continue
        used = deps.evidence(taxonomy, result, step)
        remapped = _remapped(taxonomy, event, result, brand, used)
        seq = decided.seq
        new = msgspec.structs.replace(
            remapped,
            event_id=event_id(decided.asset_id, seq, len(out) + 1),
            seq=seq,
            at=decided.at,
            tier_reason=f"re-mapped after {decided.actor.id} {decided.kind} "
            f"{decided.attribute} ({decided.value}): {remapped.tier_reason}",
        )
        out.append(new)
        deps.decided(new)
    return out


def _remapped(
    taxonomy: Taxonomy,
    event: TagEvent,
    result: MappedValue,
    brand: str | None,
    used: dict[str, Any] | None,
) -> TagEvent:
    attribute = result.attribute
    governance = taxonomy.attribute(attribute).governance
    tier = decide_tier(float(event.probability or 0.0), governance, attribute=attribute)
    evidence = {k: v for k, v in (event.evidence or {}).items() if k != EVIDENCE_KEY}
    if used is not None:
        evidence[EVIDENCE_KEY] = used
    evidence["remapped_from"] = event.event_id
    return msgspec.structs.replace(
        event,
        value=result.value,
        label=result.label,
        values=result.ancestors,
        family=taxonomy.colour_family(result.value) if attribute == "colour" else None,
        terms=taxonomy.search_terms(attribute, result.value, brand),
        rule_id=result.rule_id,
        tier=tier.tier,
        state=tier.tier,
        tier_reason=tier.reason,
        thresholds=Thresholds(high=tier.high, medium=tier.medium, cap=tier.cap),
        taxonomy_version=taxonomy.attribute_version(attribute),
        evidence=evidence,
    )
