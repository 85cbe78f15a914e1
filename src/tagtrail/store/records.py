"""Records stored in OpenSearch: tag events (append-only) and the asset projection."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec

EventKind = Literal["model_tagged", "confirmed", "rejected", "corrected"]
TagState = Literal["auto_applied", "flagged", "suggested", "confirmed", "corrected", "rejected"]
ActorType = Literal["model", "analyser", "human"]
Source = Literal["model", "analyser", "human", "model_then_human", "analyser_then_human"]

APPLIED_STATES: frozenset[str] = frozenset({"auto_applied", "flagged", "confirmed", "corrected"})
HUMAN_STATES: frozenset[str] = frozenset({"confirmed", "corrected", "rejected"})
PENDING_STATES: frozenset[str] = frozenset({"flagged", "suggested"})


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


class TagEvent(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One tag decision. Never updated; the asset's tags are a fold over these."""

    event_id: str
    asset_id: str
    attribute: str
    kind: EventKind
    seq: int  # the asset revision this event produced
    at: str  # ISO-8601 UTC with microseconds
    actor: Actor
    state: TagState
    value: str | None = None
    previous_value: str | None = None
    label: str | None = None
    values: tuple[str, ...] = ()  # value + ancestors (+ colour family): what facets match
    family: str | None = None
    terms: tuple[str, ...] = ()  # labels and synonyms, for free-text search
    raw_label: str | None = None
    top_k: tuple[LabelScore, ...] = ()
    probability: float | None = None
    tier: str | None = None
    tier_reason: str | None = None
    thresholds: Thresholds | None = None
    taxonomy_version: str | None = None
    rule_id: str | None = None
    note: str | None = None
    evidence: dict[str, Any] | None = None
    idempotency_key: str | None = None


class Tag(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """The effective tag of one attribute on one asset (a projection of its events)."""

    attribute: str
    value: str | None
    label: str | None = None
    values: tuple[str, ...] = ()
    family: str | None = None
    probability: float | None = None
    tier: str | None = None
    state: TagState
    applied: bool
    reviewed: bool
    needs_review: bool
    source: Source
    raw_label: str | None = None
    rule_id: str | None = None
    model_version: str | None = None
    head_version: str | None = None
    analyser: str | None = None
    taxonomy_version: str | None = None
    event_id: str
    decided_at: str
    decided_by: str
    first_seen_at: str
    # The newest model proposal on an attribute a human decided: kept visible, not applied.
    proposed_value: str | None = None
    proposed_probability: float | None = None
    proposed_head_version: str | None = None
    proposed_taxonomy_version: str | None = None
    proposed_event_id: str | None = None


def utc_now() -> str:
    """ISO-8601 UTC with microseconds: the timestamp format of every event and document."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def event_id(asset_id: str, seq: int, index: int) -> str:
    """Deterministic id: the first event of a revision (index 0) claims that revision."""
    return f"{asset_id}:{seq:06d}:{index:02d}"
