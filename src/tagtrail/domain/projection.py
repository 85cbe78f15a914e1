"""Fold an asset's tag events into its effective tags and the derived search fields.

This is a pure function of the events, so the asset documents can be rebuilt from
``tag_events`` at any time and come out identical. Human decisions win: a later model
event on an attribute a human confirmed, corrected or rejected changes nothing applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from tagtrail.domain.records import (
    APPLIED_STATES,
    HUMAN_STATES,
    PENDING_STATES,
    Tag,
    TagEvent,
    human_decided,
    key_of,
    provenance_of,
)
from tagtrail.domain.review_value import margin_of

#: Evidence key of a model event that proposes again a value a human rejected (see
#: :mod:`tagtrail.domain.reproposal`): the fold turns the rejection back into a suggestion.
REPROPOSAL = "reproposal"


def disagrees(tag: Tag) -> bool:
    """A newer model proposal differs from the human decision in force on this tag."""
    return (
        tag.state in HUMAN_STATES
        and tag.proposed_value is not None
        and tag.proposed_value != tag.value
    )


def reproposes(event: TagEvent, current: Tag | None) -> str | None:
    """The rejection's event id when ``event`` is a re-proposal of a rejected value.

    Either it proposes again the value ``current`` rejected, or ``current`` already is such
    a re-proposal (still undecided) and the event keeps it one.
    """
    marker = (event.evidence or {}).get(REPROPOSAL)
    if current is None or not isinstance(marker, dict):
        return None
    if current.state == "rejected" and event.value == current.value:
        return current.event_id
    if current.reproposal_of and current.state not in HUMAN_STATES:
        return current.reproposal_of
    return None


#: Evidence key of a model event written by a taxonomy change: the taxonomy version the
#: asset is carried into (a migration event says it as ``taxonomy_version``).
TAXONOMY_CHANGE = "taxonomy_change"


def carried_into(event: TagEvent) -> str | None:
    """The taxonomy version a taxonomy change carried the asset into with ``event``."""
    evidence = event.evidence or {}
    version = evidence.get(TAXONOMY_CHANGE)
    if version is None and event.actor.type == "migration":
        version = evidence.get("taxonomy_version")
    return str(version) if version else None


#: The event kinds by which a reviewer decides a tag (what an undo can take back).
HUMAN_DECISION_KINDS: frozenset[str] = frozenset({"confirmed", "rejected", "corrected"})


def _sort_key(event: TagEvent) -> tuple[int, str, str]:
    return (event.seq, event.at, event.event_id)


def _from_model(event: TagEvent, first_seen: str) -> Tag:
    state = event.state
    return Tag(
        **provenance_of(event),
        state=state,
        applied=state in APPLIED_STATES,
        reviewed=False,
        needs_review=state in PENDING_STATES,
        source="analyser" if event.actor.type == "analyser" else "model",
        model_version=event.actor.model_fingerprint,
        head_version=event.actor.head_version,
        analyser=event.actor.analyser,
        event_id=event.event_id,
        decided_at=event.at,
        decided_by=event.actor.id,
        first_seen_at=first_seen,
        margin=margin_of(event),
    )


def _from_human(event: TagEvent, current: Tag | None) -> Tag:
    if current is None or current.source == "human":
        source = "human"
    elif current.source in ("analyser", "analyser_then_human"):
        source = "analyser_then_human"
    else:
        source = "model_then_human"
    keep_machine = event.kind in ("confirmed", "rejected") and current is not None
    judged_value, judged_probability = _judged(current)
    return Tag(
        attribute=event.attribute,
        slot=event.slot,
        value=event.value,
        label=event.label,
        values=event.values,
        family=event.family,
        probability=current.probability if keep_machine and current else None,
        tier=current.tier if current else None,
        state=event.state,
        applied=event.state in APPLIED_STATES,
        reviewed=True,
        needs_review=False,
        source=source,  # type: ignore[arg-type]
        raw_label=current.raw_label if current else None,
        rule_id=current.rule_id if current else None,
        model_version=current.model_version if current else None,
        head_version=current.head_version if current else None,
        analyser=current.analyser if current else None,
        taxonomy_version=event.taxonomy_version or (current.taxonomy_version if current else None),
        event_id=event.event_id,
        decided_at=event.at,
        decided_by=event.actor.id,
        first_seen_at=current.first_seen_at if current else event.at,
        margin=current.margin if keep_machine and current else None,
        judged_value=judged_value,
        judged_probability=judged_probability,
        judged_right=None
        if judged_value is None
        else event.state != "rejected" and event.value == judged_value,
        shown_ms=event.shown_ms,
    )


def _judged(current: Tag | None) -> tuple[str | None, float | None]:
    """The machine's value and probability a decision on ``current`` judges: the tag's own
    when a machine set it, else those the first decision judged (a reviewer who corrects a
    confirmation still says the machine was wrong)."""
    if current is None:
        return None, None
    if current.source in ("model", "analyser"):
        return current.value, current.probability
    return current.judged_value, current.judged_probability


def _migrated(event: TagEvent, current: Tag) -> Tag:
    """The same decision under the new taxonomy: value and expansions move, whoever decided
    it stays. A split re-opens a human decision (``state`` flagged: applied, to review)."""
    reopened = event.state != current.state
    return msgspec.structs.replace(
        current,
        value=event.value,
        label=event.label,
        values=event.values,
        family=event.family,
        taxonomy_version=event.taxonomy_version,
        state=event.state,
        applied=event.state in APPLIED_STATES,
        reviewed=current.reviewed and not reopened,
        needs_review=event.state in PENDING_STATES,
        event_id=event.event_id,
        # The model's older proposal named the old taxonomy's value; the next retag re-proposes.
        proposed_value=None,
        proposed_probability=None,
        proposed_margin=None,
        proposed_head_version=None,
        proposed_taxonomy_version=None,
        proposed_event_id=None,
    )


def _reopened(event: TagEvent) -> Tag:
    """A reviewer's undo: the tag as it was without the undone decision (in the event)."""
    restored = msgspec.convert((event.evidence or {})["restores"], Tag)
    return msgspec.structs.replace(restored, event_id=event.event_id)


