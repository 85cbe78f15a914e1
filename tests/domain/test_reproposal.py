"""A rejected value comes back only from a newer head above the configured confidence, and
then only as a suggestion; the fold keeps naming the rejection until a human decides."""

from __future__ import annotations

import msgspec

from tagtrail.domain.projection import disagrees, fold_tags
from tagtrail.domain.records import Actor, ModelDecision, TagEvent, event_id
from tagtrail.domain.reproposal import REFUSED, repropose
from tests.domain.test_projection import MODEL, NEWER, human, model

NEWEST = Actor(type="model", id="clip@1", model_fingerprint="clip@1", head_version="zs/3")


def decision(value: str, p: float, actor: Actor) -> ModelDecision:
    return ModelDecision(
        attribute="category",
        value=value,
        probability=p,
        tier="auto_applied",
        tier_reason=f"{p} ≥ high 0.95 → auto_applied",
        actor=actor,
        taxonomy_version="t1",
    )


def as_event(d: ModelDecision, seq: int) -> TagEvent:
    return TagEvent(
        **msgspec.structs.asdict(d),
        event_id=event_id("a", seq, 0),
        asset_id="a",
        kind="model_tagged",
        seq=seq,
        at=f"2026-01-0{seq}T00:00:00.000000Z",
        state=d.tier,  # type: ignore[arg-type]
    )


REJECTED = [model(1, "peacoat", "flagged", 0.8), human(2, "rejected", "peacoat")]


def test_same_head_or_too_unsure_stays_a_proposal() -> None:
    events = REJECTED
    tag = fold_tags(events)["category"]
    assert tag.state == "rejected"
    same = repropose(decision("peacoat", 0.99, MODEL), tag, 0.9)
    assert same.tier == "auto_applied"
    assert same.evidence is not None
    assert same.evidence[REFUSED]["why"] == "same head"
    assert "not re-proposed" in (same.tier_reason or "")
    unsure = repropose(decision("peacoat", 0.85, NEWER), tag, 0.9)
    assert unsure.evidence is not None
    assert unsure.evidence[REFUSED]["why"] == "below minimum"
    assert "0.85 < re-propose minimum 0.9" in (unsure.tier_reason or "")
    for refused in (same, unsure):
        folded = fold_tags([as_event(refused, 3)], [tag])["category"]
        assert folded.state == "rejected"
        assert folded.proposed_value == "peacoat"
        assert folded.reproposal_of is None
        assert not folded.applied
        assert not folded.needs_review
    # Another value than the rejected one is not a re-proposal: a proposal beside it.
    other = repropose(decision("trench_coat", 0.99, NEWER), tag, 0.9)
    assert other == decision("trench_coat", 0.99, NEWER)
    assert disagrees(fold_tags([as_event(other, 3)], [tag])["category"])


def test_newer_confident_head_proposes_again_as_a_suggestion() -> None:
    events = REJECTED
    tag = fold_tags(events)["category"]
    again = repropose(decision("peacoat", 0.97, NEWER), tag, 0.9)
    assert again.tier == "suggested"
    assert again.evidence is not None
    facts = again.evidence["reproposal"]
    assert facts["rejected_event_id"] == tag.event_id
    assert (facts["rejected_head_version"], facts["head_version"]) == ("zs/1", "zs/2")
    assert facts["rejected_by"] == "rita"
    assert "re-proposed by newer head zs/2 at 0.97 ≥ re-propose minimum 0.9" in (
        again.tier_reason or ""
    )
    folded = fold_tags([*events, as_event(again, 3)])["category"]
    assert (folded.value, folded.state, folded.applied) == ("peacoat", "suggested", False)
    assert folded.needs_review
    assert folded.reproposal_of == tag.event_id
    assert folded.source == "model"
    # A later, even surer head keeps it a suggestion until a human decides again...
    later = repropose(decision("peacoat", 0.999, NEWEST), folded, 0.9)
    assert later.tier == "suggested"
    still = fold_tags([as_event(later, 4)], [folded])["category"]
    assert (still.state, still.reproposal_of) == ("suggested", tag.event_id)
    # ...and a human decision ends the re-proposal.
    confirmed = fold_tags([human(5, "confirmed", "peacoat")], [still])["category"]
    assert (confirmed.state, confirmed.reproposal_of) == ("confirmed", None)
    assert repropose(decision("peacoat", 0.99, NEWEST), confirmed, 0.9).tier == "auto_applied"


def test_disagreement_is_a_different_proposal_on_a_human_decision() -> None:
    corrected = [model(1, "peacoat", "flagged", 0.8), human(2, "corrected", "trench_coat")]
    assert not disagrees(fold_tags(corrected)["category"])
    agreeing = fold_tags([*corrected, model(3, "trench_coat", "auto_applied", 0.99, NEWER)])
    assert not disagrees(agreeing["category"])
    other = fold_tags([*corrected, model(3, "parka", "auto_applied", 0.99, NEWER)])
    assert disagrees(other["category"])
    # A model tag is never a disagreement, whatever it says.
    assert not disagrees(fold_tags([model(1, "parka", "suggested", 0.3)])["category"])
