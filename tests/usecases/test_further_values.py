"""Re-deciding a multi-valued attribute: further values keep their slots, and one the model
no longer proposes is withdrawn by an event unless a reviewer decided it (pure: no store)."""

from __future__ import annotations

from typing import Any

from tagtrail.domain.projection import projection_fields
from tagtrail.domain.records import Actor, ModelDecision, TagEvent
from tagtrail.usecases.ingest import model_event
from tagtrail.usecases.retag import changed_decisions, in_slots

MODEL = Actor(type="model", id="m", model_fingerprint="m", head_version="h1")


def _tag(value: str, slot: str | None, state: str = "suggested", **extra: Any) -> dict[str, Any]:
    return {
        "attribute": "material",
        "slot": slot,
        "value": value,
        "state": state,
        "tier": "suggested",
        "head_version": "h1",
        "model_version": "m",
        "taxonomy_version": "t1",
        "event_id": f"e-{value}",
        **extra,
    }


def _decision(value: str, slot: str | None) -> ModelDecision:
    return ModelDecision(
        attribute="material",
        slot=slot,
        value=value,
        tier="suggested",
        taxonomy_version="t1",
        actor=MODEL,
    )


def test_a_further_value_goes_in_the_slot_already_holding_it() -> None:
    doc = {"tags": [_tag("wool", None), _tag("cream_wool", "ecru")]}  # a renamed value
    slotted = in_slots(doc, [_decision("cream_wool", "cream_wool"), _decision("silk", "silk")])
    assert [d.slot for d in slotted] == ["ecru", "silk"]
    taken = {"tags": [_tag("wool", None), _tag("linen", "silk")]}  # "silk" names another value
    assert in_slots(taken, [_decision("silk", "silk")])[0].slot == "silk~2"


def test_withdrawn_unless_a_reviewer_decided_it() -> None:
    doc = {
        "tags": [
            _tag("wool", None),
            _tag("polyester", "polyester"),  # the model's: no longer proposed
            _tag("silk", "silk", state="confirmed"),  # a reviewer's: stays
            _tag("cotton", "cotton"),  # proposed again unchanged: nothing to write
        ]
    }
    out = changed_decisions(doc, [_decision("wool", None), _decision("cotton", "cotton")])
    assert [(d.slot, d.value) for d in out] == [("polyester", None)]
    event = model_event("a", 0, out[0], "2026-01-01T00:00:00.000000Z", seq=2)
    assert event.kind == "retired"
    assert event.evidence == {"withdrawn": "polyester", "was": "e-polyester"}


def test_other_attributes_are_not_withdrawn_by_a_partial_decision() -> None:
    doc = {"tags": [_tag("wool", None), _tag("polyester", "polyester")]}
    colour = ModelDecision(attribute="colour", value="navy", actor=MODEL)
    assert changed_decisions(doc, [colour]) == [colour]


def test_the_projection_keeps_each_value_in_its_slot_and_filters_on_all() -> None:
    at = "2026-01-01T00:00:00.000000Z"
    events = [
        TagEvent(
            event_id=f"a:000001:0{n}",
            asset_id="a",
            attribute="material",
            slot=slot,
            value=value,
            values=(value,),
            kind="model_tagged",
            seq=1,
            at=at,
            state=state,
            tier=state,
            actor=MODEL,
        )  # type: ignore[arg-type]
        for n, (slot, value, state) in enumerate(
            [
                (None, "wool", "auto_applied"),
                ("silk", "silk", "flagged"),
                ("linen", "linen", "suggested"),
            ]
        )
    ]
    fields = projection_fields(events)
    assert [(t.get("slot"), t["value"]) for t in fields["tags"]] == [
        (None, "wool"),
        ("linen", "linen"),
        ("silk", "silk"),
    ]
    assert fields["applied"] == {"material": ["wool", "silk"]}
    assert fields["pending"] == {"material": ["linen", "silk"]}  # by slot
    assert fields["pending_count"] == 1  # one attribute to review
    retire = TagEvent(
        event_id="a:000002:00",
        asset_id="a",
        attribute="material",
        slot="silk",
        kind="retired",
        seq=2,
        at=at,
        state="suggested",
        actor=MODEL,
    )
    after = projection_fields([*events, retire])
    assert [t.get("slot") for t in after["tags"]] == [None, "linen"]
    assert after["applied"] == {"material": ["wool"]}
