"""A newer head disagreeing with a human decision: explainTag explains the human value in
force (the proposal beside it), and the disagreement is filterable, faceted and queued."""

from __future__ import annotations

import msgspec
import pytest

from tagtrail.domain.records import Actor, event_id
from tagtrail.store import Store
from tests.api.conftest import Api
from tests.api.factories import MODEL, A, T, model_event

pytestmark = pytest.mark.opensearch

NEW_HEAD = "tuned:category:0a1b2c3d4e5f"
CONFIRM = """
mutation($input: TagDecisionInput!) { confirmTag(input: $input) { __typename } }"""
EXPLAIN = """
query($id: ID!) { explainTag(assetId: $id, attribute: "category") { ... on TagExplanation {
  current { value state source proposedValue proposedHeadVersion disagreement }
  decision { kind actorType actorId value eventId }
  reviewed { value probability headVersion kind }
  proposal { kind value probability headVersion tier eventId }
  history { kind toValue headVersion } } } }"""
SEARCH = """
query($ts: TagStateFilterInput) {
  searchAssets(filter: {tagState: $ts}, includeSuggested: true, first: 20,
               facets: [{tagState: DISAGREEMENT, tagAttribute: "category"}]) {
    ... on AssetSearch { edges { node { id } }
                         facets { values { value count selected } } }
    ... on InvalidInput { message field } } }"""
QUEUE = """
query($reason: ReviewReason!, $attrs: [String!]) {
  reviewQueue(reason: $reason, attributes: $attrs, first: 10) {
    ... on ReviewQueue { totalCount items { asset { id }
      pendingTags { attribute } disagreements { attribute value proposedValue } } } } }"""


async def newer_head_says(api: Api, asset: A, value: str, revision: int) -> None:
    """A re-tag by a newer head: one model event at the asset's next revision."""
    store = Store(api.settings, client=api.client)
    proposal = msgspec.structs.replace(
        model_event(api.taxonomy, asset, 0, T(attribute="category", value=value, probability=0.99)),
        event_id=event_id(asset.id, revision + 1, 0),
        seq=revision + 1,
        at="2026-03-01T00:00:00.000000Z",
        actor=Actor(type="model", id=MODEL, model_fingerprint=MODEL, head_version=NEW_HEAD),
    )
    await store.assets.apply(asset.id, revision, lambda _: [proposal])


async def test_disagreement_explained_filtered_and_queued(api: Api) -> None:
    disputed = A(id="d", tags=(T(attribute="category", value="peacoat", probability=0.9),))
    agreed = A(id="g", tags=(T(attribute="category", value="parka", probability=0.9),))
    untouched = A(id="u", tags=(T(attribute="category", value="blazer", probability=0.99),))
    await api.create([disputed, agreed, untouched])
    for asset in (disputed, agreed):
        inp = {"assetId": asset.id, "attribute": "category", "expectedRevision": 1}
        assert (await api.data(CONFIRM, {"input": inp}))["confirmTag"]["__typename"] == (
            "TagDecision"
        )
    await newer_head_says(api, disputed, "trench_coat", 2)
    await newer_head_says(api, agreed, "parka", 2)
    await api.refresh()

    explained = (await api.data(EXPLAIN, {"id": "d"}))["explainTag"]
    assert explained["current"] == {
        "value": "peacoat",
        "state": "confirmed",
        "source": "model_then_human",
        "proposedValue": "trench_coat",
        "proposedHeadVersion": NEW_HEAD,
        "disagreement": True,
    }
    # The chain is the human decision in force, not the newest (model) event.
    assert explained["decision"] == {
        "kind": "confirmed",
        "actorType": "human",
        "actorId": "dev",
        "value": "peacoat",
        "eventId": event_id("d", 2, 0),
    }
    assert explained["reviewed"] == {
        "value": "peacoat",
        "probability": 0.9,
        "headVersion": "zero-shot@1",
        "kind": "model_tagged",
    }
    assert explained["proposal"] == {
        "kind": "model_tagged",
        "value": "trench_coat",
        "probability": 0.99,
        "headVersion": NEW_HEAD,
        "tier": "auto_applied",
        "eventId": event_id("d", 3, 0),
    }
    assert [h["kind"] for h in explained["history"]] == [
        "model_tagged",
        "confirmed",
        "model_tagged",
    ]
    agreeing = (await api.data(EXPLAIN, {"id": "g"}))["explainTag"]
    assert agreeing["current"]["disagreement"] is False
    assert agreeing["proposal"]["value"] == "parka"
    plain = (await api.data(EXPLAIN, {"id": "u"}))["explainTag"]
    assert plain["decision"]["kind"] == "model_tagged"
    assert plain["reviewed"] is None
    assert plain["proposal"] is None

    def ids(result: dict[str, object]) -> list[str]:
        edges = result["edges"]
        assert isinstance(edges, list)
        return sorted(e["node"]["id"] for e in edges)

    yes = await api.data(SEARCH, {"ts": {"attribute": "category", "disagreement": True}})
    assert ids(yes["searchAssets"]) == ["d"]
    # The facet leaves its own dimension out: both counts, the selected one marked.
    assert yes["searchAssets"]["facets"][0]["values"] == [
        {"value": "false", "count": 2, "selected": False},
        {"value": "true", "count": 1, "selected": True},
    ]
    no = await api.data(SEARCH, {"ts": {"attribute": "category", "disagreement": False}})
    assert ids(no["searchAssets"]) == ["g", "u"]
    # Combined with other conditions on the same tag.
    confirmed = {"attribute": "category", "disagreement": True, "state": ["CONFIRMED"]}
    assert ids((await api.data(SEARCH, {"ts": confirmed}))["searchAssets"]) == ["d"]
    corrected = {"attribute": "category", "disagreement": True, "state": ["CORRECTED"]}
    assert ids((await api.data(SEARCH, {"ts": corrected}))["searchAssets"]) == []

    queue = await api.data(QUEUE, {"reason": "DISAGREEMENT", "attrs": ["category"]})
    assert queue["reviewQueue"]["totalCount"] == 1
    assert queue["reviewQueue"]["items"] == [
        {
            "asset": {"id": "d"},
            "pendingTags": [],
            "disagreements": [
                {"attribute": "category", "value": "peacoat", "proposedValue": "trench_coat"}
            ],
        }
    ]
    other = await api.data(QUEUE, {"reason": "DISAGREEMENT", "attrs": ["pattern"]})
    assert other["reviewQueue"]["totalCount"] == 0
    pending = await api.data(QUEUE, {"reason": "PENDING", "attrs": ["category"]})
    assert pending["reviewQueue"]["totalCount"] == 0  # none of them awaits a first review
