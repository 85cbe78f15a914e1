"""A revision is all-or-nothing: a reader that arrives between a write's claim (event 0) and
the rest of its events finishes the revision from the claim, so no document ever holds part
of a revision, and the writer answers the whole one.

The gap is widened with the store's test hook (``AssetRepository.fault_hook``): the write
waits half a second at the "claimed" step while another reader reads the asset. Everything
else is the real node.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tagtrail.domain.asset import Asset
from tagtrail.domain.records import Actor, TagEvent, event_id, utc_now
from tagtrail.store import NewAsset, Store, StoredAsset
from tests.api.conftest import Api
from tests.api.factories import A, T, document, model_event

pytestmark = pytest.mark.opensearch

TWO = (
    T(attribute="category", value="jumper", probability=0.8),
    T(attribute="pattern", value="stripe", probability=0.8),
)


def _confirm_both(stored: StoredAsset) -> list[TagEvent]:
    """One revision of two events: a reviewer confirms category and pattern at once."""
    seq, at = stored.revision + 1, utc_now()
    tags = [t for t in stored.tags() if t.attribute in ("category", "pattern")]
    return [
        TagEvent(
            event_id=event_id(stored.asset_id, seq, n),
            asset_id=stored.asset_id,
            attribute=t.attribute,
            kind="confirmed",
            seq=seq,
            at=at,
            state="confirmed",
            actor=Actor(type="human", id="rita"),
            value=t.value,
            previous_value=t.value,
            values=t.values,
        )
        for n, t in enumerate(sorted(tags, key=lambda t: t.attribute))
    ]


def held_at(step: str, reached: asyncio.Event) -> Callable[[str], Awaitable[None]]:
    """A fault hook that holds the write for 0.5 s at ``step`` (once), saying when."""

    async def hook(name: str) -> None:
        if name == step and not reached.is_set():
            reached.set()
            await asyncio.sleep(0.5)

    return hook


def states(source: dict[str, Any] | Asset) -> dict[str, str]:
    if isinstance(source, Asset):
        return {t.attribute: t.state for t in source.tags}
    return {t["attribute"]: t["state"] for t in source.get("tags") or ()}


async def test_a_reader_between_claim_and_rest_sees_the_whole_revision(api: Api) -> None:
    await api.create([A(id="w1", tags=TWO)])
    writer, reader = Store(api.settings, client=api.client), Store(api.settings, client=api.client)
    reached = asyncio.Event()
    writer.assets.fault_hook = held_at("claimed", reached)
    write = asyncio.create_task(writer.assets.apply("w1", 1, _confirm_both))
    await reached.wait()
    seen = await reader.assets.get("w1")  # arrives while only the claim is stored
    answered, events = await write
    both = {"category": "confirmed", "pattern": "confirmed"}
    assert len(events) == 2
    assert seen.revision == 2
    assert states(seen.source) == both  # before: pattern still "flagged" (event 1 not folded)
    assert states(answered) == both  # the writer answers the whole revision too
    assert states(await api.source("w1")) == both
    assert await writer.assets.reproject("w1") is False  # the document is the fold of the log


async def test_a_reader_between_a_batch_claim_and_its_rest(api: Api) -> None:
    await api.create([A(id="w2", tags=TWO)])
    writer, reader = Store(api.settings, client=api.client), Store(api.settings, client=api.client)
    reached = asyncio.Event()
    writer.assets.fault_hook = held_at("claimed", reached)
    batch = asyncio.create_task(writer.apply_batch([("w2", 1, _confirm_both)]))
    await reached.wait()
    [seen] = await reader.assets.get_many(["w2"])
    assert await batch == {"w2": "written"}
    assert seen is not None
    assert states(seen) == {"category": "confirmed", "pattern": "confirmed"}
    assert await writer.assets.reproject("w2") is False


async def test_a_reader_between_a_resumed_ingest_claim_and_its_rest(api: Api) -> None:
    """Ingest's revision 1 too: a crashed ingest resumed claims revision 1 on its own first."""
    a = A(id="w3", tags=TWO)
    events = tuple(model_event(api.taxonomy, a, n, t) for n, t in enumerate(a.tags))
    await api.client.create(
        index=api.settings.index_name("assets"),
        id=a.id,
        body=document(api.taxonomy, a, ()),
        refresh=True,
    )
    writer, reader = Store(api.settings, client=api.client), Store(api.settings, client=api.client)
    stored = (await writer.assets.lookup([a.id]))[a.id]
    reached = asyncio.Event()
    writer.assets.fault_hook = held_at("claimed", reached)
    resumed = NewAsset(asset_id=a.id, document={}, events=events, resume=stored)
    ingest = asyncio.create_task(writer.assets.create_many([resumed]))
    await reached.wait()
    seen = await reader.assets.get(a.id)
    [write] = await ingest
    assert write.status == "created"
    assert sorted(t.value for t in seen.tags()) == ["jumper", "stripe"]  # before: ["jumper"]
    assert await writer.assets.reproject(a.id) is False


async def test_a_claim_left_alone_is_finished_by_the_next_reader(api: Api) -> None:
    """A writer that died right after its claim: the claim alone is enough to finish it."""
    await api.create([A(id="w4", tags=TWO)])
    store = Store(api.settings, client=api.client)
    events = _confirm_both(await store.assets.get("w4"))
    await store.events.claim(events)  # ... and nothing more: the process died here
    healed = await store.assets.get("w4")
    assert healed.revision == 2
    assert states(healed.source) == {"category": "confirmed", "pattern": "confirmed"}
    stored = [e for e in await store.events.for_asset("w4") if e.seq == 2]
    assert stored == events  # the log holds the whole revision, exactly as written


async def test_a_history_read_finishes_a_claim_left_alone(api: Api) -> None:
    """Search (refreshed) sees the claim only; the history still holds the whole revision,
    and the log holds it from then on."""
    await api.create([A(id="w5", tags=TWO)])
    store = Store(api.settings, client=api.client)
    events = _confirm_both(await store.assets.get("w5"))
    await store.events.claim(events)  # the writer died here
    await api.client.indices.refresh(index=store.events.index)
    history = (await store.events.history({"w5": 2}))["w5"]
    assert [e for e in history if e.seq == 2] == events  # before: the claim alone
    assert [(e["seq"], e["attribute"]) for e in await api.events("w5") if e["seq"] == 2] == [
        (2, "category"),
        (2, "pattern"),
    ]
