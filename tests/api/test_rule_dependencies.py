"""A reviewer's decision on a rule's dependency re-evaluates the dependent tag at once, in the
same revision, with the human value; the trail says what the rule used and from whom."""

from __future__ import annotations

import msgspec
import pytest

from tagtrail.domain.records import event_id
from tagtrail.store import Store
from tests.api.conftest import Api
from tests.api.factories import A, T, document, model_event

pytestmark = pytest.mark.opensearch

ASSET = A(
    id="cardi",
    tags=(
        T(attribute="category", value="cardigan", probability=0.97),
        T(attribute="season_window", value="spring_summer", probability=0.3),
    ),
)
DECIDE = """
mutation($input: TagDecisionInput!) { confirmTag(input: $input) {
  ... on TagDecision { revision asset { tag(attribute: "category") { value ruleId tier state } } }
} }"""
CORRECT = """
mutation($input: TagCorrectionInput!) { correctTag(input: $input) {
  ... on TagDecision { revision asset { tag(attribute: "category") { value ruleId state } } }
} }"""
EXPLAIN = """
{ explainTag(assetId: "cardi", attribute: "category") { ... on TagExplanation {
  decision { kind value ruleId tierReason
             dependsOn { attribute value source state probability eventId used whyNot } }
} } }"""


async def create_longline_cardigan(api: Api) -> None:
    """As ingest stores it: the model saw a longline cardigan; the season window was only a
    suggestion, so the default rule made it a cardigan."""
    tx = api.taxonomy
    category, window = (model_event(tx, ASSET, n, t) for n, t in enumerate(ASSET.tags))
    category = msgspec.structs.replace(
        category, raw_label="longline cardigan", rule_id="longline_cardigan_default"
    )
    window = msgspec.structs.replace(window, raw_label="summer clothing")
    events = [category, window]
    store = Store(api.settings, client=api.client)
    await store.events.append_revision(events)
    await api.client.index(
        index=store.assets.index, id=ASSET.id, body=document(tx, ASSET, events), refresh=True
    )


async def test_confirming_the_season_window_remaps_the_category(api: Api) -> None:
    await create_longline_cardigan(api)
    inp = {"assetId": "cardi", "attribute": "season_window", "expectedRevision": 1}
    confirmed = (await api.data(DECIDE, {"input": inp}))["confirmTag"]
    assert confirmed["revision"] == 2
    assert confirmed["asset"]["tag"] == {
        "value": "coatigan",
        "ruleId": "longline_cardigan_ss_window",
        "tier": "auto_applied",
        "state": "auto_applied",
    }
    events = await api.events("cardi")
    assert [(e["seq"], e["kind"], e["attribute"]) for e in events[2:]] == [
        (2, "confirmed", "season_window"),
        (2, "model_tagged", "category"),
    ]
    remapped = events[3]
    assert remapped["event_id"] == event_id("cardi", 2, 1)
    assert remapped["raw_label"] == "longline cardigan"  # the same prediction, re-mapped
    assert remapped["probability"] == 0.97
    assert remapped["evidence"]["remapped_from"] == event_id("cardi", 1, 0)
    assert remapped["evidence"]["rule_dependencies"]["depends_on"] == [
        {
            "attribute": "season_window",
            "value": "spring_summer",
            "source": "human",
            "state": "confirmed",
            "probability": 0.3,
            "event_id": event_id("cardi", 2, 0),
        }
    ]
    explained = (await api.data(EXPLAIN))["explainTag"]["decision"]
    assert explained["value"] == "coatigan"
    assert explained["dependsOn"] == [
        {
            "attribute": "season_window",
            "value": "spring_summer",
            "source": "human",
            "state": "confirmed",
            "probability": 0.3,
            "eventId": event_id("cardi", 2, 0),
            "used": True,
            "whyNot": None,
        }
    ]
    assert explained["tierReason"].startswith(
        "re-mapped after dev confirmed season_window (spring_summer): 0.97 ≥ high 0.95"
    )

    # The reviewer changes their mind: autumn/winter. The category follows again.
    inp = {**inp, "expectedRevision": 2, "value": "autumn_winter"}
    corrected = (await api.data(CORRECT, {"input": inp}))["correctTag"]
    assert corrected["asset"]["tag"] == {
        "value": "cardigan",
        "ruleId": "longline_cardigan_default",
        "state": "auto_applied",
    }
    store = Store(api.settings, client=api.client)
    assert await store.assets.reproject("cardi") is False  # the fold of the events, exactly


async def test_a_human_decided_dependent_is_left_alone(api: Api) -> None:
    await create_longline_cardigan(api)
    inp = {"assetId": "cardi", "attribute": "category", "expectedRevision": 1}
    await api.data(DECIDE, {"input": inp})  # the reviewer confirmed "cardigan"
    inp = {"assetId": "cardi", "attribute": "season_window", "expectedRevision": 2}
    confirmed = (await api.data(DECIDE, {"input": inp}))["confirmTag"]
    assert confirmed["asset"]["tag"]["value"] == "cardigan"
    assert confirmed["asset"]["tag"]["state"] == "confirmed"
    assert [e["kind"] for e in await api.events("cardi")][-1] == "confirmed"
