"""The learning loop's own governance on the real node.

A head trained for another taxonomy version or encoder is refused at promotion, naming what
differs (it would be ignored by every tagger and the catalogue would silently stay zero-shot);
a tagger built while the store could not be read is not kept for the life of the process;
a promoted colour calibration reaches the stored colour tags through retag (and its preview).
"""

from __future__ import annotations

import io
from typing import Any

import msgspec
import numpy as np
import pytest
from opensearchpy import AsyncOpenSearch
from PIL import Image

from tagtrail.config import Settings
from tagtrail.domain.calibration import Calibration
from tagtrail.domain.records import utc_now
from tagtrail.errors import StoreUnavailable
from tagtrail.learning.colour import CalibrationEvaluation, TierOutcome
from tagtrail.learning.evaluate import ScoredExample, evaluation_report
from tagtrail.learning.head import TrainingSummary, TunedHead
from tagtrail.store import HeadDocument, Store
from tagtrail.tagging.heads import ZeroShotHead
from tagtrail.tagging.pipeline import Tagger
from tagtrail.usecases import heads as uc
from tagtrail.usecases.colour_calibration import calibration_version
from tagtrail.usecases.ingest import IngestItem
from tagtrail.usecases.runtime import Runtime
from tests.api.conftest import Api
from tests.support.proxy import TcpProxy

pytestmark = pytest.mark.opensearch

PROMOTE = """
mutation($version: String!, $force: Boolean!, $note: String) {
  promoteHead(attribute: "shot_type", version: $version, force: $force, note: $note) {
    __typename
    ... on HeadPromoted { forced head { version champion } }
    ... on PromotionRefused { reasons }
    ... on InvalidInput { message field } } }"""
PROMOTE_COLOUR = PROMOTE.replace('"shot_type"', '"colour"')
PREVIEW = """
query { retagPreview(attribute: "colour", sample: 3) { __typename
  ... on RetagPreview { wouldRetag rows { attribute segment changed tierChanges newlyApplied
    sample { assetId oldTier newTier humanDecided } } } } }"""


def runtime_of(settings: Settings, client: AsyncOpenSearch) -> Runtime:
    return Runtime(settings, store=Store(settings, client=client))


def _scored(i: int, right: bool) -> ScoredExample:
    label = "a" if i % 2 else "b"
    return ScoredExample(
        example_id=f"e{i}",
        asset_id=f"x{i}",
        label=label,
        predicted=label if right else "c",
        probability=0.9,
        segments={"brand": "Northwind" if i % 2 else "Acme"},
    )


async def store_head(
    runtime: Runtime, tagger: Tagger, *, taxonomy_version: str, encoder: str, seed: int
) -> str:
    """A stored shot_type head the gate would promote (better than zero-shot everywhere)."""
    base = tagger.zero_shot_heads["shot_type"]
    assert isinstance(base, ZeroShotHead)
    rng = np.random.default_rng(seed)
    weights = base.label_matrix + rng.normal(0, 0.01, base.label_matrix.shape)
    head = TunedHead(
        attribute="shot_type",
        labels=base.labels,
        weights=weights,
        bias=np.zeros(len(base.labels), dtype=np.float32),
        scale=100.0,
        training=TrainingSummary(
            training_fingerprint=f"fp{seed}",
            taxonomy_version=taxonomy_version,
            base_version=base.version,
            n_examples=80,
            n_positive=80,
            n_negative=0,
        ),
    )
    evaluation = uc.StoredEvaluation(
        candidate=evaluation_report(
            [_scored(i, True) for i in range(80)],
            attribute="shot_type",
            head_version=head.version,
        ),
        champion=evaluation_report(
            [_scored(i, i % 3 != 0) for i in range(80)],
            attribute="shot_type",
            head_version=base.version,
        ),
    )
    assert await runtime.heads.store_head(head, evaluation, actor="ml", encoder=encoder)
    return head.version


