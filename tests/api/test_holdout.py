"""The random hold-out that review-queue ordering never touches (issue 17, item 4), on the
real node.

The review queue serves the least sure (or oldest) tags first, so reviewers' decisions are
a sample the model's confidence chose. A share of assets, picked by a hash of the asset id,
forms a hold-out: its pending tags leave the PENDING queue and are served in their own
HOLDOUT queue in hash order; its decisions are never trained on, and the gate scores both
heads on them. Before, there was no HOLDOUT queue, every asset's pending tags were ordered
by confidence, and every decision was trained on.
"""

from __future__ import annotations

import zlib
from typing import Any

import msgspec
import numpy as np
import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.domain.holdout import holdout_rank, in_holdout
from tagtrail.errors import InvalidInput
from tagtrail.store import Store
from tagtrail.usecases import heads as uc
from tagtrail.usecases.runtime import Runtime
from tests.api.conftest import Api
from tests.api.factories import DIM, A, T

pytestmark = pytest.mark.opensearch

SHARE = 0.3
QUEUE = """
query($order: ReviewOrder!, $reason: ReviewReason!, $after: String) {
  reviewQueue(attributes: ["category"], order: $order, reason: $reason, first: 5, after: $after) {
    ... on ReviewQueue { totalCount items { asset { id } }
                         pageInfo { hasNextPage endCursor } }
    ... on InvalidInput { message field }
  }
}"""
# Some ids with non-ASCII letters and an emoji (two UTF-16 units): OpenSearch's hash
# (Painless) and Python's must agree on them too.
QUEUED = [f"q-{i:02d}" + ("-ñ😀" if i % 3 == 0 else "") for i in range(40)]
VALUES = ("jumper", "trousers", "dress", "sneakers", "tote_bag")
BRANDS = ("Kobo", "Aster", "Moss")
PER_BRAND = 80
HEADS = """{ heads(attribute: "category") { evaluation { wouldPromote evaluationStream
  streams { stream n share drawnBy }
  holdoutSegments { segment n accuracy } championHoldoutSegments { segment n } } } }"""
