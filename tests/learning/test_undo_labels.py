"""Training labels after repeated undo (pure): the events are built by the same code the
review use case runs, and the label of a decided tag is always the value its fold holds."""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np

from tagtrail.domain.asset import Asset
from tagtrail.domain.decisions import Decision, build_decision
from tagtrail.domain.projection import (
    REPROPOSAL,
    decision_in_force,
    fold_tags,
    without_decision,
)
from tagtrail.domain.records import Actor, TagEvent, event_id
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.learning.dataset import (
    decided_tags,
    examples_from_events,
    labels_from_mapping,
    without_undone,
)
from tagtrail.tagging.taxonomy_files import load_taxonomy

TAXONOMY: Taxonomy = load_taxonomy(Path(__file__).resolve().parents[2] / "taxonomy" / "default")
LABELS = labels_from_mapping({"peacoat": "pea coat", "trench_coat": "trench coat"})


def _model() -> TagEvent:
    return TagEvent(
        event_id=event_id("a1", 1, 0),
        asset_id="a1",
        attribute="category",
        kind="model_tagged",
        seq=1,
        at="2026-01-01T00:00:01.000000Z",
        state="flagged",
        value="peacoat",
        label="Peacoat",
        values=TAXONOMY.ancestors("category", "peacoat"),
        probability=0.8,
        tier="flagged",
        actor=Actor(type="model", id="clip", head_version="zero-shot@1"),
        taxonomy_version=TAXONOMY.attribute_version("category"),
    )


def _decide(events: list[TagEvent], kind: str, value: str | None = None) -> list[TagEvent]:
    """``events`` and the next reviewer event, built as the review use case builds it."""
    tags = fold_tags(events)
    restore = None
    if kind == "reopened":
        decision = decision_in_force(events)
        assert decision is not None
        restore = without_decision(events, decision.event_id)
    asset = Asset(asset_id="a1", revision=len(events), tags=tuple(tags.values()))
    event = build_decision(
        Decision(kind=kind, attribute="category", value=value),  # type: ignore[arg-type]
        asset=asset,
        actor_id="rita",
        taxonomy=TAXONOMY,
        at=f"2026-01-01T00:00:{len(events) + 1:02d}.000000Z",
        restore=restore,
    )
    return [*events, event]


def _state(events: list[TagEvent]) -> tuple[str | None, str]:
    tag = fold_tags(events)["category"]
    return tag.value, tag.state


def _positives(events: list[TagEvent]) -> list[str]:
    data = examples_from_events(
        events, attribute="category", vectors={"a1": np.ones(4)}, label_for=LABELS
    )
    return [e.value for e in data.examples if e.polarity == "positive"]


def test_each_undo_trains_on_the_value_in_force() -> None:
    events = _decide([_model()], "confirmed")
    events = _decide(events, "corrected", "trench_coat")
    assert _positives(events) == ["trench_coat"]
    events = _decide(events, "reopened")  # back to the confirmation
    assert _state(events) == ("peacoat", "confirmed")
    # Before the fix training said trench_coat here while the document said peacoat.
    assert _positives(events) == ["peacoat"]
    (decided,) = decided_tags(events, "category")
    assert decided.decision.event_id == event_id("a1", 2, 0)  # the confirmation
    assert [e.seq for e in without_undone(events)] == [1, 2]
    events = _decide(events, "reopened")  # undoes the confirmation too: the proposal is back
    assert _state(events) == ("peacoat", "flagged")
    assert _positives(events) == []
    assert decided_tags(events, "category") == []
    assert [e.seq for e in without_undone(events)] == [1]
    events = _decide(events, "corrected", "trench_coat")  # decided anew after the undos
    assert _positives(events) == ["trench_coat"]
    assert [e.seq for e in without_undone(events)] == [1, 6]


def test_undoing_the_first_decision_leaves_nothing_to_train_on() -> None:
    events = _decide(_decide([_model()], "confirmed"), "reopened")
    assert _state(events) == ("peacoat", "flagged")
    assert _positives(events) == []
    assert decided_tags(events, "category") == []
    assert [e.seq for e in without_undone(events)] == [1]


def test_undo_returns_to_the_proposal_judged_not_a_newer_one() -> None:
    """Found by the deep profile (as a disagreement of its reference model): a newer head's
    proposal made while a decision was in force is only shown beside it; an undo returns to
    the state before the decision, the proposal the reviewer judged."""
    events = _decide([_model()], "confirmed")
    newer = msgspec.structs.replace(
        _model(),
        event_id=event_id("a1", 3, 0),
        seq=3,
        at="2026-01-01T00:00:03.000000Z",
        value="trench_coat",
        label="Trench coat",
        values=TAXONOMY.ancestors("category", "trench_coat"),
    )
    events = [*events, newer]
    tag = fold_tags(events)["category"]
    assert (tag.value, tag.state, tag.proposed_value) == ("peacoat", "confirmed", "trench_coat")
    events = _decide(events, "reopened")
    assert _state(events) == ("peacoat", "flagged")


def _repropose(events: list[TagEvent], value: str) -> list[TagEvent]:
    """A newer head's retag event that proposes ``value`` again as a re-proposal."""
    seq = len(events) + 1
    rejection = fold_tags(events)["category"].event_id
    newer = msgspec.structs.replace(
        _model(),
        event_id=event_id("a1", seq, 0),
        seq=seq,
        at=f"2026-01-01T00:00:{seq:02d}.000000Z",
        value=value,
        values=TAXONOMY.ancestors("category", value),
        tier="suggested",
        state="suggested",
        actor=Actor(type="model", id="clip", head_version="head@2"),
        evidence={REPROPOSAL: {"rejected_event_id": rejection}},
    )
    return [*events, newer]


def _negatives(events: list[TagEvent]) -> list[str]:
    data = examples_from_events(
        events, attribute="category", vectors={"a1": np.ones(4)}, label_for=LABELS
    )
    return [e.value for e in data.examples if e.polarity == "negative"]


def test_a_rejection_stays_a_negative_while_its_reproposal_awaits_review() -> None:
    """Found by the deep profile: a newer head proposed a rejected value again (a suggestion
    for review, naming the rejection); the rejection was still in force, yet the training set
    dropped its negative."""
    events = _decide([_model()], "rejected")
    assert _negatives(events) == ["peacoat"]
    events = _repropose(events, "peacoat")
    tag = fold_tags(events)["category"]
    assert (tag.state, tag.value, tag.reproposal_of) == ("suggested", "peacoat", events[1].event_id)
    assert _negatives(events) == ["peacoat"]
    # A still newer head moves on while the re-proposal is pending: the rejection of
    # peacoat stays the negative, the model's trench coat is no label at all.
    events = _repropose(events, "trench_coat")
    assert fold_tags(events)["category"].value == "trench_coat"
    assert _negatives(events) == ["peacoat"]
    assert _positives(events) == []
    # The reviewer decides the re-proposal: their new decision is the label.
    events = _decide(events, "confirmed")
    assert (_positives(events), _negatives(events)) == (["trench_coat"], [])