def decision_in_force(events: Sequence[TagEvent]) -> TagEvent | None:
    """The reviewer's decision one tag's history stands on (what an undo takes back), or
    None when the tag is not a human decision now.

    Undo works as a stack, as in an editor: each undo takes back the newest decision not
    yet undone, so undoing twice returns to the state before the two decisions (an undo is
    never itself undone). A migration since only carried the decision to another value or
    parent, so it is not what an undo takes back.
    """
    tag = next(iter(fold_tags(events).values()), None)
    if tag is None or tag.state not in HUMAN_STATES:
        return None
    return next(iter(reversed(decision_stack(events))), None)


def decision_stack(events: Iterable[TagEvent]) -> list[TagEvent]:
    """One tag's human decisions that no undo took back, oldest first."""
    stack: list[TagEvent] = []
    for event in sorted(events, key=_sort_key):
        if event.kind == "reopened":
            if stack:
                stack.pop()
        elif event.actor.type == "human" and event.kind in HUMAN_DECISION_KINDS:
            stack.append(event)
    return stack


def without_decision(events: Sequence[TagEvent], decision_id: str) -> Tag | None:
    """One tag's history (its events) as it stood just before ``decision_id``, carried
    through the taxonomy migrations since: what an undo of that decision returns to.

    Model events since are left out: while the decision was in force they were only
    proposals beside it, and the undo returns to the state the reviewer judged.
    """
    ordered = sorted(events, key=_sort_key)
    at = next((i for i, e in enumerate(ordered) if e.event_id == decision_id), len(ordered))
    tag = next(iter(fold_tags(ordered[:at]).values()), None)
    for event in ordered[at + 1 :]:
        if tag is not None and event.kind in ("migrated", "retired"):
            tag = carried(tag, event)
    return tag


def split_reopened(tag: Tag) -> Tag:
    """``tag`` as a split leaves it (its target chosen for it): a rejection stays one, a
    confirmation or correction goes back to review (applied), a machine value is a
    suggestion until the model decides among the new values, as an apply does to a tag in
    force."""
    if tag.state == "rejected":
        return tag
    state = "flagged" if tag.state in HUMAN_STATES else "suggested"
    return msgspec.structs.replace(
        tag,
        state=state,
        applied=state in APPLIED_STATES,
        reviewed=False,
        needs_review=state in PENDING_STATES,
    )


def carried(tag: Tag, event: TagEvent) -> Tag | None:
    """``tag`` (a state the history left, not the one the migration moved) after a later
    migration event of its attribute: the value the migration moved from goes where it went.

    Its state stays, unless a split chose its target (:func:`split_reopened`: a decision
    under a rejection that was in force at the split); its ``event_id`` stays too: the
    training fold follows it back to the decision behind it.
    """
    if event.kind == "retired":
        return None
    if event.previous_value != tag.value:
        return tag  # the migration moved another value; the taxonomy in force re-expands it
    if (event.evidence or {}).get("candidates"):
        # A split chose the target: a decision carried through it comes back to review.
        tag = split_reopened(tag)
    return msgspec.structs.replace(
        tag,
        value=event.value,
        label=event.label,
        values=event.values,
        family=event.family,
        taxonomy_version=event.taxonomy_version,
        # A proposal named the old taxonomy's value; the next retag re-proposes.
        proposed_value=None,
        proposed_probability=None,
        proposed_margin=None,
        proposed_head_version=None,
        proposed_taxonomy_version=None,
        proposed_event_id=None,
    )


