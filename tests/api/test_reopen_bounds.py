"""reopenTag/reopenTags size no read by the caller's numbers: a huge expectedRevision, a
missing asset or an unknown attribute is answered at once (Conflict, NotFound,
InvalidInput), before any history is read. Before the fix each of these started a loop of
one store request per revision number up to 2,147,483,647."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch

HUGE = 2_147_483_647  # the largest Int GraphQL lets a caller send
REOPEN = """mutation($input: TagDecisionInput!) { reopenTag(input: $input) { __typename
  ... on Conflict { currentRevision } ... on NotFound { message }
  ... on InvalidInput { message field } } }"""
CONFIRM = """mutation($input: TagDecisionInput!) { confirmTag(input: $input) { __typename } }"""
BULK_REOPEN = """mutation($input: BulkTagDecisionInput!) { reopenTags(input: $input) {
  ... on BulkTagDecision { succeeded failed items { assetId result { __typename } } } } }"""


async def _answer(api: Api, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    # Answered from the stored revision in milliseconds; the loop it replaced ran for days.
    return await asyncio.wait_for(api.data(query, variables), timeout=10)


async def test_reopen_checks_the_revision_asset_and_attribute_before_any_read(api: Api) -> None:
    await api.create([A(id="u0", tags=(T(attribute="category", value="jumper", probability=0.8),))])
    confirm = {"assetId": "u0", "attribute": "category", "expectedRevision": 1}
    assert (await api.data(CONFIRM, {"input": confirm}))["confirmTag"]["__typename"] == (
        "TagDecision"
    )
    missing = {"__typename": "NotFound", "message": "asset 'nobody' does not exist"}
    cases = [
        (
            {"assetId": "u0", "attribute": "category"},
            {"__typename": "Conflict", "currentRevision": 2},
        ),
        ({"assetId": "nobody", "attribute": "category"}, missing),
    ]
    for target, expected in cases:
        found = await _answer(api, REOPEN, {"input": {**target, "expectedRevision": HUGE}})
        assert found["reopenTag"] == expected
    unknown = {"assetId": "nobody", "attribute": "nope", "expectedRevision": HUGE}
    refused = (await _answer(api, REOPEN, {"input": unknown}))["reopenTag"]
    assert (refused["__typename"], refused["field"]) == ("InvalidInput", "attribute")
    assert "unknown attribute 'nope'" in refused["message"]
    assert (await api.source("u0"))["revision"] == 2  # nothing written


async def test_bulk_reopen_with_huge_revisions_answers_each_item_at_once(api: Api) -> None:
    await api.create(
        [A(id=f"u{n}", tags=(T(attribute="category", value="jumper"),)) for n in range(2)]
    )
    items = [{"assetId": a, "expectedRevision": HUGE} for a in ("u0", "u1", "nobody")]
    answer = await _answer(api, BULK_REOPEN, {"input": {"attribute": "category", "items": items}})
    result = answer["reopenTags"]
    assert (result["succeeded"], result["failed"]) == (0, 3)
    assert [i["result"]["__typename"] for i in result["items"]] == [
        "Conflict",
        "Conflict",
        "NotFound",
    ]
