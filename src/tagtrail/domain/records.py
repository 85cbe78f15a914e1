"""Records stored in OpenSearch: tag events (append-only) and the asset projection."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec

# migrated: a taxonomy change moved the tag to another value or hierarchy (its decision is
# kept); retired: the value or attribute left the taxonomy and the tag was removed;
# reopened: a reviewer undid a decision, so the machine proposal it judged is back in force.
EventKind = Literal[
    "model_tagged", "confirmed", "rejected", "corrected", "migrated", "retired", "reopened"
]
TagState = Literal["auto_applied", "flagged", "suggested", "confirmed", "corrected", "rejected"]
ActorType = Literal["model", "analyser", "human", "migration"]
Source = Literal["model", "analyser", "human", "model_then_human", "analyser_then_human"]

APPLIED_STATES: frozenset[str] = frozenset({"auto_applied", "flagged", "confirmed", "corrected"})
HUMAN_STATES: frozenset[str] = frozenset({"confirmed", "corrected", "rejected"})
PENDING_STATES: frozenset[str] = frozenset({"flagged", "suggested"})
#: Sources of a tag a reviewer decided (and that a taxonomy split may send back to review).
HUMAN_SOURCES: frozenset[str] = frozenset({"human", "model_then_human", "analyser_then_human"})


def human_decided(state: str | None, source: str | None) -> bool:
    """A reviewer's decision is in force on the tag: decided, or sent back to review by a
    taxonomy split (flagged, its source kept). No model event may replace it."""
    return state in HUMAN_STATES or source in HUMAN_SOURCES


class LabelScore(msgspec.Struct, kw_only=True, frozen=True):
    label: str
    score: float


class Thresholds(msgspec.Struct, kw_only=True, frozen=True):
    high: float
    medium: float
    cap: str | None = None


class Actor(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    type: ActorType
    id: str
    model_fingerprint: str | None = None
    head_version: str | None = None
    analyser: str | None = None


# The provenance of a tag is defined once, here, and inherited: TagValue → Provenance →
# ModelDecision → TagEvent, and Provenance → Tag. A new field is one edit; the GraphQL types
# and the test factories copy by field name (see ``shared_fields``).


class TagValue(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """A value of one attribute with its taxonomy expansions.

    ``slot``: None for an attribute's primary value (the only one of a single-valued
    attribute); a multi-valued attribute (``kind: multi``: colour, material) holds further
    values, each a tag of its own with its own evidence, tier and review, in a slot named
    after the value it was first given (a rename keeps the slot; see :func:`tag_key`).
    """

    attribute: str
    slot: str | None = None
    value: str | None = None
    label: str | None = None
    values: tuple[str, ...] = ()  # value + ancestors (+ colour family): what facets match
    family: str | None = None


def tag_key(attribute: str, slot: str | None = None) -> str:
    """The key of one tag of an asset: the attribute, or ``attribute/slot`` for a further
    value of a multi-valued attribute (sorts right after its primary)."""
    return attribute if slot is None else f"{attribute}/{slot}"


def key_of(record: TagValue) -> str:
    return tag_key(record.attribute, record.slot)


class Provenance(TagValue, kw_only=True, frozen=True, omit_defaults=True):
    """How a value was reached: raw label, mapping rule, confidence, tier, taxonomy version."""

    raw_label: str | None = None
    probability: float | None = None
    tier: str | None = None
    rule_id: str | None = None
    taxonomy_version: str | None = None


class ModelDecision(Provenance, kw_only=True, frozen=True, omit_defaults=True):
    """A machine's decision on one attribute, with everything the audit trail keeps."""

    actor: Actor
    top_k: tuple[LabelScore, ...] = ()
    tier_reason: str | None = None
    thresholds: Thresholds | None = None
    terms: tuple[str, ...] = ()  # labels and synonyms, for free-text search
    evidence: dict[str, Any] | None = None


class TagEvent(ModelDecision, kw_only=True, frozen=True, omit_defaults=True):
    """One tag decision. Never updated; the asset's tags are a fold over these."""

    event_id: str
    asset_id: str
    kind: EventKind
    seq: int  # the asset revision this event produced
    at: str  # ISO-8601 UTC with microseconds
    state: TagState
    previous_value: str | None = None
    note: str | None = None
    idempotency_key: str | None = None
    shown_ms: int | None = None  # a human decision: how long the review card was shown


class Tag(Provenance, kw_only=True, frozen=True, omit_defaults=True):
    """The effective tag of one attribute on one asset (a projection of its events)."""

    state: TagState
    applied: bool
    reviewed: bool
    needs_review: bool
    source: Source
    model_version: str | None = None
    head_version: str | None = None
    analyser: str | None = None
    event_id: str
    decided_at: str
    decided_by: str
    first_seen_at: str
    # How decisively the machine chose the value (``domain.review_value.margin_of``): its
    # top-1 minus top-2 probability, the colour analyser's ΔE-margin confidence; None when
    # unknown (a value a human gave, a document projected before margins were kept).
    margin: float | None = None
    # The newest model proposal on an attribute a human decided: kept visible, not applied.
    proposed_value: str | None = None
    proposed_probability: float | None = None
    proposed_margin: float | None = None
    proposed_head_version: str | None = None
    proposed_taxonomy_version: str | None = None
    proposed_event_id: str | None = None
    # Set while the tag is a value a human rejected, proposed again by a newer head for review
    # (the rejection's event id): it stays a suggestion until a human decides again.
    reproposal_of: str | None = None
    # The machine's value and probability a reviewer judged (carried through later decisions)
    # and whether the decision in force kept that value: the quality report's reliability.
    judged_value: str | None = None
    judged_probability: float | None = None
    judged_right: bool | None = None
    # The decision in force: how long the review card was shown before it (review effort).
    shown_ms: int | None = None


def shared_fields(record: msgspec.Struct, target: type[msgspec.Struct]) -> dict[str, Any]:
    """The fields of ``record`` that ``target`` also declares, by name (no hand copying)."""
    # ``__struct_fields__`` (a tuple on the class), not ``msgspec.structs.fields()``, which
    # re-evaluates the type annotations on every call: that was 30 % of a taxonomy apply.
    names = set(target.__struct_fields__)
    return {name: getattr(record, name) for name in record.__struct_fields__ if name in names}


def provenance_of(record: Provenance) -> dict[str, Any]:
    """The provenance fields of any record that carries them."""
    return shared_fields(record, Provenance)


def utc_now() -> str:
    """ISO-8601 UTC with microseconds: the timestamp format of every event and document."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


#: A revision holds at most this many events (one per attribute is the most any writer makes),
#: so the events of a revision can be read by id, in real time, without a search.
MAX_EVENTS_PER_REVISION = 64


def event_id(asset_id: str, seq: int, index: int) -> str:
    """Deterministic id: the first event of a revision (index 0) claims that revision."""
    if not 0 <= index < MAX_EVENTS_PER_REVISION:
        raise ValueError(f"a revision holds at most {MAX_EVENTS_PER_REVISION} events")
    return f"{asset_id}:{seq:06d}:{index:02d}"


def revision_event_ids(asset_id: str, seq: int) -> list[str]:
    """Every id an event of revision ``seq`` can have (index 0 first: the claim)."""
    return [event_id(asset_id, seq, n) for n in range(MAX_EVENTS_PER_REVISION)]
