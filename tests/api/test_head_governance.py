"""The learning loop's own governance on the real node.

A head trained for another taxonomy version or encoder is refused at promotion, naming what
differs (it would be ignored by every tagger and the catalogue would silently stay zero-shot);
a tagger built while the store could not be read is not kept for the life of the process.
"""

from __future__ import annotations

import numpy as np
import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.learning.evaluate import ScoredExample, evaluation_report
from tagtrail.learning.head import TrainingSummary, TunedHead
from tagtrail.store import Store
from tagtrail.tagging.heads import ZeroShotHead
from tagtrail.tagging.pipeline import Tagger
from tagtrail.usecases import heads as uc
from tagtrail.usecases.health import readiness
from tagtrail.usecases.services import Services
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


def services_of(settings: Settings, client: AsyncOpenSearch) -> Services:
    return Services(settings, store=Store(settings, client=client))


def _scored(i: int, right: bool) -> ScoredExample:
    label = "a" if i % 2 else "b"
    return ScoredExample(
        example_id=f"e{i}", asset_id=f"x{i}", label=label,
        predicted=label if right else "c", probability=0.9,
        segments={"brand": "Northwind" if i % 2 else "Acme"},
    )  # fmt: skip


async def store_head(
    services: Services, tagger: Tagger, *, taxonomy_version: str, encoder: str, seed: int
) -> str:
    """A stored shot_type head the gate would promote (better than zero-shot everywhere)."""
    base = tagger.zero_shot_heads["shot_type"]
    assert isinstance(base, ZeroShotHead)
    rng = np.random.default_rng(seed)
    weights = base.label_matrix + rng.normal(0, 0.01, base.label_matrix.shape)
    head = TunedHead(
        attribute="shot_type", labels=base.labels, weights=weights,
        bias=np.zeros(len(base.labels), dtype=np.float32), scale=100.0,
        training=TrainingSummary(
            training_fingerprint=f"fp{seed}", taxonomy_version=taxonomy_version,
            base_version=base.version, n_examples=80, n_positive=80, n_negative=0,
        ),
    )  # fmt: skip
    evaluation = uc.StoredEvaluation(
        candidate=evaluation_report(
            [_scored(i, True) for i in range(80)],
            attribute="shot_type", head_version=head.version,
        ),
        champion=evaluation_report(
            [_scored(i, i % 3 != 0) for i in range(80)],
            attribute="shot_type", head_version=base.version,
        ),
    )  # fmt: skip
    assert await uc.store_head(services, head, evaluation, actor="ml", encoder=encoder)
    return head.version


async def test_promote_refuses_a_head_of_another_taxonomy_or_encoder(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    services = services_of(settings, indexed)
    tagger = await services.tagger()
    in_force = tagger.taxonomy.attribute_version("shot_type")
    encoder = tagger.model_fingerprint
    stale = await store_head(
        services, tagger, taxonomy_version="shot_type@0000stale", encoder=encoder, seed=1
    )
    foreign = await store_head(
        services, tagger, taxonomy_version=in_force, encoder="clip-other@99", seed=2
    )
    good = await store_head(services, tagger, taxonomy_version=in_force, encoder=encoder, seed=3)

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
    assert (await services.store.heads.alias(uc.CHAMPION, "shot_type")).version is None
    assert await services.store.heads.promotions("shot_type") == []

    promoted = (await api.data(PROMOTE, {"version": good, "force": False}))["promoteHead"]
    assert promoted == {"__typename": "HeadPromoted", "forced": False,
                        "head": {"version": good, "champion": True}}  # fmt: skip
    # What was promoted is what every tagger uses.
    assert (await services_of(settings, indexed).tagger()).heads["shot_type"].version == good


async def test_a_tagger_built_during_an_outage_gets_its_heads_when_the_store_returns(
    settings: Settings, indexed: AsyncOpenSearch, caplog: pytest.LogCaptureFixture
) -> None:
    direct = services_of(settings, indexed)
    tagger = await direct.tagger()
    version = await store_head(
        direct, tagger, taxonomy_version=tagger.taxonomy.attribute_version("shot_type"),
        encoder=tagger.model_fingerprint, seed=4,
    )  # fmt: skip
    assert (await uc.promote_head(direct, "shot_type", version, actor="ana")).promoted
    zero_shot = tagger.zero_shot_heads["shot_type"].version

    # A server process whose store goes away while it builds its tagger (start-up).
    proxy = TcpProxy(settings.effective_opensearch_url)
    await proxy.start()
    proxied = Services(settings.with_changes(opensearch_url=proxy.url, opensearch_timeout_s=2.0))
    try:
        await proxy.stop()
        await proxied.warm_up()
        during = await proxied.tagger()
        assert during.heads["shot_type"].version == zero_shot
        assert await proxied.tagger() is during  # no rebuild while the store is away
        assert proxied.pipeline_state.startswith("degraded: stored heads unreadable")
        assert "until the store answers" in caplog.text

        await proxy.start()
        ready = await readiness(proxied)
        assert ready.pipeline is not None
        assert ready.pipeline.startswith("degraded: stored heads unreadable"), ready
        after = await proxied.tagger()  # the next use after the store answers
        assert after.heads["shot_type"].version == version
        assert (await readiness(proxied)).pipeline == "ready"
        assert await proxied.tagger() is after
    finally:
        await proxied.close()
        await proxy.stop()
