"""Human review decisions (pipeline stage 6) as tag events.

A reviewer confirms, rejects or corrects the current tag of one attribute on one asset.
Each decision becomes one :class:`TagEvent` at ``seq = revision + 1`` (event index 0, so it
claims that revision in the store), carrying the same taxonomy expansions a model event
carries — ``values`` (value, ancestors, colour family), ``label``, ``family`` and ``terms``
— so facets and free text keep working on human-decided tags exactly as on model ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, Protocol

import msgspec

from tagtrail.domain.asset import Asset
from tagtrail.domain.limits import MAX_NOTE_CHARS, MAX_SHOWN_MS, check_free_text, check_value
from tagtrail.domain.records import HUMAN_STATES, Actor, Tag, TagEvent, event_id, utc_now
from tagtrail.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from tagtrail.domain.taxonomy import Taxonomy

# reopened: undo — the tag goes back to what it was without the decision in force.
DecisionKind = Literal["confirmed", "rejected", "corrected", "reopened"]


class Decision(msgspec.Struct, kw_only=True, frozen=True):
    kind: DecisionKind
    attribute: str
    value: str | None = None  # corrected only: the taxonomy value id to set
    note: str | None = None
    # A further value of a multi-valued attribute (Tag.slot); None: the primary value.
    slot: str | None = None
    # corrected into a new slot: a reviewer adds a value to a multi-valued attribute.
    add: bool = False
    # How long the review page showed the card before this decision (review effort).
    shown_ms: int | None = None


def check_decision(decision: Decision) -> Decision:
    """The caller's strings are usable (bounded, printable) — checked before any read."""
    check_value(decision.attribute, "attribute")
    if decision.slot is not None:
        check_value(decision.slot, "slot")
    if decision.value is not None:
        check_value(decision.value, "value")
    if decision.note is not None:
        check_free_text(decision.note, "note", max_chars=MAX_NOTE_CHARS)
    if decision.shown_ms is not None and not 0 <= decision.shown_ms <= MAX_SHOWN_MS:
        raise InvalidInput(
            f"shownMs must be between 0 and {MAX_SHOWN_MS} (a day), got {decision.shown_ms}",
            field="shownMs",
        )
    return decision


def current_tag(asset: Asset, attribute: str, slot: str | None = None) -> Tag | None:
    """The effective tag of ``attribute`` (its primary value, or the further value in
    ``slot``) on the asset."""
    for tag in asset.tags:
        if tag.attribute == attribute and tag.slot == slot:
            return tag
    return None


class Placed(Protocol):
    """Where a value sits: a :class:`Tag` is one."""

    @property
    def attribute(self) -> str: ...
    @property
    def slot(self) -> str | None: ...
    @property
    def value(self) -> str | None: ...


def slot_for(tags: Iterable[Placed], attribute: str, value: str) -> str:
    """The slot a further ``value`` of a multi-valued attribute goes in: the one already
    holding it, else one named after it (suffixed while a renamed value holds that name)."""
    held = {t.slot: t.value for t in tags if t.attribute == attribute and t.slot is not None}
    for slot, held_value in held.items():
        if held_value == value:
            return str(slot)
    slot, n = value, 1
    while slot in held:
        n += 1
        slot = f"{value}~{n}"
    return slot


def _terms(taxonomy: Taxonomy, attribute: str, value: str, brand: str | None) -> tuple[str, ...]:
    try:
        return taxonomy.search_terms(attribute, value, brand)
    except InvalidInput:
        # A value since removed from the taxonomy can still be confirmed or rejected as it
        # stands; it only loses its free-text terms.
        return ()