async def test_promote_refuses_a_head_of_another_taxonomy_or_encoder(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    runtime = runtime_of(settings, indexed)
    tagger = await runtime.tagging.tagger()
    in_force = tagger.taxonomy.attribute_version("shot_type")
    encoder = tagger.model_fingerprint
    stale = await store_head(
        runtime, tagger, taxonomy_version="shot_type@0000stale", encoder=encoder, seed=1
    )
    foreign = await store_head(
        runtime, tagger, taxonomy_version=in_force, encoder="clip-other@99", seed=2
    )
    good = await store_head(runtime, tagger, taxonomy_version=in_force, encoder=encoder, seed=3)

    for version, differs in (
        (stale, f"taxonomy version shot_type@0000stale of shot_type, but {in_force} is in force"),
        (foreign, f"encoder clip-other@99, but the encoder in force is {encoder}"),
    ):
        for force, note in ((False, None), (True, "ship it")):
            variables = {"version": version, "force": force, "note": note}
            refused = (await api.data(PROMOTE, variables))["promoteHead"]
            assert refused["__typename"] == "InvalidInput", refused
            assert refused["field"] == "version"
            assert differs in refused["message"]
            assert "train it again" in refused["message"]
    assert (await runtime.store.heads.alias(uc.CHAMPION, "shot_type")).version is None
    # A colour calibration fitted under another taxonomy version of colour: the same.
    calibration = await _store_calibration(runtime, tagger, "colour@0000stale")
    variables = {"version": calibration, "force": False}
    refused = (await api.data(PROMOTE_COLOUR, variables))["promoteHead"]
    assert refused["__typename"] == "InvalidInput", refused
    assert "taxonomy version colour@0000stale of colour" in refused["message"]
    assert await runtime.store.heads.promotions("shot_type") == []

    promoted = (await api.data(PROMOTE, {"version": good, "force": False}))["promoteHead"]
    assert promoted == {
        "__typename": "HeadPromoted",
        "forced": False,
        "head": {"version": good, "champion": True},
    }
    # What was promoted is what every tagger uses.
    assert (await runtime_of(settings, indexed).tagging.tagger()).heads["shot_type"].version == good


async def test_a_tagger_built_during_an_outage_gets_its_heads_when_the_store_returns(
    settings: Settings, indexed: AsyncOpenSearch, caplog: pytest.LogCaptureFixture
) -> None:
    direct = runtime_of(settings, indexed)
    tagger = await direct.tagging.tagger()
    version = await store_head(
        direct,
        tagger,
        taxonomy_version=tagger.taxonomy.attribute_version("shot_type"),
        encoder=tagger.model_fingerprint,
        seed=4,
    )
    assert (await direct.heads.promote("shot_type", version, actor="ana")).promoted
    zero_shot = tagger.zero_shot_heads["shot_type"].version

    # A server process whose store goes away while it builds its tagger (start-up).
    proxy = TcpProxy(settings.effective_opensearch_url)
    await proxy.start()
    proxied = Runtime(settings.with_changes(opensearch_url=proxy.url, opensearch_timeout_s=2.0))
    try:
        await proxy.stop()
        # Without the taxonomy in force there is no tagger at all (never a folder's guess).
        with pytest.raises(StoreUnavailable):
            await proxied.tagging.tagger()
        await proxy.start()
        await proxied.taxonomy.current()  # read while the store answered for a moment
        await proxy.stop()
        await proxied.warm_up()
        during = await proxied.tagging.tagger()
        assert during.heads["shot_type"].version == zero_shot
        assert await proxied.tagging.tagger() is during  # no rebuild while the store is away
        assert proxied.tagging.state.startswith("degraded: stored heads unreadable")
        assert "until the store answers" in caplog.text

        await proxy.start()
        ready = await proxied.health.readiness()
        assert ready.pipeline is not None
        assert ready.pipeline.startswith("degraded: stored heads unreadable"), ready
        after = await proxied.tagging.tagger()  # the next use after the store answers
        assert after.heads["shot_type"].version == version
        assert (await proxied.health.readiness()).pipeline == "ready"
        assert await proxied.tagging.tagger() is after
    finally:
        await proxied.close()
        await proxy.stop()


def _png(colour: tuple[int, int, int], level: int) -> bytes:
    """A product on a light background; ``level`` changes the bytes, never the pixels."""
    image = Image.new("RGB", (128, 128), (245, 245, 245))
    image.paste(Image.new("RGB", (70, 90), colour), (29, 19))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=level)
    return out.getvalue()