ORDERS = ("LOWEST_CONFIDENCE_FIRST", "OLDEST_FIRST", "UNCERTAINTY_FIRST", "EXPECTED_VALUE_FIRST")
CONFIRM = """mutation($input: TagDecisionInput!) { confirmTag(input: $input) { __typename } }"""
CORRECT = """
mutation($input: TagCorrectionInput!) { correctTag(input: $input) { __typename } }"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, holdout_share=SHARE)  # tests default to none


def _queued(i: int) -> A:
    # Confidence rises with i and age falls with it: both orders are known in advance.
    p = 0.50 + 0.01 * i
    at = f"2026-01-01T00:{59 - i:02d}:00.000000Z"
    return A(id=QUEUED[i], at=at, tags=(T(attribute="category", value="jumper", probability=p),))


async def _queue(api: Api, **variables: Any) -> tuple[list[str], int]:
    ids: list[str] = []
    after = None
    for _page in range(len(QUEUED)):  # bounded by this test's assets
        page = (await api.data(QUEUE, {**variables, "after": after}))["reviewQueue"]
        assert "items" in page, page
        ids += [i["asset"]["id"] for i in page["items"]]
        if not page["pageInfo"]["hasNextPage"]:
            return ids, page["totalCount"]
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("the queue did not end")


async def test_hold_out_assets_are_served_only_in_their_own_queue_in_hash_order(
    api: Api,
) -> None:
    await api.create([_queued(i) for i in range(len(QUEUED))])
    await api.refresh()
    held = [a for a in QUEUED if in_holdout(a, SHARE)]
    rest = [a for a in QUEUED if a not in held]  # in order of confidence
    assert len(held) == 14
    assert any("😀" in a for a in held)
    # The PENDING queue (any order) never serves a hold-out asset.
    assert await _queue(api, order="LOWEST_CONFIDENCE_FIRST", reason="PENDING") == (rest, 26)
    assert await _queue(api, order="OLDEST_FIRST", reason="PENDING") == (rest[::-1], 26)
    # Runner-up 1 − p: the margin 2p − 1 follows the probability.
    assert await _queue(api, order="UNCERTAINTY_FIRST", reason="PENDING") == (rest, 26)
    by_value, total = await _queue(api, order="EXPECTED_VALUE_FIRST", reason="PENDING")
    assert (sorted(by_value), total) == (sorted(rest), 26)
    # The HOLDOUT queue serves them all, in hash order whatever the order asked for.
    by_hash = sorted(held, key=holdout_rank)
    assert by_hash not in (held, held[::-1])  # neither by confidence nor by age
    for order in ORDERS:
        assert await _queue(api, order=order, reason="HOLDOUT") == (by_hash, 14)
    # A cursor of one queue is not a cursor of the other.
    first = await api.data(QUEUE, {"order": "OLDEST_FIRST", "reason": "PENDING"})
    cursor = first["reviewQueue"]["pageInfo"]["endCursor"]
    variables = {"order": "OLDEST_FIRST", "reason": "HOLDOUT", "after": cursor}
    refused = (await api.data(QUEUE, variables))["reviewQueue"]
    assert refused["field"] == "after", refused


# -- the gate ------------------------------------------------------------------------------


def _asset(brand: str, i: int, model: str, *, hidden: bool) -> tuple[A, str]:
    """An asset of ``brand`` and its true label. ``hidden``: Moss's hold-out photos look
    like another category (photos unlike any the queue served, such as another shot)."""
    asset_id = f"h-{brand}-{i}"
    truth = i % len(VALUES)
    rng = np.random.default_rng(zlib.crc32(asset_id.encode()))
    axis = truth
    if hidden and brand == "Moss" and in_holdout(asset_id, SHARE):
        axis = (truth + 2) % len(VALUES)
    v = np.zeros(DIM)
    v[10 + axis] = 1.0
    v[10 : 10 + len(VALUES)] += rng.normal(0.0, 0.3, len(VALUES))
    v += rng.normal(0.0, 0.4 / np.sqrt(DIM), DIM)
    proposed = VALUES[truth] if i % 2 == 0 else VALUES[(truth + 1) % len(VALUES)]
    a = A(
        id=asset_id,
        brand=brand,
        vector=tuple((v / np.linalg.norm(v)).tolist()),
        model=model,
        tags=(T(attribute="category", value=proposed, probability=0.6),),
    )
    return a, VALUES[truth]


async def _train(
    api: Api, settings: Settings, indexed: AsyncOpenSearch, *, hidden: bool
) -> tuple[Runtime, uc.TrainResult]:
    runtime = Runtime(settings, store=Store(settings, client=indexed))
    model = (await runtime.tagging.tagger()).model_fingerprint
    await _decide(
        api, [_asset(b, i, model, hidden=hidden) for b in BRANDS for i in range(PER_BRAND)]
    )
    return runtime, await runtime.heads.train("category", actor="ml")


async def _decide(api: Api, made: list[tuple[A, str]]) -> None:
    await api.create([a for a, _label in made])
    for asset, label in made:  # every asset decided right, hold-out or not
        base = {"assetId": asset.id, "attribute": "category", "expectedRevision": 1}
        if asset.tags[0].value == label:
            answer = await api.data(CONFIRM, {"input": base})
        else:
            answer = await api.data(CORRECT, {"input": {**base, "value": label}})
        assert next(iter(answer.values()))["__typename"] == "TagDecision", answer


def _held() -> int:
    return sum(in_holdout(f"h-{b}-{i}", SHARE) for b in BRANDS for i in range(PER_BRAND))


async def test_hold_out_decisions_are_scored_never_trained_on_and_name_a_hidden_segment(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    runtime, trained = await _train(api, settings, indexed, hidden=True)
    evaluation = trained.evaluation
    assert evaluation is not None
    assert evaluation.holdout_candidate is not None
    held = _held()
    assert held == 75
    # Trained (and scored out of sample) on the other decisions only; scored on the hold-out.
    assert evaluation.candidate.overall.n == len(BRANDS) * PER_BRAND - held
    assert evaluation.holdout_candidate.overall.n == held
    assert evaluation.holdout_champion is not None
    assert evaluation.holdout_champion.overall.n == held
    assert f"{held} hold-out decisions scored (kept out of training)" in trained.gate.reasons
    # Moss's reviewed decisions are learnt well; its hold-out shows what the queue hid.
    assert not trained.gate.promote, trained.gate.reasons
    named = [r for r in trained.gate.reasons if "worse on the random hold-out" in r]
    assert any(r.startswith("brand=Moss: worse on the random hold-out: accuracy ") for r in named)
    assert not any(r.startswith(("brand=Kobo", "brand=Aster")) for r in named), named
    shown = (await api.data(HEADS))["heads"][0]["evaluation"]
    assert not shown["wouldPromote"]
    # The gate says which streams it scored on, and how each was drawn.
    queued = len(BRANDS) * PER_BRAND - held
    assert [(s["stream"], s["n"], s["share"]) for s in shown["streams"]] == [
        ("review_queue", queued, None),
        ("random_holdout", held, SHARE),
    ]
    assert shown["evaluationStream"] == trained.gate.evaluation_stream
    assert trained.gate.evaluation_stream == (
        f"review-queue decisions (scored out of sample: {evaluation.candidate.method}) "
        f"n={queued} + random hold-out (30% of assets, hash of the asset id) n={held}"
    )
    held_out = {s["segment"]: s["n"] for s in shown["holdoutSegments"]}
    assert held_out["overall"] == held == sum(held_out[f"brand={b}"] for b in BRANDS)
    assert {s["segment"] for s in shown["championHoldoutSegments"]} == set(held_out)
    refused = await runtime.heads.promote("category", trained.version, actor="ana")
    assert not refused.promoted
    assert any(r.startswith("brand=Moss: worse on the random hold-out") for r in refused.reasons)


async def test_a_head_as_good_on_the_hold_out_is_promoted(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    runtime, trained = await _train(api, settings, indexed, hidden=False)
    assert trained.gate.promote, trained.gate.reasons
    assert not any("hold-out:" in r or "worse on the random" in r for r in trained.gate.reasons)
    promoted = await runtime.heads.promote("category", trained.version, actor="ana")
    assert promoted.promoted, promoted.reasons


async def test_decisions_of_the_hold_out_alone_are_not_trained_on(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    runtime = Runtime(settings, store=Store(settings, client=indexed))
    model = (await runtime.tagging.tagger()).model_fingerprint
    made = [_asset("Kobo", i, model, hidden=False) for i in range(PER_BRAND)]
    await _decide(api, [(a, label) for a, label in made if in_holdout(a.id, SHARE)])
    # Was: with nothing else to learn from, the head was trained on them.
    with pytest.raises(InvalidInput, match="every decision on 'category' is in the random"):
        await runtime.heads.train("category", actor="ml")