def build_decision(
    decision: Decision,
    *,
    asset: Asset,
    actor_id: str,
    taxonomy: Taxonomy,
    at: str | None = None,
    restore: Tag | None = None,
) -> TagEvent:
    """The event for ``decision`` on ``asset`` at its revision (validated; nothing written).

    ``restore`` (reopened only) is the tag as its history reads without the decision in
    force (:func:`tagtrail.domain.projection.without_decision`). Raises InvalidInput
    (unknown attribute or value, bad combination) or
    NotFound (no tag to confirm, reject or reopen).
    """
    check_decision(decision)
    info = taxonomy.attribute(decision.attribute)  # unknown → InvalidInput(field=attribute)
    asset_id, revision, brand = asset.asset_id, asset.revision, asset.brand
    slot = _slot(decision, info.kind, asset)
    tag = current_tag(asset, decision.attribute, slot)
    if slot is not None and tag is None and not decision.add:
        raise NotFound(
            f"asset {asset_id!r} has no further {decision.attribute} value in slot {slot!r}"
        )
    if decision.kind == "corrected" and slot is not None and not decision.add:
        raise InvalidInput(
            f"a further {decision.attribute} value is not corrected in place: remove it "
            "(removeTagValue) and add the right one (addTagValue)",
            field="slot",
        )
    common: dict[str, Any] = {
        "event_id": event_id(asset_id, revision + 1, 0),
        "asset_id": asset_id,
        "attribute": decision.attribute,
        "slot": slot,
        "kind": decision.kind,
        "seq": revision + 1,
        "at": at or utc_now(),
        "actor": Actor(type="human", id=actor_id),
        # Per attribute, like the model's events: a retag compares like with like.
        "taxonomy_version": taxonomy.attribute_version(decision.attribute),
        "note": decision.note,
        "shown_ms": decision.shown_ms,
    }
    if decision.kind == "reopened":
        return _reopened(decision, common, tag, restore, taxonomy, brand)
    if decision.kind == "corrected":
        if not decision.value:
            raise InvalidInput("correctTag needs the value to set", field="value")
        value = decision.value
        # ancestors() validates the value for this attribute (brand-only values included).
        try:
            values = taxonomy.ancestors(decision.attribute, value, brand)
        except InvalidInput as exc:
            raise InvalidInput(
                f"{value!r} is not a {decision.attribute} value in taxonomy {taxonomy.version}",
                field="value",
            ) from exc
        found = taxonomy.value(decision.attribute, value, brand)
        return TagEvent(
            **common,
            state="corrected",
            value=value,
            previous_value=tag.value if tag else None,
            label=found.label if found else value,
            values=values,
            family=found.family if found else None,
            terms=_terms(taxonomy, decision.attribute, value, brand),
        )
    if decision.value is not None:
        raise InvalidInput(
            f"{decision.kind} takes no value; use correctTag to change it", field="value"
        )
    if tag is None or tag.value is None:
        raise NotFound(
            f"asset {asset_id!r} has no {decision.attribute} tag to "
            f"{'confirm' if decision.kind == 'confirmed' else 'reject'}"
        )
    if tag.state == "rejected":
        raise InvalidInput(
            f"the {decision.attribute} tag was already rejected; use correctTag to set a value",
            field="attribute",
        )
    return TagEvent(
        **common,
        state=decision.kind,
        value=tag.value,
        previous_value=tag.value,
        label=tag.label,
        values=tag.values,
        family=tag.family,
        terms=_terms(taxonomy, decision.attribute, tag.value, brand),
    )


def _slot(decision: Decision, kind: str, asset: Asset) -> str | None:
    """The slot the decision is about; for an added value, a new (or its existing) slot."""
    if kind != "multi" and (decision.slot is not None or decision.add):
        raise InvalidInput(
            f"{decision.attribute} holds one value: it has no further values to decide",
            field="slot",
        )
    if not decision.add:
        return decision.slot
    if not decision.value:
        raise InvalidInput("addTagValue needs the value to add", field="value")
    primary = current_tag(asset, decision.attribute)
    if primary is not None and primary.value == decision.value and primary.state != "rejected":
        raise InvalidInput(
            f"{decision.value!r} already is the {decision.attribute} value of this asset",
            field="value",
        )
    return slot_for(asset.tags, decision.attribute, decision.value)


def _reopened(
    decision: Decision,
    common: dict[str, Any],
    tag: Tag | None,
    restore: Tag | None,
    taxonomy: Taxonomy,
    brand: str | None,
) -> TagEvent:
    """Undo: the tag as it would be had the decision in force never been made."""
    if decision.value is not None:
        raise InvalidInput("reopenTag takes no value", field="value")
    if tag is None:
        raise NotFound(f"asset {common['asset_id']!r} has no {decision.attribute} tag to reopen")
    if tag.state not in HUMAN_STATES:
        raise InvalidInput(
            f"the {decision.attribute} tag is {tag.state}, not decided by a reviewer: "
            "nothing to reopen",
            field="attribute",
        )
    if restore is None or restore.value is None:
        raise InvalidInput(
            f"the {decision.attribute} tag was set by a reviewer with nothing before it to "
            "return to; correct or reject it instead",
            field="attribute",
        )
    # Carried into the taxonomy in force: the migrations since moved what it names.
    today = as_of(restore, taxonomy, brand)
    return TagEvent(
        **{**common, "taxonomy_version": today.taxonomy_version},
        state=today.state,
        value=today.value,
        previous_value=tag.value,
        label=today.label,
        values=today.values,
        family=today.family,
        raw_label=today.raw_label,
        probability=today.probability,
        tier=today.tier,
        rule_id=today.rule_id,
        terms=_terms(taxonomy, decision.attribute, restore.value, brand),
        evidence={"reopens": tag.event_id, "restores": msgspec.to_builtins(today)},
    )


def as_of(restore: Tag, taxonomy: Taxonomy, brand: str | None) -> Tag:
    """``restore`` under the taxonomy in force, as a migration would have carried it: a value
    since moved is re-expanded under its new parent (and that taxonomy's version); a value
    the taxonomy no longer has is refused, so an undo never brings a dead value back."""
    attribute, value = restore.attribute, str(restore.value)
    try:
        values = taxonomy.ancestors(attribute, value, brand)
    except InvalidInput as exc:
        raise InvalidInput(
            f"undo would bring back {attribute} {value!r}, which taxonomy {taxonomy.version} "
            "no longer has (a migration renamed, merged or retired it); correct the tag "
            "instead",
            field="attribute",
        ) from exc
    found = taxonomy.value(attribute, value, brand)
    label = found.label if found else value
    family = taxonomy.colour_family(value) if attribute == "colour" else None
    if (restore.label, restore.values, restore.family) == (label, values, family):
        return restore  # unchanged by any migration: exactly the state before the decision
    return msgspec.structs.replace(
        restore,
        label=label,
        values=values,
        family=family,
        taxonomy_version=taxonomy.attribute_version(attribute),
    )
