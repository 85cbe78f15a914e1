"""Human review decisions (pipeline stage 6) as tag events.

A reviewer confirms, rejects or corrects the current tag of one attribute on one asset.
Each decision becomes one :class:`TagEvent` at ``seq = revision + 1`` (event index 0, so it
claims that revision in the store), carrying the same taxonomy expansions a model event
carries — ``values`` (value, ancestors, colour family), ``label``, ``family`` and ``terms``
— so facets and free text keep working on human-decided tags exactly as on model ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import msgspec

from tagtrail.domain.limits import MAX_NOTE_CHARS, check_free_text, check_value
from tagtrail.domain.records import Actor, Tag, TagEvent, event_id, utc_now
from tagtrail.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from tagtrail.domain.taxonomy import Taxonomy

DecisionKind = Literal["confirmed", "rejected", "corrected"]


class Decision(msgspec.Struct, kw_only=True, frozen=True):
    kind: DecisionKind
    attribute: str
    value: str | None = None  # corrected only: the taxonomy value id to set
    note: str | None = None


def check_decision(decision: Decision) -> Decision:
    """The caller's strings are usable (bounded, printable) — checked before any read."""
    check_value(decision.attribute, "attribute")
    if decision.value is not None:
        check_value(decision.value, "value")
    if decision.note is not None:
        check_free_text(decision.note, "note", max_chars=MAX_NOTE_CHARS)
    return decision


def current_tag(source: dict[str, Any], attribute: str) -> Tag | None:
    """The effective tag of ``attribute`` from an asset document's projection."""
    for raw in source.get("tags") or ():
        if raw.get("attribute") == attribute:
            return msgspec.convert(raw, Tag)
    return None


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
    asset_id: str,
    source: dict[str, Any],
    revision: int,
    actor_id: str,
    taxonomy: Taxonomy,
    at: str | None = None,
) -> TagEvent:
    """The event for ``decision`` on an asset at ``revision`` (validated; nothing written).

    Raises InvalidInput (unknown attribute or value, bad combination) or NotFound (no tag
    to confirm or reject).
    """
    check_decision(decision)
    taxonomy.attribute(decision.attribute)  # unknown attribute → InvalidInput(field=attribute)
    brand = source.get("brand")
    tag = current_tag(source, decision.attribute)
    common: dict[str, Any] = {
        "event_id": event_id(asset_id, revision + 1, 0),
        "asset_id": asset_id,
        "attribute": decision.attribute,
        "kind": decision.kind,
        "seq": revision + 1,
        "at": at or utc_now(),
        "actor": Actor(type="human", id=actor_id),
        # Per attribute, like the model's events: a retag compares like with like.
        "taxonomy_version": taxonomy.attribute_version(decision.attribute),
        "note": decision.note,
    }
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
