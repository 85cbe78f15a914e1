"""Review queue ordering and the reviewer's mutations, checked in the asset and its history."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch

CATALOGUE = [
    # first_seen (at) and probability of the pending tags decide the queue order.
    A(
        id="r1",
        at="2026-01-03T00:00:00.000000Z",
        season="FW",
        season_year=2026,
        tags=(
            T(attribute="category", value="jumper", probability=0.80),  # flagged
            T(attribute="colour", value="black", probability=0.99),
        ),
    ),
    A(
        id="r2",
        at="2026-01-01T00:00:00.000000Z",
        season="FW",
        season_year=2026,
        tags=(
            T(attribute="category", value="cardigan", probability=0.90),
            T(attribute="colour", value="black", probability=0.97),
        ),
    ),
    A(
        id="r3",
        at="2026-01-02T00:00:00.000000Z",
        season="FW",
        season_year=2026,
        tags=(
            T(attribute="category", value="jumper", probability=0.50),  # suggested
            T(attribute="colour", value="navy", probability=0.99),
        ),
    ),
    A(
        id="r4",
        at="2025-12-01T00:00:00.000000Z",
        season="SS",
        season_year=2026,
        tags=(
            T(attribute="category", value="jumper", probability=0.60),
            T(attribute="colour", value="black", probability=0.99),
        ),
    ),
    A(id="done", tags=(T(attribute="category", value="jumper", probability=0.99),)),
]

QUEUE = """
query($filter: AssetFilterInput, $order: ReviewOrder!, $attrs: [String!]) {
  reviewQueue(filter: $filter, order: $order, attributes: $attrs, first: 10) {
    ... on ReviewQueue { totalCount items { asset { id revision }
                         pendingTags { attribute value tier probability } } }
    ... on InvalidInput { message field }
  }
}"""
FW26_BLACK_KNITWEAR = {
    "season": ["FW"],
    "seasonYear": {"gte": 2026, "lte": 2026},
    "tags": [
        {"attribute": "colour", "values": ["black"]},
        {"attribute": "category", "values": ["knitwear"]},
    ],
}

DECIDE = """
mutation($input: TagDecisionInput!) {
  confirmTag(input: $input) { ...Result }
}
fragment Result on TagDecisionResult {
  __typename
  ... on TagDecision { revision asset { id revision tag(attribute: "category") {
      value state reviewed source decidedBy } pendingCount }
    event { kind actorId fromValue toValue note seq } }
  ... on Conflict { message currentRevision }
  ... on InvalidInput { message field }
  ... on NotFound { message id }
  ... on Forbidden { message requiredRole }
}"""
CORRECT = DECIDE.replace("confirmTag(input: $input)", "correctTag(input: $input)").replace(
    "TagDecisionInput!", "TagCorrectionInput!"
)
REJECT = DECIDE.replace("confirmTag", "rejectTag")


async def _queue(api: Api, **variables: Any) -> list[str]:
    result = (await api.data(QUEUE, variables))["reviewQueue"]
    return [i["asset"]["id"] for i in result["items"]]


async def test_queue_orders_and_filters(api: Api) -> None:
    await api.create(CATALOGUE)
    assert await _queue(api, order="OLDEST_FIRST") == ["r4", "r2", "r3", "r1"]
    assert await _queue(api, order="LOWEST_CONFIDENCE_FIRST") == ["r3", "r4", "r1", "r2"]
    # "All FW26 black knitwear awaiting review" (the filter sees suggestions too).
    assert await _queue(api, order="OLDEST_FIRST", filter=FW26_BLACK_KNITWEAR) == ["r2", "r1"]
    assert await _queue(api, order="OLDEST_FIRST", attrs=["colour"]) == []


async def test_confirm_appends_event_and_bumps_revision(api: Api) -> None:
    await api.create(CATALOGUE)
    inp = {"assetId": "r1", "attribute": "category", "expectedRevision": 1, "note": "looks right"}
    result = (await api.data(DECIDE, {"input": inp}))["confirmTag"]
    assert result["__typename"] == "TagDecision"
    assert result["revision"] == 2
    tag = result["asset"]["tag"]
    assert tag == {
        "value": "jumper",
        "state": "confirmed",
        "reviewed": True,
        "source": "model_then_human",
        "decidedBy": "dev",
    }
    assert result["event"] == {
        "kind": "confirmed",
        "actorId": "dev",
        "fromValue": "jumper",
        "toValue": "jumper",
        "note": "looks right",
        "seq": 2,
    }
    events = await api.events("r1")
    assert [e["kind"] for e in events] == ["model_tagged", "model_tagged", "confirmed"]
    source = await api.source("r1")
    assert source["revision"] == 2
    assert "category" not in source["pending"]
    await api.refresh()
    assert await _queue(api, order="OLDEST_FIRST") == ["r4", "r2", "r3"]


async def test_stale_revision_conflicts_and_writes_nothing(api: Api) -> None:
    await api.create(CATALOGUE)
    inp = {"assetId": "r2", "attribute": "category", "expectedRevision": 1}
    assert (await api.data(DECIDE, {"input": inp}))["confirmTag"]["revision"] == 2
    before = await api.events("r2")
    stale = (await api.data(REJECT, {"input": inp}))["rejectTag"]
    assert stale["__typename"] == "Conflict"
    assert stale["currentRevision"] == 2
    assert await api.events("r2") == before
    assert (await api.source("r2"))["revision"] == 2


async def test_correct_validates_value_and_expands_it(api: Api) -> None:
    await api.create(CATALOGUE)
    bad = {"assetId": "r3", "attribute": "category", "expectedRevision": 1, "value": "spaceship"}
    result = (await api.data(CORRECT, {"input": bad}))["correctTag"]
    assert result["__typename"] == "InvalidInput"
    assert result["field"] == "value"
    assert len(await api.events("r3")) == 2
    assert (await api.source("r3"))["revision"] == 1
    good = {**bad, "value": "cardigan"}
    result = (await api.data(CORRECT, {"input": good}))["correctTag"]
    assert result["event"]["fromValue"] == "jumper"
    assert result["event"]["toValue"] == "cardigan"
    source = await api.source("r3")
    assert source["applied"]["category"] == ["cardigan", "knitwear"]


async def test_confirm_without_tag_and_unknown_asset(api: Api) -> None:
    await api.create(CATALOGUE)
    no_tag = {"assetId": "done", "attribute": "colour", "expectedRevision": 1}
    assert (await api.data(DECIDE, {"input": no_tag}))["confirmTag"]["__typename"] == "NotFound"
    missing = {"assetId": "ghost", "attribute": "colour", "expectedRevision": 1}
    result = (await api.data(DECIDE, {"input": missing}))["confirmTag"]
    assert result["__typename"] == "NotFound"
    assert result["id"] == "ghost"


BULK = """
mutation($input: BulkTagDecisionInput!) {
  confirmTags(input: $input) {
    __typename
    ... on BulkTagDecision { succeeded failed items { assetId result { __typename
        ... on TagDecision { revision } ... on Conflict { currentRevision } } } }
    ... on InvalidInput { message field }
  }
}"""


async def test_bulk_answers_per_item(api: Api) -> None:
    await api.create(CATALOGUE)
    items = [
        {"assetId": "r1", "expectedRevision": 1},
        {"assetId": "r2", "expectedRevision": 7},
        {"assetId": "r4", "expectedRevision": 1},
    ]
    result = await api.data(BULK, {"input": {"attribute": "category", "items": items}})
    bulk = result["confirmTags"]
    assert (bulk["succeeded"], bulk["failed"]) == (2, 1)
    by_id = {i["assetId"]: i["result"] for i in bulk["items"]}
    assert by_id["r2"] == {"__typename": "Conflict", "currentRevision": 1}
    assert by_id["r1"] == {"__typename": "TagDecision", "revision": 2}
    assert (await api.source("r2"))["revision"] == 1
    await api.refresh()
    assert await _queue(api, order="OLDEST_FIRST") == ["r2", "r3"]


async def test_bulk_is_bounded(make_api: Any) -> None:
    api = await make_api(max_bulk_assets=2)
    items = [{"assetId": f"x{i}", "expectedRevision": 1} for i in range(3)]
    result = await api.data(BULK, {"input": {"attribute": "category", "items": items}})
    assert result["confirmTags"]["field"] == "items"
