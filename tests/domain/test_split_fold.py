"""A taxonomy split sends a reviewer's decision back to review; the fold still lets no model
event replace it (pure; no OpenSearch needed)."""

from __future__ import annotations

import msgspec

from tagtrail.domain.projection import fold_tags, without_decision
from tagtrail.domain.records import Actor, TagEvent, human_decided
from tests.domain.test_projection import NEWER, human, model

SPLIT = Actor(type="migration", id="shirts")


def split(seq: int, state: str) -> TagEvent:
    return TagEvent(
        event_id=f"a:{seq:06d}:00",
        asset_id="a",
        attribute="category",
        kind="migrated",
        seq=seq,
        at=f"2026-01-0{seq}T00:00:00.000000Z",
        actor=SPLIT,
        state=state,  # type: ignore[arg-type]
        value="dress_shirt",
        values=("dress_shirt", "tops"),
        taxonomy_version="t2",
        evidence={"kind": "migration", "candidates": ["dress_shirt", "overshirt"]},
    )


def test_a_split_decision_is_flagged_and_the_model_only_proposes() -> None:
    events = [
        model(1, "shirt", "flagged", 0.8),
        human(2, "confirmed", "shirt"),
        split(3, "flagged"),
        model(4, "bomber_jacket", "suggested", 0.4, actor=NEWER),
    ]
    tag = fold_tags(events)["category"]
    assert (tag.value, tag.state, tag.source, tag.decided_by) == (
        "dress_shirt",
        "flagged",
        "model_then_human",
        "rita",
    )
    assert (tag.applied, tag.needs_review, tag.reviewed) == (True, True, False)
    assert tag.proposed_value == "bomber_jacket"
    assert human_decided(tag.state, tag.source)


def test_a_split_rejection_stays_a_rejection() -> None:
    events = [
        model(1, "shirt", "flagged", 0.8),
        human(2, "rejected", "shirt"),
        split(3, "rejected"),
        model(4, "overshirt", "auto_applied", 0.99, actor=NEWER),
    ]
    tag = fold_tags(events)["category"]
    assert (tag.value, tag.state, tag.applied, tag.reviewed) == (
        "dress_shirt",
        "rejected",
        False,
        True,
    )
    assert tag.proposed_value == "overshirt"


def test_a_model_tag_under_a_split_is_re_decided_by_the_model() -> None:
    events = [
        model(1, "shirt", "flagged", 0.8),
        split(2, "suggested"),
        model(3, "overshirt", "auto_applied", 0.99, actor=NEWER),
    ]
    tag = fold_tags(events)["category"]
    assert (tag.value, tag.state, tag.source) == ("overshirt", "auto_applied", "model")
    assert not human_decided(tag.state, tag.source)


def test_undo_of_a_rejection_split_since_returns_the_confirmation_to_review() -> None:
    """Found by the deep profile: a reviewer confirmed, then rejected; a split moved the
    rejection to its first target; undoing the rejection restored the confirmation as
    *confirmed* of a value the reviewer never saw (the split chose it), and training learnt
    it. It comes back to review, as a split does to a confirmation in force."""
    events = [
        model(1, "shirt", "flagged", 0.8),
        human(2, "confirmed", "shirt"),
        human(3, "rejected", "shirt"),
        msgspec.structs.replace(split(4, "rejected"), previous_value="shirt"),
    ]
    restored = without_decision(events, events[2].event_id)
    assert restored is not None
    assert (restored.value, restored.state, restored.decided_by) == (
        "dress_shirt",
        "flagged",
        "rita",
    )
    assert (restored.applied, restored.needs_review, restored.reviewed) == (True, True, False)
    # A rejection carried through the split stays a rejection.
    rejected = [
        *events[:1],
        human(2, "rejected", "shirt"),
        human(3, "confirmed", "shirt"),
        msgspec.structs.replace(split(4, "flagged"), previous_value="shirt"),
    ]
    again = without_decision(rejected, rejected[2].event_id)
    assert again is not None
    assert (again.value, again.state) == ("dress_shirt", "rejected")
