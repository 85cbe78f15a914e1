"""Review orders by uncertainty and by expected value (issue 19, part 4), on the real node.

UNCERTAINTY_FIRST serves the smallest margin between a head's top two probabilities first;
EXPECTED_VALUE_FIRST the asset whose review removes the most expected cost (1 − p for a
flagged tag, p·(1 − m)/m for a suggestion, summed over its pending tags; see
``domain.review_value``). Before, the queue knew only age and probability, and a tag's
margin was nowhere but in its event's top_k.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from tagtrail.domain.filters import AssetFilter
from tagtrail.domain.records import Actor, event_id
from tagtrail.domain.review_value import review_value
from tagtrail.learning.audit import audit_draw
from tagtrail.store import Store
from tagtrail.store.review_queue import ReviewMedium, review_body
from tagtrail.usecases.reproject import reproject
from tagtrail.usecases.runtime import Runtime
from tests.api.conftest import Api
from tests.api.factories import MODEL, A, T, model_event

pytestmark = pytest.mark.opensearch

NEW_HEAD = "tuned:category:0a1b2c3d4e5f"
QUEUE = """
query($order: ReviewOrder!, $reason: ReviewReason!, $attrs: [String!], $first: Int!,
      $after: String) {
  reviewQueue(order: $order, reason: $reason, attributes: $attrs, first: $first,
              after: $after) {
    ... on ReviewQueue { totalCount items { asset { id }
                         pendingTags { attribute margin probability }
                         disagreements { proposedMargin } }
                         pageInfo { hasNextPage endCursor } }
    ... on InvalidInput { message field }
  }
}"""
CONFIRM = """
mutation($input: TagDecisionInput!) { confirmTag(input: $input) { __typename } }"""


def _at(day: int) -> str:
    return f"2026-01-{day:02d}T00:00:00.000000Z"


# (probability, runner-up): tier by the default thresholds (0.95 / 0.75); material is a
# suggestion whatever its probability.
CATALOGUE = [
    A(
        id="u1",
        at=_at(1),
        tags=(T(attribute="category", value="jumper", probability=0.90, runner_up=0.08),),
    ),
    A(
        id="u2",
        at=_at(2),
        tags=(T(attribute="category", value="jumper", probability=0.80, runner_up=0.19),),
    ),
    A(
        id="u3",
        at=_at(3),
        tags=(T(attribute="category", value="jumper", probability=0.66, runner_up=0.33),),
    ),
    A(
        id="u4",
        at=_at(4),
        tags=(T(attribute="category", value="jumper", probability=0.40, runner_up=0.05),),
    ),
    A(
        id="u5",
        at=_at(5),
        tags=(
            T(attribute="category", value="jumper", probability=0.85, runner_up=0.14),
            T(attribute="material", value="wool", probability=0.90, runner_up=0.05),
        ),
    ),
]


async def _queue(
    api: Api, order: str, *, reason: str = "PENDING", first: int = 10, **kw: Any
) -> list[str]:
    ids: list[str] = []
    after = None
    for _page in range(20):  # bounded: this test's assets
        variables = {"order": order, "reason": reason, "first": first, "after": after, **kw}
        page = (await api.data(QUEUE, variables))["reviewQueue"]
        assert "items" in page, page
        ids += [i["asset"]["id"] for i in page["items"]]
        if not page["pageInfo"]["hasNextPage"]:
            return ids
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("the queue did not end")


async def test_uncertainty_and_expected_value_orders(api: Api) -> None:
    await api.create(CATALOGUE)
    await api.refresh()
    # Margins (category): u1 0.82, u2 0.61, u3 0.33, u4 0.35, u5 0.71 (material 0.85).
    items = await api.data(QUEUE, {"order": "OLDEST_FIRST", "reason": "PENDING", "first": 10})
    margins = {
        (i["asset"]["id"], t["attribute"]): t["margin"]
        for i in items["reviewQueue"]["items"]
        for t in i["pendingTags"]
    }
    assert margins == pytest.approx(
        {
            ("u1", "category"): 0.82,
            ("u2", "category"): 0.61,
            ("u3", "category"): 0.33,
            ("u4", "category"): 0.35,
            ("u5", "category"): 0.71,
            ("u5", "material"): 0.85,
        }
    )
    assert await _queue(api, "OLDEST_FIRST") == ["u1", "u2", "u3", "u4", "u5"]
    assert await _queue(api, "LOWEST_CONFIDENCE_FIRST") == ["u4", "u3", "u2", "u5", "u1"]
    # The smallest margin first: u3 (0.66 against 0.33) before u4 (0.40 against 0.05).
    assert await _queue(api, "UNCERTAINTY_FIRST") == ["u3", "u4", "u2", "u5", "u1"]
    assert await _queue(api, "UNCERTAINTY_FIRST", first=2) == ["u3", "u4", "u2", "u5", "u1"]
    # Expected value: u5 0.15 + 0.30 (its material suggestion: 0.9 · 1/3), u3 0.22 (0.66 ·
    # 1/3), u2 0.20 (1 − 0.80), u4 0.13, u1 0.10.
    assert await _queue(api, "EXPECTED_VALUE_FIRST") == ["u5", "u3", "u2", "u4", "u1"]
    assert await _queue(api, "EXPECTED_VALUE_FIRST", first=1) == ["u5", "u3", "u2", "u4", "u1"]
    # Over the category tags alone u5 is worth 0.15.
    by_category = await _queue(api, "EXPECTED_VALUE_FIRST", attrs=["category"])
    assert by_category == ["u3", "u2", "u5", "u4", "u1"]
    # A cursor of one order is not a cursor of another with other values.
    first = await api.data(QUEUE, {"order": "OLDEST_FIRST", "reason": "PENDING", "first": 1})
    cursor = first["reviewQueue"]["pageInfo"]["endCursor"]
    variables = {"order": "UNCERTAINTY_FIRST", "reason": "PENDING", "first": 1, "after": cursor}
    refused = (await api.data(QUEUE, variables))["reviewQueue"]
    assert refused["field"] == "after", refused


async def test_the_expected_value_script_is_the_reference_for_any_thresholds(api: Api) -> None:
    await api.create(CATALOGUE)
    await api.refresh()
    index = api.settings.index_name("assets")
    for medium in ({}, {"category": 0.5, "material": 0.9}, {"category": 0.0, "material": 1.0}):
        body = review_body(
            AssetFilter(),
            [],
            order="expected_value_first",
            size=10,
            medium=ReviewMedium(by_attribute=medium),
        )
        hits = (await api.client.search(index=index, body=body))["hits"]["hits"]
        expected = {
            h["_id"]: sum(
                review_value(t["state"], t.get("probability"), medium.get(t["attribute"], 0.75))
                for t in h["_source"]["tags"]
                if t["needs_review"]
            )
            for h in hits
        }
        assert {h["_id"]: h["sort"][0] for h in hits} == pytest.approx(expected, rel=1e-6, abs=1e-6)
        values = [h["sort"][0] for h in hits]
        assert values == sorted(values, reverse=True), medium


async def test_documents_without_margins_sort_last_until_reprojected(api: Api) -> None:
    old = A(
        id="u6",
        at=_at(6),
        tags=(T(attribute="category", value="jumper", probability=0.5, runner_up=0.48),),
    )
    await api.create([*CATALOGUE, old])
    # As an older version of tagtrail wrote it: no margin on its tags.
    source = await api.source("u6")
    for tag in source["tags"]:
        tag.pop("margin", None)
    await api.client.update(
        index=api.settings.index_name("assets"),
        id="u6",
        body={"doc": {"tags": source["tags"]}},
        refresh=True,
    )
    assert "margin" not in (await api.source("u6"))["tags"][0]
    assert await _queue(api, "UNCERTAINTY_FIRST") == ["u3", "u4", "u2", "u5", "u1", "u6"]
    # Paged one by one, through the missing value too.
    assert await _queue(api, "UNCERTAINTY_FIRST", first=1) == ["u3", "u4", "u2", "u5", "u1", "u6"]
    report = await reproject(Store(api.settings, client=api.client))
    assert report.changed == 1  # u6 alone: every other document already had its margins
    assert (await api.source("u6"))["tags"][0]["margin"] == pytest.approx(0.02)
    assert await _queue(api, "UNCERTAINTY_FIRST") == ["u6", "u3", "u4", "u2", "u5", "u1"]


async def _newer_head_says(api: Api, asset: A, value: str, p: float, runner_up: float) -> None:
    store = Store(api.settings, client=api.client)
    tag = T(attribute="category", value=value, probability=p, runner_up=runner_up)
    proposal = msgspec.structs.replace(
        model_event(api.taxonomy, asset, 0, tag),
        event_id=event_id(asset.id, 3, 0),
        seq=3,
        at="2026-03-01T00:00:00.000000Z",
        actor=Actor(type="model", id=MODEL, model_fingerprint=MODEL, head_version=NEW_HEAD),
    )
    await store.assets.apply(asset.id, 2, lambda _: [proposal])  # after the confirmation


async def test_disagreements_by_the_proposals_margin_and_its_probability(api: Api) -> None:
    decided = [
        A(id=f"d{i}", at=_at(i), tags=(T(attribute="category", value="peacoat", probability=0.97),))
        for i in (1, 2, 3)
    ]
    await api.create(decided)
    for asset in decided:
        inp = {"assetId": asset.id, "attribute": "category", "expectedRevision": 1}
        assert (await api.data(CONFIRM, {"input": inp}))["confirmTag"][
            "__typename"
        ] == "TagDecision"
    # (probability, runner-up) of the newer head's other value: margins 0.85, 0.25, 0.50.
    for asset, (p, runner_up) in zip(
        decided, ((0.9, 0.05), (0.6, 0.35), (0.55, 0.05)), strict=True
    ):
        await _newer_head_says(api, asset, "trench_coat", p, runner_up)
    await api.refresh()
    reason = {"reason": "DISAGREEMENT"}
    assert await _queue(api, "LOWEST_CONFIDENCE_FIRST", **reason) == ["d3", "d2", "d1"]
    assert await _queue(api, "UNCERTAINTY_FIRST", **reason) == ["d2", "d3", "d1"]
    # The surest proposal first: the likeliest wrong decision in force.
    assert await _queue(api, "EXPECTED_VALUE_FIRST", **reason) == ["d1", "d2", "d3"]
    page = await api.data(QUEUE, {"order": "UNCERTAINTY_FIRST", "first": 1, **reason})
    shown = page["reviewQueue"]["items"][0]["disagreements"]
    assert shown == [{"proposedMargin": pytest.approx(0.25)}]


async def test_audit_draws_do_not_depend_on_the_queue_or_the_model(api: Api) -> None:
    # Applied tags whose confidence and margin fall as the id rises: any queue order is
    # some permutation of them, and an audit draw must not follow any of them.
    assets = [
        A(
            id=f"au-{i:02d}",
            at=_at(1 + i % 28),
            tags=(
                T(
                    attribute="category",
                    value="jumper",
                    probability=0.99 - 0.006 * i,
                    runner_up=0.005 * (i % 7),
                ),
            ),
        )
        for i in range(40)
    ]
    await api.create(assets)
    await api.refresh()
    runtime = Runtime(api.settings, store=Store(api.settings, client=api.client))
    drawn = await runtime.audits.sample(
        round="r1", attribute="category", segment_key=None, target=0.6
    )
    rates = {c.stratum.tier: c.rate for c in drawn.strata}
    queued = await runtime.audits.queue(round="r1", attribute="category", first=100)
    sampled = {q.asset_id for q in queued}
    # Each tag's draw is a hash of (asset, attribute, round): nothing about the model, its
    # confidence, its margin or where any queue puts it.
    tiers = {a.id: "flagged" if a.tags[0].probability < 0.95 else "auto_applied" for a in assets}
    assert sampled == {
        a.id for a in assets if audit_draw(a.id, "category", "r1") < rates[tiers[a.id]]
    }
    assert 0 < len(sampled) < len(assets)
    # Walking the review queue in every order draws nothing and moves nothing.
    for order in (
        "OLDEST_FIRST",
        "LOWEST_CONFIDENCE_FIRST",
        "UNCERTAINTY_FIRST",
        "EXPECTED_VALUE_FIRST",
    ):
        await _queue(api, order)
    again = await runtime.audits.sample(
        round="r1", attribute="category", segment_key=None, target=0.6
    )
    assert (again.sampled, again.added) == (drawn.sampled, 0)
    assert [q.audit_id for q in await runtime.audits.queue(round="r1", first=100)] == [
        q.audit_id for q in queued
    ]
