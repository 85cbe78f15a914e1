"""The shadow report's counting: which decisions judge a challenger, recorded or computed."""

from __future__ import annotations

from typing import Any

from tagtrail.domain.records import Actor, TagEvent, event_id
from tagtrail.learning.shadow import shadow_report, unrecorded

CHALLENGER = "shot_type@challenger"
CREATED = "2026-01-02T00:00:00.000000Z"


def _model(asset: str, value: str, shadow: dict[str, Any] | None = None) -> TagEvent:
    return TagEvent(
        event_id=event_id(asset, 1, 0),
        asset_id=asset,
        attribute="shot_type",
        kind="model_tagged",
        seq=1,
        at="2026-01-01T00:00:00.000000Z",
        state="suggested",
        value=value,
        probability=0.6,
        tier="suggested",
        actor=Actor(type="model", id="clip", head_version="shot_type@champion"),
        evidence={"shadow": shadow} if shadow is not None else None,
    )


def _human(model: TagEvent, kind: str, value: str, at: str) -> TagEvent:
    return TagEvent(
        event_id=event_id(model.asset_id, 2, 0),
        asset_id=model.asset_id,
        attribute="shot_type",
        kind=kind,  # type: ignore[arg-type]
        seq=2,
        at=at,
        state=kind,  # type: ignore[arg-type]
        value=value,
        previous_value=model.value,
        actor=Actor(type="human", id="rita"),
    )


AFTER = "2026-01-03T00:00:00.000000Z"
BEFORE = "2026-01-01T12:00:00.000000Z"


def test_recorded_and_computed_proposals_count_only_after_the_challenger_was_created() -> None:
    recorded = _model("a", "flat_lay", {"head_version": CHALLENGER, "value": "on_model"})
    older = _model("b", "flat_lay")  # tagged before the challenger: nothing recorded
    trained_on = _model("c", "flat_lay")  # decided before it existed: it trained on this
    rejected = _model("d", "flat_lay")
    other = _model("e", "detail", {"head_version": "shot_type@another", "value": "detail"})
    events = [
        recorded,
        _human(recorded, "corrected", "on_model", AFTER),
        older,
        _human(older, "confirmed", "flat_lay", AFTER),
        trained_on,
        _human(trained_on, "corrected", "detail", BEFORE),
        rejected,
        _human(rejected, "rejected", "flat_lay", AFTER),
        other,
        _human(other, "confirmed", "detail", AFTER),
    ]
    # Computed only where nothing of this version was recorded and a reviewer decided later.
    assert [m.asset_id for m in unrecorded(events, "shot_type", CHALLENGER, CREATED)] == [
        "b",
        "e",
    ]
    computed = {older.event_id: "ghost_mannequin", other.event_id: "detail"}
    report = shadow_report(events, "shot_type", CHALLENGER, since=CREATED, computed=computed)
    assert (report.n, report.computed) == (3, 2)
    # a: challenger right (on_model), champion wrong; b: challenger wrong, champion right;
    # e: both right.
    assert (report.challenger_agreed, report.champion_agreed) == (2, 2)
    # Without computed proposals only the recorded one counts; without ``since`` the
    # decision that trained it would too, but it recorded nothing, so nothing changes.
    alone = shadow_report(events, "shot_type", CHALLENGER, since=CREATED)
    assert (alone.n, alone.computed, alone.challenger_agreed) == (1, 0, 1)
    assert shadow_report(events, "shot_type", CHALLENGER).n == 1
