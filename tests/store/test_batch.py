"""Many assets' next revisions in three bulk requests, with the single write's guarantees:
a stale revision or a revision another writer claimed is a conflict that writes nothing, a
cut-short write heals on the next read, and the documents are exactly the fold of events."""

from __future__ import annotations

import pytest

from tagtrail.domain.records import Actor, TagEvent, event_id, utc_now
from tagtrail.store import Store, StoredAsset
from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch


def _confirm(stored: StoredAsset) -> list[TagEvent]:
    tag = next(t for t in stored.source["tags"] if t["attribute"] == "category")
    seq = stored.revision + 1
    return [TagEvent(
        event_id=event_id(stored.asset_id, seq, 0), asset_id=stored.asset_id,
        attribute="category", kind="confirmed", seq=seq, at=utc_now(), state="confirmed",
        actor=Actor(type="human", id="batch"), value=tag["value"], previous_value=tag["value"],
        values=tuple(tag["values"]),
    )]  # fmt: skip


async def test_batch_writes_guards_and_conflicts(api: Api) -> None:
    tag = (T(attribute="category", value="jumper", probability=0.8),)
    await api.create([A(id=f"b{i}", tags=tag) for i in range(5)])
    store = Store(api.settings, client=api.client)
    # b1: someone else decided first (stale expected revision); b2: another writer already
    # claimed revision 2; b3: nothing to write; b4: missing.
    await store.assets.apply("b1", 1, _confirm)
    await store.events.append_revision(
        [msgspec_replace(_confirm(await store.assets.get("b2"))[0], actor_id="other")]
    )
    plans = [("b0", 1, _confirm), ("b1", 1, _confirm), ("b2", 1, _confirm),
             ("b3", 1, lambda _: []), ("nope", 1, _confirm)]  # fmt: skip
    result = await store.apply_batch(plans)
    assert result == {"b0": "written", "b1": "conflict", "b2": "conflict", "b3": "unchanged",
                      "nope": "missing"}  # fmt: skip
    assert (await api.source("b0"))["revision"] == 2
    assert next(t for t in (await api.source("b0"))["tags"])["state"] == "confirmed"
    assert (await api.source("b3"))["revision"] == 1
    # b2's revision 2 is the other writer's: healed on read, and the batch added nothing.
    events = [e for e in await api.events("b2") if e["seq"] == 2]
    assert [e["actor"]["id"] for e in events] == ["other"]
    for asset_id in ("b0", "b1", "b2"):
        assert await store.assets.reproject(asset_id) is False


def msgspec_replace(event: TagEvent, *, actor_id: str) -> TagEvent:
    import msgspec

    return msgspec.structs.replace(event, actor=Actor(type="human", id=actor_id))