async def _store_calibration(
    runtime: Runtime, tagger: Tagger, taxonomy_version: str | None = None
) -> str:
    """A generous colour calibration, stored as trained ones are, that the gate promotes."""
    fitted = Calibration(kind="platt", a=10.0, b=5.0, n=120, source="reviewer decisions: 120")
    in_force = tagger.colour_calibration.version
    evaluation = CalibrationEvaluation(
        method="out of fold, 5 folds by asset",
        n=120,
        n_right=100,
        fingerprint="f",
        current=TierOutcome(version=in_force, ece=0.2, auto_share=0.1, auto_precision=0.9),
        candidate=TierOutcome(
            version=fitted.version, ece=0.05, auto_share=0.9, auto_precision=0.97
        ),
    )
    taxonomy_version = taxonomy_version or tagger.taxonomy.attribute_version("colour")
    version = calibration_version(fitted, "f", taxonomy_version)
    assert await runtime.store.heads.save(
        HeadDocument(
            attribute="colour",
            version=version,
            kind="calibration",
            created_at=utc_now(),
            created_by="ml",
            taxonomy_version=taxonomy_version,
            encoder=tagger.colour.version,
            training_fingerprint="f",
            n_examples=120,
            record=msgspec.to_builtins(fitted),
            evaluation=msgspec.to_builtins(evaluation),
        )
    )
    return version


def _colour(doc: dict[str, Any]) -> dict[str, Any]:
    return next(t for t in doc["tags"] if t["attribute"] == "colour" and not t.get("slot"))


async def test_retag_re_tiers_stored_colours_with_a_promoted_calibration(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    runtime = runtime_of(settings, indexed)
    tagger = await runtime.tagging.tagger()
    # Both within 0.3 ΔE of the boundary with a neighbour (plum, royal blue): low confidence.
    purple, cobalt = (97, 43, 107), (33, 83, 195)
    stored, decided = await runtime.ingest.batch(
        [
            IngestItem(name="purple.png", data=_png(purple, 6)),
            IngestItem(name="cobalt.png", data=_png(cobalt, 6)),
        ],
    )
    assert stored.asset_id
    assert decided.asset_id
    before = _colour((await runtime.store.assets.get(stored.asset_id)).source)
    assert before["tier"] == "suggested", before  # the shipped calibration: ~0.56
    confirm = (
        "mutation($id: ID!, $rev: Int!) { confirmTag(input: {assetId: $id, "
        'attribute: "colour", expectedRevision: $rev}) { __typename } }'
    )
    confirmed = await api.data(confirm, {"id": decided.asset_id, "rev": 1})
    assert confirmed["confirmTag"]["__typename"] == "TagDecision"
    human = _colour((await runtime.store.assets.get(decided.asset_id)).source)

    version = await _store_calibration(runtime, tagger)
    promoted = await api.data(PROMOTE_COLOUR, {"version": version, "force": False})
    assert promoted["promoteHead"]["__typename"] == "HeadPromoted", promoted
    fresh = runtime_of(settings, indexed)  # a process that loads the champion calibration
    (uploaded,) = await fresh.ingest.batch([IngestItem(name="again.png", data=_png(purple, 9))])
    assert uploaded.status == "created"
    assert uploaded.asset_id
    after_upload = _colour((await fresh.store.assets.get(uploaded.asset_id)).source)
    assert after_upload["tier"] == "auto_applied"

    preview = (await api.data(PREVIEW))["retagPreview"]
    rows = {(r["attribute"], r["segment"]): r for r in preview["rows"]}
    assert ("colour", "overall") in rows, preview  # the stored colour would be re-tiered
    row = rows[("colour", "overall")]
    assert (row["changed"], row["tierChanges"], row["newlyApplied"]) == (1, 1, 1), row
    assert row["sample"] == [
        {
            "assetId": stored.asset_id,
            "oldTier": "suggested",
            "newTier": "auto_applied",
            "humanDecided": False,
        }
    ]
    report = await fresh.retag.run()
    assert report.retagged == preview["wouldRetag"] == 1
    after = _colour((await fresh.store.assets.get(stored.asset_id)).source)
    assert (after["tier"], after["probability"], after["value"]) == (
        after_upload["tier"],
        after_upload["probability"],
        before["value"],
    )
    assert after["tier"] != before["tier"]
    # The human decision stands, untouched; a second run finds nothing to change.
    assert _colour((await fresh.store.assets.get(decided.asset_id)).source) == human
    assert (await fresh.retag.run()).retagged == 0
    assert await fresh.store.assets.reproject(stored.asset_id) is False
