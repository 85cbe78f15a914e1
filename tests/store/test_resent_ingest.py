"""An ingest write resent after its first try landed (opensearch-py resends a request on
another node when the one it used dies mid-request) is still the writer's own: the asset is
created with its revision-1 events, not left untagged as if another upload had won.

The first try is cut short with the store's test hook after a step has landed; the second
call resends exactly the same documents and events, as the transport would.
"""

from __future__ import annotations

import msgspec
import pytest

from tagtrail.store import NewAsset, Store
from tagtrail.store.claims import claimed_revision
from tests.api.conftest import Api
from tests.api.factories import A, T, document, model_event
from tests.support.faults import Crash, crash_once

pytestmark = pytest.mark.opensearch


@pytest.mark.parametrize("step", ["documents_created", "events_written"])
async def test_a_resent_create_is_still_the_writers_own(api: Api, step: str) -> None:
    a = A(id=f"resent-{step}", tags=(T(attribute="colour", value="black", probability=0.97),))
    events = tuple(model_event(api.taxonomy, a, n, t) for n, t in enumerate(a.tags))
    new = NewAsset(asset_id=a.id, document=document(api.taxonomy, a, ()), events=events)
    store = Store(api.settings, client=api.client)
    store.assets.fault_hook = crash_once(step)
    with pytest.raises(Crash):
        await store.assets.create_many([new])

    (again,) = await store.assets.create_many([new])
    assert again.status == "created"
    stored = await store.assets.get(a.id)
    assert stored.revision == 1
    assert [t.value for t in stored.tags()] == ["black"]
    assert await store.assets.reproject(a.id) is False  # the document is the fold of events


async def test_another_uploads_document_is_not_taken_for_ones_own(api: Api) -> None:
    a = A(id="resent-other", tags=(T(attribute="colour", value="black", probability=0.97),))
    events = tuple(model_event(api.taxonomy, a, n, t) for n, t in enumerate(a.tags))
    first = NewAsset(asset_id=a.id, document=document(api.taxonomy, a, ()), events=events)
    store = Store(api.settings, client=api.client)
    assert [w.status for w in await store.assets.create_many([first])] == ["created"]
    later = {**first.document, "ingested_at": "2031-01-01T00:00:00.000000Z"}
    second = NewAsset(asset_id=a.id, document=later, events=events)
    assert [w.status for w in await store.assets.create_many([second])] == ["exists"]


async def test_a_resumed_assets_claim_that_landed_before_its_answer_was_lost(api: Api) -> None:
    """Finishing a crashed ingest claims revision 1 on its own first. When that claim landed
    but its answer was lost (and the request resent), the claim is this writer's: the rest
    of its events are written and the asset is tagged, not reported as another's."""
    a = A(
        id="resent-resume",
        tags=(
            T(attribute="colour", value="navy", probability=0.97),
            T(attribute="category", value="jumper", probability=0.91),
        ),
    )
    events = tuple(model_event(api.taxonomy, a, n, t) for n, t in enumerate(a.tags))
    await api.client.create(
        index=api.settings.index_name("assets"),
        id=a.id,
        body=document(api.taxonomy, a, ()),
        refresh=True,
    )
    store = Store(api.settings, client=api.client)
    stored = (await store.assets.lookup([a.id]))[a.id]
    claim_landed = await store.events.create_many(claimed_revision(events)[:1])  # as sent
    assert claim_landed.created == {events[0].event_id}

    resumed = NewAsset(asset_id=a.id, document={}, events=events, resume=stored)
    (write,) = await store.assets.create_many([resumed])
    assert write.status == "created"
    after = await store.assets.get(a.id)
    assert after.revision == 1
    assert sorted(t.value for t in after.tags()) == ["jumper", "navy"]
    assert len(await store.events.for_asset(a.id)) == 2


async def test_another_writers_claim_is_not_taken_for_ones_own(api: Api) -> None:
    a = A(id="claimed-by-other", tags=(T(attribute="colour", value="navy", probability=0.97),))
    events = tuple(model_event(api.taxonomy, a, n, t) for n, t in enumerate(a.tags))
    store = Store(api.settings, client=api.client)
    other = tuple(msgspec.structs.replace(e, at="2031-01-01T00:00:00.000000Z") for e in events)
    await store.events.create_many(claimed_revision(other)[:1])
    new = NewAsset(asset_id=a.id, document=document(api.taxonomy, a, ()), events=events)
    (write,) = await store.assets.create_many([new])
    assert write.status == "exists"
    assert [e.at for e in await store.events.for_asset(a.id)] == [other[0].at]
