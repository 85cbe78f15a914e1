"""The write protocol never wedges: a write cut short between its events and its document is
rolled forward by the next reader or writer, and no recorded decision is lost.

The failure is injected with the store's own test hook (``AssetRepository.fault_hook``),
which raises between "events written" and "document written" — a crash at the worst moment.
Everything else is the real node.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.domain.decisions import Decision
from tagtrail.errors import Conflict
from tagtrail.store import Store
from tagtrail.usecases.runtime import Runtime
from tests.api.conftest import Api
from tests.api.factories import A, T
from tests.support.faults import Crash, crash_once

pytestmark = pytest.mark.opensearch


CONFIRM = """
mutation($input: TagDecisionInput!) {
  confirmTag(input: $input) {
    __typename ... on TagDecision { revision } ... on Conflict { currentRevision }
  }
}"""


async def test_a_decision_cut_short_heals_on_the_next_read(api: Api) -> None:
    await api.create([A(id="h1", tags=(T(attribute="category", value="jumper", probability=0.8),))])
    runtime = Runtime(api.settings, store=Store(api.settings, client=api.client))
    runtime.store.assets.fault_hook = crash_once("events_written")
    with pytest.raises(Crash):
        await runtime.review.decide(
            "h1", 1, Decision(kind="confirmed", attribute="category"), "rita"
        )
    # The claim of revision 2 exists; the document still says 1 (raw read, no healing).
    raw = await api.source("h1")
    assert raw["revision"] == 1
    assert [e["seq"] for e in await api.events("h1")] == [1, 2]

    # The next reader (GraphQL asset query) sees revision 2 with the confirmation applied.
    data = await api.data(
        '{ asset(id: "h1") { ... on Asset { revision '
        'tag(attribute: "category") { state decidedBy } } } }'
    )
    assert data["asset"] == {"revision": 2, "tag": {"state": "confirmed", "decidedBy": "rita"}}
    healed = await api.source("h1")
    assert healed["revision"] == 2
    assert "category" not in healed["pending"]
    # ... and the document is exactly the fold of the stored history.
    assert await runtime.store.assets.reproject("h1") is False


async def test_a_writer_rolls_forward_and_the_next_revision_works(api: Api) -> None:
    await api.create([A(id="h2", tags=(T(attribute="category", value="jumper", probability=0.8),))])
    runtime = Runtime(api.settings, store=Store(api.settings, client=api.client))
    runtime.store.assets.fault_hook = crash_once("events_written")
    with pytest.raises(Crash):
        await runtime.review.decide(
            "h2", 1, Decision(kind="rejected", attribute="category"), "rita"
        )
    # A second reviewer still on revision 1 is told the truth: the asset is at 2 ...
    stale = await api.data(
        CONFIRM, {"input": {"assetId": "h2", "attribute": "category", "expectedRevision": 1}}
    )
    assert stale["confirmTag"] == {"__typename": "Conflict", "currentRevision": 2}
    # ... and the revision it is told works (it does not conflict forever).
    corrected = await api.data(
        """mutation($input: TagCorrectionInput!) { correctTag(input: $input) {
             __typename ... on TagDecision {
               revision asset { tag(attribute: "category") { value state } } } } }""",
        {
            "input": {
                "assetId": "h2",
                "attribute": "category",
                "expectedRevision": 2,
                "value": "cardigan",
            }
        },
    )
    assert corrected["correctTag"] == {
        "__typename": "TagDecision",
        "revision": 3,
        "asset": {"tag": {"value": "cardigan", "state": "corrected"}},
    }
    kinds = [e["kind"] for e in await api.events("h2")]
    assert kinds == ["model_tagged", "rejected", "corrected"]  # no decision lost


async def test_concurrent_writers_one_claims_the_revision(api: Api) -> None:
    await api.create([A(id="h3", tags=(T(attribute="category", value="jumper", probability=0.8),))])
    runtime = Runtime(api.settings, store=Store(api.settings, client=api.client))
    results = await asyncio.gather(
        *(
            runtime.review.decide(
                "h3", 1, Decision(kind="confirmed", attribute="category"), f"r{i}"
            )
            for i in range(5)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(
        isinstance(r, Conflict) and r.current_revision == 2 for r in results if r not in winners
    )
    assert (await api.source("h3"))["revision"] == 2


async def test_ingest_cut_short_heals_and_reupload_answers_exists(
    settings: Settings, indexed: AsyncOpenSearch, tmp_path: Any
) -> None:
    from tagtrail.usecases.admin import write_demo_catalogue
    from tagtrail.usecases.ingest import IngestItem

    runtime = Runtime(settings, store=Store(settings, client=indexed))
    write_demo_catalogue(settings, 2, tmp_path, seed=3)
    files = sorted(p for p in tmp_path.iterdir() if p.suffix != ".csv")
    items = [IngestItem(name=p.name, data=p.read_bytes()) for p in files]
    runtime.store.assets.fault_hook = crash_once("events_written")
    with pytest.raises(Crash):
        await runtime.ingest.batch(items)
    # Documents at revision 0 with their revision-1 events claimed: the re-run heals them
    # and answers "exists" with the tagged document, adding no events.
    events_before = await runtime.store.events.count()
    again = await runtime.ingest.batch(items)
    assert [o.status for o in again] == ["exists", "exists"]
    assert await runtime.store.events.count() == events_before
    for outcome in again:
        assert outcome.asset_id
        stored = await runtime.store.assets.get(outcome.asset_id)
        assert stored.revision == 1
        assert stored.source["tags"]
        assert await runtime.store.assets.reproject(outcome.asset_id) is False


async def test_reproject_is_safe_while_reviewers_work(api: Api) -> None:

    ids = [f"p{i}" for i in range(12)]
    await api.create(
        [A(id=i, tags=(T(attribute="category", value="jumper", probability=0.8),)) for i in ids]
    )
    runtime = Runtime(api.settings, store=Store(api.settings, client=api.client))

    async def review() -> None:
        for i in ids:
            await runtime.review.decide(
                i, 1, Decision(kind="confirmed", attribute="category"), "rita"
            )

    await asyncio.gather(runtime.admin.reproject(), review(), runtime.admin.reproject())
    for i in ids:
        source = await api.source(i)
        assert source["revision"] == 2, i  # no decision rolled back by a rebuild
        tag = next(t for t in source["tags"] if t["attribute"] == "category")
        assert tag["state"] == "confirmed"
        assert await runtime.store.assets.reproject(i) is False  # exactly the fold


async def test_an_ingest_that_died_before_its_events_is_resumed(
    settings: Settings, indexed: AsyncOpenSearch, tmp_path: Any
) -> None:
    from tagtrail.usecases.admin import write_demo_catalogue
    from tagtrail.usecases.ingest import IngestItem

    runtime = Runtime(settings, store=Store(settings, client=indexed))
    write_demo_catalogue(settings, 1, tmp_path, seed=4)
    [path] = [p for p in tmp_path.iterdir() if p.suffix != ".csv"]
    item = IngestItem(name=path.name, data=path.read_bytes())
    runtime.store.assets.fault_hook = crash_once("documents_created")
    with pytest.raises(Crash):
        await runtime.ingest.batch([item])
    [young] = await runtime.ingest.batch([item])
    assert young.status == "exists"  # a fresh revision-0 document may be an upload in flight
    assert young.asset_id
    # Once the document is stale, the next ingest of those bytes finishes the job.
    index = settings.index_name("assets")
    await indexed.update(  # type: ignore[attr-defined]
        index=index, id=young.asset_id, body={"doc": {"ingested_at": "2020-01-01T00:00:00Z"}}
    )
    [resumed] = await runtime.ingest.batch([item])
    assert resumed.status == "created"
    stored = await runtime.store.assets.get(young.asset_id)
    assert stored.revision == 1
    assert stored.source["tags"]
    assert await runtime.store.assets.reproject(young.asset_id) is False
