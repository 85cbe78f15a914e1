"""reopenTag (undo): a new event puts the machine proposal back in force — pending again,
with its probability, tier and expansions — and nothing in the history is deleted."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from tagtrail.domain.records import TagEvent
from tagtrail.learning.dataset import latest_human_decisions
from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch

RESULT = """__typename
  ... on TagDecision { revision event { kind fromValue toValue }
    asset { tag(attribute: "category") { value state tier probability needsReview reviewed
            source values headVersion } } }
  ... on Conflict { currentRevision } ... on InvalidInput { message field }
  ... on NotFound { message }"""
DECIDE = {
    kind: f"""mutation($input: {kind_input}!) {{ result: {kind}(input: $input) {{ {RESULT} }} }}"""
    for kind, kind_input in [
        ("confirmTag", "TagDecisionInput"),
        ("rejectTag", "TagDecisionInput"),
        ("correctTag", "TagCorrectionInput"),
        ("reopenTag", "TagDecisionInput"),
    ]
}
BULK_REOPEN = """mutation($input: BulkTagDecisionInput!) { reopenTags(input: $input) {
  ... on BulkTagDecision { succeeded failed items { assetId result { __typename } } } } }"""
CATALOGUE = [
    A(id=f"u{n}", tags=(T(attribute="category", value="jumper", probability=0.8),))
    for n in range(4)
]


async def _do(api: Api, kind: str, asset: str, revision: int, **extra: Any) -> dict[str, Any]:
    variables = {
        "input": {"assetId": asset, "attribute": "category", "expectedRevision": revision, **extra}
    }
    result: dict[str, Any] = (await api.data(DECIDE[kind], variables))["result"]
    return result


@pytest.mark.parametrize(
    ("kind", "event_kind", "extra"),
    [
        ("confirmTag", "confirmed", {}),
        ("rejectTag", "rejected", {}),
        ("correctTag", "corrected", {"value": "coat"}),
    ],
)
async def test_undo_of_each_decision_restores_the_pending_proposal(
    api: Api, kind: str, event_kind: str, extra: dict[str, Any]
) -> None:
    await api.create(CATALOGUE[:1])
    before = (await api.source("u0"))["tags"][0]
    decided = await _do(api, kind, "u0", 1, **extra)
    assert decided["__typename"] == "TagDecision", decided
    reopened = await _do(api, "reopenTag", "u0", decided["revision"])
    assert reopened["__typename"] == "TagDecision", reopened
    assert reopened["revision"] == 3
    assert reopened["event"]["kind"] == "reopened"
    assert reopened["event"]["toValue"] == "jumper"
    tag = reopened["asset"]["tag"]
    assert tag["value"] == "jumper"
    assert tag["state"] == before["state"] == "flagged"
    assert tag["needsReview"] is True
    assert tag["reviewed"] is False
    assert tag["probability"] == pytest.approx(before["probability"])
    assert tag["tier"] == before["tier"]
    assert tag["source"] == "model"
    assert tag["values"] == ["jumper", "knitwear"]
    source = await api.source("u0")
    assert source["pending"]["category"] == ["jumper", "knitwear"]
    assert source["pending_count"] == 1
    kinds = [e["kind"] for e in await api.events("u0")]
    assert kinds == ["model_tagged", event_kind, "reopened"]  # nothing deleted


async def test_reopen_refuses_what_it_cannot_undo(api: Api) -> None:
    await api.create(CATALOGUE[:2])
    pending = await _do(api, "reopenTag", "u0", 1)
    assert pending["__typename"] == "InvalidInput"
    assert "not decided by a reviewer" in pending["message"]
    confirmed = await _do(api, "confirmTag", "u1", 1)
    stale = await _do(api, "reopenTag", "u1", 1)
    assert stale == {"__typename": "Conflict", "currentRevision": confirmed["revision"]}
    missing = await _do(api, "reopenTag", "nobody", 1)
    assert missing["__typename"] == "NotFound"
    await api.create([A(id="h0", tags=(T(attribute="colour", value="navy"),))])
    set_by_hand = await _do(api, "correctTag", "h0", 1, value="coat")  # no category proposal
    assert set_by_hand["__typename"] == "TagDecision"
    no_proposal = await _do(api, "reopenTag", "h0", 2)
    assert no_proposal["__typename"] == "InvalidInput"
    assert "nothing before it" in no_proposal["message"]


async def test_bulk_reopen_answers_per_item(api: Api) -> None:
    await api.create(CATALOGUE)
    for n in range(3):
        await _do(api, "confirmTag", f"u{n}", 1)
    items = [{"assetId": f"u{n}", "expectedRevision": 2} for n in range(4)]
    answer = await api.data(BULK_REOPEN, {"input": {"attribute": "category", "items": items}})
    result = answer["reopenTags"]
    assert (result["succeeded"], result["failed"]) == (3, 1)
    assert result["items"][3]["result"]["__typename"] == "Conflict"  # u3 is still at 1
    await api.refresh()
    for n in range(3):
        assert (await api.source(f"u{n}"))["pending_count"] == 1


async def test_an_undone_decision_is_not_training_data(api: Api) -> None:
    await api.create(CATALOGUE[:2])
    await _do(api, "rejectTag", "u0", 1)
    await _do(api, "reopenTag", "u0", 2)
    await _do(api, "confirmTag", "u1", 1)
    events = [msgspec.convert(e, TagEvent) for n in range(2) for e in await api.events(f"u{n}")]
    decisions = latest_human_decisions(events, "category")
    assert [(d.asset_id, d.kind) for d in decisions] == [("u1", "confirmed")]


async def test_undo_restores_a_disagreement_as_it_was(api: Api) -> None:
    from tests.api.test_disagreements import newer_head_says

    asset = CATALOGUE[0]
    await api.create([asset])
    await _do(api, "confirmTag", "u0", 1)
    await newer_head_says(api, asset, "cardigan", 2)  # revision 3: a newer head disagrees
    again = await _do(api, "confirmTag", "u0", 3)  # the reviewer keeps jumper
    assert again["revision"] == 4
    undone = await _do(api, "reopenTag", "u0", 4)
    assert undone["__typename"] == "TagDecision", undone
    tag = (await api.source("u0"))["tags"][0]
    # As before the second confirmation: the first one in force, the proposal beside it.
    assert (tag["value"], tag["state"], tag["proposed_value"]) == (
        "jumper",
        "confirmed",
        "cardigan",
    )
    assert tag["event_id"].endswith(":000005:00")  # the undo's own event
    assert [e["kind"] for e in await api.events("u0")] == [
        "model_tagged",
        "confirmed",
        "model_tagged",
        "confirmed",
        "reopened",
    ]
