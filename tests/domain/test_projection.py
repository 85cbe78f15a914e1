"""The fold from events to effective tags (pure; no OpenSearch needed)."""

from __future__ import annotations

import msgspec

from tagtrail.domain.projection import fold_tags, projection_fields
from tagtrail.domain.records import Actor, TagEvent, event_id

MODEL = Actor(type="model", id="clip@1", model_fingerprint="clip@1", head_version="zs/1")
NEWER = Actor(type="model", id="clip@1", model_fingerprint="clip@1", head_version="zs/2")
RITA = Actor(type="human", id="rita")


def model(seq: int, value: str, tier: str, p: float, actor: Actor = MODEL, n: int = 0) -> TagEvent:
    return TagEvent(
        event_id=event_id("a", seq, n),
        asset_id="a",
        attribute="category",
        kind="model_tagged",
        seq=seq,
        at=f"2026-01-0{seq}T00:00:00.000000Z",
        actor=actor,
        state=tier,  # type: ignore[arg-type]
        value=value,
        values=(value, "outerwear"),
        terms=(value.title(),),
        probability=p,
        tier=tier,
        taxonomy_version="t1",
    )


def human(seq: int, kind: str, value: str | None) -> TagEvent:
    return TagEvent(
        event_id=event_id("a", seq, 0),
        asset_id="a",
        attribute="category",
        kind=kind,  # type: ignore[arg-type]
        seq=seq,
        at=f"2026-01-0{seq}T00:00:00.000000Z",
        actor=RITA,
        state=kind,  # type: ignore[arg-type]
        value=value,
        values=(value, "outerwear") if value else (),
        terms=(value or "",),
        taxonomy_version="t1",
    )


def test_model_tiers_decide_applied_and_review() -> None:
    for tier, applied, review in [
        ("auto_applied", True, False),
        ("flagged", True, True),
        ("suggested", False, True),
    ]:
        tag = fold_tags([model(1, "peacoat", tier, 0.9)])["category"]
        assert (tag.applied, tag.needs_review, tag.source) == (applied, review, "model")


def test_human_decisions_win_over_later_model_events() -> None:
    events = [
        model(1, "peacoat", "flagged", 0.8),
        human(2, "corrected", "trench_coat"),
        model(3, "puffer_jacket", "auto_applied", 0.99, actor=NEWER),
    ]
    tag = fold_tags(events)["category"]
    assert tag.value == "trench_coat"
    assert tag.state == "corrected"
    assert tag.source == "model_then_human"
    assert tag.applied
    assert not tag.needs_review
    assert tag.proposed_value == "puffer_jacket"
    assert tag.proposed_head_version == "zs/2"
    assert tag.first_seen_at == events[0].at
    # Order of arrival does not matter: the fold sorts by revision.
    assert fold_tags(list(reversed(events)))["category"] == tag


def test_rejection_unapplies_and_leaves_candidates() -> None:
    fields = projection_fields(
        [model(1, "peacoat", "auto_applied", 0.97), human(2, "rejected", "peacoat")]
    )
    assert fields["applied"] == {}
    assert fields["candidates"] == {}
    assert fields["pending_count"] == 0
    assert fields["revision"] == 2
    assert fields["tags"][0]["state"] == "rejected"


def test_pending_fields_order_the_review_queue() -> None:
    fields = projection_fields([model(1, "peacoat", "suggested", 0.41)])
    assert fields["pending"] == {"category": ["peacoat", "outerwear"]}
    assert fields["min_pending_probability"] == 0.41
    assert fields["oldest_pending_at"] == "2026-01-01T00:00:00.000000Z"
    assert fields["tag_text"] == ""  # suggestions are not matched by default
    assert fields["tag_text_all"] == "Peacoat"
    confirmed = projection_fields(
        [model(1, "peacoat", "flagged", 0.8), human(2, "confirmed", "peacoat")]
    )
    assert confirmed["pending"] == {}
    assert confirmed["applied"] == {"category": ["peacoat", "outerwear"]}
    assert confirmed["tags"][0]["probability"] == 0.8  # the model's evidence stays visible


def _judged(events: list[TagEvent]) -> tuple[str | None, float | None, bool | None]:
    tag = fold_tags(events)["category"]
    return tag.judged_value, tag.judged_probability, tag.judged_right


def test_a_decision_keeps_the_machine_proposal_it_judged() -> None:
    proposed = model(1, "peacoat", "flagged", 0.8)
    assert _judged([proposed]) == (None, None, None)  # nobody judged it yet
    assert _judged([proposed, human(2, "confirmed", "peacoat")]) == ("peacoat", 0.8, True)
    assert _judged([proposed, human(2, "rejected", "peacoat")]) == ("peacoat", 0.8, False)
    corrected = [proposed, human(2, "corrected", "trench_coat")]
    assert _judged(corrected) == ("peacoat", 0.8, False)
    # A later decision judges the reviewer's value, but the machine's proposal stays the
    # one judged: confirming a correction still says the machine was wrong, and correcting
    # back to its value says it was right.
    assert _judged([*corrected, human(3, "confirmed", "trench_coat")]) == ("peacoat", 0.8, False)
    assert _judged([*corrected, human(3, "corrected", "peacoat")]) == ("peacoat", 0.8, True)
    # A newer proposal beside a decision is not what was judged.
    newer = model(3, "puffer_jacket", "auto_applied", 0.99, actor=NEWER)
    assert _judged([*corrected, newer]) == ("peacoat", 0.8, False)


def test_review_time_is_the_sum_over_the_decisions_in_force() -> None:
    timed = msgspec.structs.replace(human(2, "confirmed", "peacoat"), shown_ms=1500)
    fields = projection_fields([model(1, "peacoat", "flagged", 0.8), timed])
    assert fields["review_ms"] == 1500
    assert fields["tags"][0]["shown_ms"] == 1500
    untimed = projection_fields([model(1, "peacoat", "flagged", 0.8), human(2, "confirmed", None)])
    assert untimed["review_ms"] is None
