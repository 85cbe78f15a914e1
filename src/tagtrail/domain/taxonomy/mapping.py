"""Taxonomy mapping (pipeline stage 4): model labels → the customer's taxonomy values.

Rules are tried in order (a brand's overlay rules before the base rules) and the first
whose labels and conditions match wins; its id goes into the audit trail. Conditions may
test the asset (season, brand, collection) or values already mapped for other attributes,
so :func:`map_labels` maps attributes in the taxonomy's dependency-aware ``mapping_order``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import msgspec

from tagtrail.domain.taxonomy import Condition, Rule, Taxonomy

Season = Literal["SS", "FW"]

#: Rule id recorded for colour values, which the analyser measures against the palette.
PALETTE_RULE_ID = "palette"


class AssetContext(msgspec.Struct, kw_only=True, frozen=True):
    """What mapping may know about an asset besides its pixels."""

    season: str | None = None  # "SS", "FW"/"AW", or a season code such as "FW26"
    brand: str | None = None
    collection: str | None = None
    #: attribute → value id(s) already mapped for this asset (for cross-attribute rules).
    mapped: dict[str, str | tuple[str, ...]] = {}


class MappedValue(msgspec.Struct, kw_only=True, frozen=True):
    attribute: str
    model_label: str
    value: str
    label: str  # as the asset's brand names it
    rule_id: str
    rule_brand: str | None  # the overlay that supplied the rule; None for the base taxonomy
    ancestors: tuple[str, ...]
    when: tuple[Condition, ...] = ()  # the conditions of the rule that held


def normalise_season(season: str | None) -> Season | None:
    """ "SS26" → "SS"; "AW", "FW26", "fw" → "FW"; anything else → None."""
    if not season:
        return None
    letters = "".join(ch for ch in season.upper() if ch.isalpha())
    if letters in ("SS", "SPRINGSUMMER"):
        return "SS"
    if letters in ("FW", "AW", "AUTUMNWINTER", "FALLWINTER"):
        return "FW"
    return None


def _condition_holds(
    taxonomy: Taxonomy, condition: Condition, context: AssetContext, brand_id: str | None
) -> bool:
    key, wanted = condition.key, condition.any_of
    if key == "season":
        return normalise_season(context.season) in wanted
    if key == "brand":
        return brand_id in wanted
    if key == "collection":
        have = (context.collection or "").casefold()
        return any(have == c.casefold() for c in wanted)
    mapped = context.mapped.get(key)
    if mapped is None:
        return False
    # A condition on a parent value ("outerwear") holds for its descendants ("peacoat").
    for value_id in (mapped,) if isinstance(mapped, str) else mapped:
        if taxonomy.value(key, value_id, context.brand) is None:
            continue
        if any(a in wanted for a in taxonomy.ancestors(key, value_id, context.brand)):
            return True
    return False


def matching_rule(
    taxonomy: Taxonomy, attribute: str, model_label: str, context: AssetContext
) -> Rule | None:
    """The first rule (brand overlay first) for ``model_label`` whose conditions all hold."""
    brand = taxonomy.brand(context.brand)
    brand_id = brand.id if brand else None
    for rule in taxonomy.rules_for(attribute, context.brand):
        if model_label not in rule.when_label:
            continue
        if all(_condition_holds(taxonomy, c, context, brand_id) for c in rule.when):
            return rule
    return None


def map_label(
    taxonomy: Taxonomy, attribute: str, model_label: str, context: AssetContext
) -> MappedValue | None:
    """Map one model label; None when no rule applies (the label is then not a tag)."""
    attr = taxonomy.attribute(attribute)
    if attr.source == "colour_analyser":
        # The analyser already speaks palette names: identity, but only for known colours.
        rule_id, rule_brand, value_id = PALETTE_RULE_ID, None, model_label
        when: tuple[Condition, ...] = ()
        if attr.value(value_id) is None:
            return None
    else:
        rule = matching_rule(taxonomy, attribute, model_label, context)
        if rule is None:
            return None
        rule_id, rule_brand, value_id, when = rule.id, rule.brand, rule.then, rule.when
    value = taxonomy.value(attribute, value_id, context.brand)
    if value is None:  # cannot happen for a validated taxonomy; kept as a guard
        return None
    return MappedValue(
        attribute=attribute,
        model_label=model_label,
        value=value_id,
        label=value.label,
        rule_id=rule_id,
        rule_brand=rule_brand,
        ancestors=taxonomy.ancestors(attribute, value_id, context.brand),
        when=when,
    )


def map_labels(
    taxonomy: Taxonomy,
    labels: Mapping[str, str | Sequence[str]],
    context: AssetContext,
) -> dict[str, tuple[MappedValue, ...]]:
    """Map every attribute's label(s) for one asset, in dependency order.

    Each attribute's mapped values are added to ``context.mapped`` before the attributes
    whose rules test them are mapped. Attributes with no mapped value are omitted.
    """
    for attribute in labels:
        taxonomy.attribute(attribute)  # unknown attribute → InvalidInput naming it
    mapped: dict[str, str | tuple[str, ...]] = dict(context.mapped)
    out: dict[str, tuple[MappedValue, ...]] = {}
    for attribute in taxonomy.mapping_order:
        given = labels.get(attribute)
        if given is None:
            continue
        step = msgspec.structs.replace(context, mapped=dict(mapped))
        results: dict[str, MappedValue] = {}
        for model_label in (given,) if isinstance(given, str) else given:
            result = map_label(taxonomy, attribute, model_label, step)
            if result is not None and result.value not in results:  # many-to-one: keep first
                results[result.value] = result
        if results:
            out[attribute] = tuple(results.values())
            mapped[attribute] = tuple(results)
    return out
