"""Histories page through every event (search_after): no silent cap per asset or per page."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.domain.records import Actor, TagEvent, event_id
from tagtrail.store import Store
from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch

RITA = Actor(type="human", id="rita")
CATEGORIES = ("peacoat", "parka", "blazer")


def correction(api: Api, asset_id: str, seq: int) -> TagEvent:
    value = CATEGORIES[seq % len(CATEGORIES)]
    return TagEvent(
        event_id=event_id(asset_id, seq, 0),
        asset_id=asset_id,
        attribute="category",
        kind="corrected",
        seq=seq,
        at=f"2026-02-01T00:00:{seq:02d}.000000Z",
        actor=RITA,
        state="corrected",
        value=value,
        values=api.taxonomy.ancestors("category", value),
        taxonomy_version=api.taxonomy.version,
    )


async def test_history_longer_than_a_page_is_read_whole(make_api: object) -> None:
    api: Api = await make_api(history_page_size=3)  # type: ignore[operator]
    await api.create(
        [
            A(id="long", tags=(T(attribute="category", value="peacoat"),)),
            A(id="short", tags=(T(attribute="pattern", value="stripe"),)),
        ]
    )
    store = Store(api.settings, client=api.client)
    assert store.events.page_size == 3
    for seq in range(2, 13):  # eleven reviewer corrections through the real write path
        await store.assets.apply("long", seq - 1, lambda _, s=seq: [correction(api, "long", s)])
    # Revision 0 = "all": every event must come from the paged search, none from by-id reads.
    history = await store.events.for_asset("long")
    assert [e.seq for e in history] == list(range(1, 13))
    assert history[-1].value == CATEGORIES[12 % 3]
    both = await store.events.history({"long": 12, "short": 1})
    assert [e.seq for e in both["long"]] == list(range(1, 13))
    assert [e.attribute for e in both["short"]] == ["pattern"]
    # The projection is the fold of all twelve revisions (reproject changes nothing).
    doc = (await store.assets.get("long")).source
    assert doc["revision"] == 12
    assert await store.assets.reproject("long") is False
    explained = await api.data(
        '{ explainTag(assetId: "long", attribute: "category") { ... on TagExplanation {'
        " history { toValue } decision { kind value } } } }"
    )
    assert len(explained["explainTag"]["history"]) == 12
    assert explained["explainTag"]["decision"] == {"kind": "corrected", "value": "peacoat"}


async def test_no_hard_cap_at_ten_thousand_events(
    settings: Settings, indexed: AsyncOpenSearch
) -> None:
    """The old reads stopped at 10,000 events (OpenSearch's result window): 10,050 here."""
    store = Store(settings, client=indexed)
    actor = Actor(type="model", id="clip@1", model_fingerprint="clip@1", head_version="zs/1")
    template = TagEvent(
        event_id="",
        asset_id="big",
        attribute="pattern",
        kind="model_tagged",
        seq=0,
        at="2026-01-01T00:00:00.000000Z",
        actor=actor,
        state="suggested",
        value="stripe",
        probability=0.5,
        tier="suggested",
    )
    total = 10_050
    for start in range(1, total + 1, 2_500):
        batch = [
            msgspec.structs.replace(template, event_id=event_id("big", seq, 0), seq=seq)
            for seq in range(start, min(start + 2_500, total + 1))
        ]
        assert not (await store.events.create_many(batch)).failed
    history = await store.events.for_asset("big")
    assert len(history) == total
    assert [e.seq for e in history] == list(range(1, total + 1))


async def test_a_revision_caught_half_written_by_a_refresh_is_read_whole(
    settings: Settings, indexed: AsyncOpenSearch
) -> None:
    """A revision's claim (event 0) is written before its other events: a refresh between
    the two makes search see half of it. The history still holds all of it."""
    store = Store(settings, client=indexed)
    index = store.events.index
    await indexed.indices.put_settings(index=index, body={"index": {"refresh_interval": "-1"}})
    actor = Actor(type="model", id="clip@1", model_fingerprint="clip@1", head_version="zs/1")
    template = TagEvent(
        event_id="",
        asset_id="half",
        attribute="pattern",
        kind="model_tagged",
        seq=0,
        at="2026-01-01T00:00:00.000000Z",
        actor=actor,
        state="suggested",
        probability=0.5,
        tier="suggested",
    )
    events = [
        msgspec.structs.replace(
            template, event_id=event_id("half", seq, n), seq=seq, attribute=attribute, value=value
        )
        for seq, n, attribute, value in [
            (1, 0, "pattern", "stripe"),
            (2, 0, "pattern", "check"),
            (2, 1, "category", "parka"),
        ]
    ]
    await store.events.create_many(events[:2])
    await indexed.indices.refresh(index=index)  # search sees revision 2's claim only...
    await store.events.create_many(events[2:])  # ...its second event lands after the refresh
    visible = await indexed.search(index=index, body={"query": {"match_all": {}}})
    assert visible["hits"]["total"]["value"] == 2
    history = (await store.events.history({"half": 2}))["half"]
    assert [(e.seq, e.attribute) for e in history] == [
        (1, "pattern"),
        (2, "pattern"),
        (2, "category"),
    ]


async def test_a_huge_known_revision_reads_only_what_is_stored(api: Api) -> None:
    """A caller-sent revision (GraphQL allows 2,147,483,647) once drove one request per
    revision number up to it, for ~35 days. The read stops at the first revision that is
    not claimed: the real events come back at once, and a missing asset has none."""
    await api.create([A(id="huge", tags=(T(attribute="category", value="peacoat"),))])
    store = Store(api.settings, client=api.client)
    await store.assets.apply("huge", 1, lambda _: [correction(api, "huge", 2)])
    found = await asyncio.wait_for(
        store.events.history({"huge": 2_147_483_647, "missing": 2_147_483_647}), timeout=10
    )
    assert [(e.seq, e.kind) for e in found["huge"]] == [(1, "model_tagged"), (2, "corrected")]
    assert found["missing"] == []