def fold_tags(events: Iterable[TagEvent], start: Iterable[Tag] = ()) -> dict[str, Tag]:
    """Fold events (in revision order) onto ``start``, the tags before the first of them.

    Folding revisions 1..n at once and folding n onto the fold of 1..n-1 give the same tags:
    the whole state of an attribute is its :class:`Tag`.
    """
    tags: dict[str, Tag] = {key_of(t): t for t in start}
    for event in sorted(events, key=_sort_key):
        key = key_of(event)
        current = tags.get(key)
        if event.kind == "retired":
            tags.pop(key, None)
            continue
        if event.kind == "migrated":
            if current is not None:
                tags[key] = _migrated(event, current)
            continue
        if event.kind == "reopened":
            tags[key] = _reopened(event)
            continue
        if event.kind == "model_tagged":
            rejection = reproposes(event, current)
            if current is not None and rejection is not None:
                # A newer head proposes the rejected value again, confidently enough: it
                # is a suggestion for review again (never applied), naming the rejection.
                tags[key] = msgspec.structs.replace(
                    _from_model(event, current.first_seen_at), reproposal_of=rejection
                )
                continue
            if current is not None and human_decided(current.state, current.source):
                # A human decided this attribute (or a split sent the decision back to
                # review); the model does not overrule it. Its newer opinion is kept beside
                # the decision so reviewers can see disagreement.
                tags[key] = msgspec.structs.replace(
                    current,
                    proposed_value=event.value,
                    proposed_probability=event.probability,
                    proposed_margin=margin_of(event),
                    proposed_head_version=event.actor.head_version,
                    proposed_taxonomy_version=event.taxonomy_version,
                    proposed_event_id=event.event_id,
                )
                continue
            first_seen = current.first_seen_at if current else event.at
            tags[key] = _from_model(event, first_seen)
        else:
            tags[key] = _from_human(event, current)
    return tags


def _extend(fields: dict[str, list[str]], name: str, values: list[str]) -> None:
    held = fields.setdefault(name, [])
    held.extend(v for v in values if v not in held)


def projection_fields(
    events: Iterable[TagEvent],
    *,
    base: Sequence[Tag] = (),
    base_terms: Mapping[str, Sequence[str]] | None = None,
    base_revision: int = 0,
) -> dict[str, Any]:
    """Every asset-document field that derives from events (tags, facets, review state).

    With no ``base`` this is the fold of an asset's whole history. A writer that appends
    one revision passes the stored tags as ``base`` (with the free-text terms of the events
    behind them, ``base_terms`` by event id) instead of re-reading the whole history.
    """
    event_list = list(events)
    tags = fold_tags(event_list, base)
    applied: dict[str, list[str]] = {}
    candidates: dict[str, list[str]] = {}
    pending: dict[str, list[str]] = {}
    text: list[str] = []
    text_all: list[str] = []
    terms_by_event: dict[str, Sequence[str]] = dict(base_terms or {})
    terms_by_event.update((e.event_id, e.terms) for e in event_list)
    oldest: str | None = None
    lowest: float | None = None
    for key in sorted(tags):
        tag = tags[key]
        name = tag.attribute  # a multi-valued attribute's values are filtered together
        expanded = list(tag.values or ((tag.value,) if tag.value else ()))
        terms = list(terms_by_event.get(tag.event_id, ()))
        if tag.state != "rejected":
            _extend(candidates, name, expanded)
            text_all.extend(terms)
        if tag.applied:
            _extend(applied, name, expanded)
            text.extend(terms)
        if tag.needs_review:
            _extend(pending, name, expanded)
            oldest = tag.first_seen_at if oldest is None else min(oldest, tag.first_seen_at)
            if tag.probability is not None:
                lowest = tag.probability if lowest is None else min(lowest, tag.probability)
    revision = max((e.seq for e in event_list), default=base_revision)
    fields: dict[str, Any] = {
        "tags": [msgspec.to_builtins(tags[key]) for key in sorted(tags)],
        "applied": applied,
        "candidates": candidates,
        "pending": pending,
        "pending_count": len(pending),
        "oldest_pending_at": oldest,
        "min_pending_probability": lowest,
        "tag_text": " ".join(text),
        "tag_text_all": " ".join(text_all),
        "revision": revision,
        # Review effort: how long reviewers looked before the decisions in force.
        "review_ms": sum(t.shown_ms or 0 for t in tags.values()) or None,
    }
    migrated_to = [(e.seq, version) for e in event_list if (version := carried_into(e))]
    if migrated_to:
        # The taxonomy the asset was last carried into (ingest sets the first one).
        fields["taxonomy_version"] = max(migrated_to)[1]
    # JSON-native shapes (lists, not tuples), exactly as OpenSearch hands them back, so a
    # rebuilt projection compares equal to the stored one.
    return msgspec.json.decode(msgspec.json.encode(fields))  # type: ignore[no-any-return]
