"""Concurrent reviewers: of several mutations decided on the same revision, exactly one
wins; the others get Conflict, and nothing is lost or written twice."""

from __future__ import annotations

import asyncio

import pytest

from tagtrail.store import Store
from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch

CORRECT = """
mutation($id: ID!, $value: String!, $rev: Int!) {
  correctTag(input: {assetId: $id, attribute: "colour", value: $value, expectedRevision: $rev}) {
    __typename
    ... on TagDecision { revision }
    ... on Conflict { currentRevision }
  }
}"""


async def test_simultaneous_corrections_one_wins(api: Api) -> None:
    await api.create([A(id="c1", tags=(T(attribute="colour", value="black", probability=0.8),))])
    values = ["navy", "charcoal", "burgundy", "forest_green", "cherry", "tomato"]
    answers = await asyncio.gather(
        *(api.data(CORRECT, {"id": "c1", "value": v, "rev": 1}) for v in values)
    )
    kinds = [a["correctTag"]["__typename"] for a in answers]
    assert kinds.count("TagDecision") == 1, kinds
    assert kinds.count("Conflict") == len(values) - 1
    winner = values[kinds.index("TagDecision")]

    source = await api.source("c1")
    assert source["revision"] == 2
    colour = next(t for t in source["tags"] if t["attribute"] == "colour")
    assert colour["value"] == winner
    assert colour["state"] == "corrected"
    events = await api.events("c1")
    assert [e["seq"] for e in events] == [1, 2]
    assert events[-1]["value"] == winner
    store = Store(api.settings, client=api.client)
    assert (
        await store.assets.reproject("c1") is False
    )  # the document is exactly the fold of history

    # A reviewer who reloads sees revision 2 and can decide again.
    retry = await api.data(CORRECT, {"id": "c1", "value": "black", "rev": 2})
    assert retry["correctTag"] == {"__typename": "TagDecision", "revision": 3}
