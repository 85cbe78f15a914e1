"""The write path end to end, against the real node: ingest, idempotence, hostile files,
complete event history and projections that rebuild identically.

The encoder is ``random-init:tiny``: a small, randomly initialised CLIP built from a config
with the real transformers code (no weights are downloaded; its tags say UNTRAINED).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import numpy as np
import pytest
from opensearchpy import AsyncOpenSearch
from PIL import Image

from tagtrail.config import Settings
from tagtrail.demo.catalogue import generate_catalogue
from tagtrail.domain.calibration import Calibration
from tagtrail.domain.records import TagEvent
from tagtrail.errors import Conflict
from tagtrail.store import Store
from tagtrail.tagging.taxonomy_files import load_palette
from tagtrail.usecases.ingest import IngestItem
from tagtrail.usecases.runtime import Runtime

pytestmark = pytest.mark.opensearch


@pytest.fixture(scope="session")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("catalogue")
    palette = load_palette(Path(Settings().taxonomy_dir) / "colours.yaml")
    generate_catalogue(10, out, palette=palette, seed=3)
    return out


@pytest.fixture
async def runtime(settings: Settings, indexed: AsyncOpenSearch) -> AsyncIterator[Runtime]:
    return Runtime(settings, store=Store(settings, client=indexed))  # type: ignore[arg-type]


def _items(folder: Path) -> list[IngestItem]:
    import csv

    with (folder / "manifest.csv").open() as fh:
        rows = {r["filename"]: r for r in csv.DictReader(fh)}
    return [
        IngestItem(
            name=name,
            data=(folder / name).read_bytes(),
            metadata={
                k: rows[name][k]
                for k in ("sku", "brand", "collection", "photographer", "shoot_date")
            },
        )
        for name in sorted(rows)
    ]


def _hostile(good: bytes) -> list[IngestItem]:
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, format="PNG")
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, format="GIF")
    return [
        IngestItem(name="notes.txt", data=b"just some text"),
        IngestItem(name="cut.jpg", data=good[: len(good) // 3]),
        IngestItem(name="bomb.png", data=bomb.getvalue()),
        IngestItem(name="anim.gif", data=gif.getvalue()),
        IngestItem(name="empty.jpg", data=b""),
        IngestItem(name="baddate.jpg", data=good, metadata={"shoot_date": "yesterday"}),
    ]


async def _count(client: AsyncOpenSearch, index: str) -> int:
    await client.indices.refresh(index=index)
    return int((await client.count(index=index))["count"])


async def test_ingest_tags_everything_and_reingest_adds_nothing(
    runtime: Runtime, catalogue: Path, settings: Settings
) -> None:
    items = _items(catalogue)
    hostile = _hostile(items[0].data)
    outcomes = await runtime.ingest.batch([*items[:5], *hostile, *items[5:]])
    by_name = {o.name: o for o in outcomes}
    assert len(outcomes) == len(items) + len(hostile)
    assert all(by_name[i.name].status == "created" for i in items)
    for item in hostile:
        outcome = by_name[item.name]
        assert outcome.status == "rejected", outcome
        assert outcome.error
        assert item.name in outcome.error
    assert "pixel" in (by_name["bomb.png"].error or "")
    assert "shoot_date" in (by_name["baddate.jpg"].error or "")

    store = Store(settings, client=runtime.store.client)
    taxonomy = await runtime.taxonomy.current()
    expected_attributes = set(taxonomy.attribute_names)
    assets_index, events_index = store.assets.index, store.events.index
    n_assets = await _count(runtime.store.client, assets_index)
    n_events = await _count(runtime.store.client, events_index)
    assert n_assets == len(items)
    colour_tiers: list[str] = []
    for outcome in outcomes:
        if outcome.status != "created":
            continue
        assert outcome.asset_id is not None
        stored = await store.assets.get(outcome.asset_id)
        doc = stored.source
        vector = np.array(doc["vector"])
        assert vector.shape == (512,)
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-3
        assert "UNTRAINED" in doc["model_fingerprint"]
        assert doc["revision"] == 1
        primary = {t["attribute"]: t for t in doc["tags"] if t.get("slot") is None}
        further = [t for t in doc["tags"] if t.get("slot") is not None]
        assert set(primary) <= expected_attributes
        assert "colour" in primary
        assert "category" in primary
        for tag in further:  # multi-valued attributes only, never the primary value again
            assert taxonomy.attribute(tag["attribute"]).kind == "multi"
            assert tag["value"] != primary[tag["attribute"]]["value"]
        tags = {(t["attribute"], t.get("slot")): t for t in doc["tags"]}
        assert len(tags) == len(doc["tags"])
        events = await store.events.for_asset(outcome.asset_id)
        assert {e.event_id for e in events} == {t["event_id"] for t in tags.values()}
        for event in events:
            assert event.tier in ("auto_applied", "flagged", "suggested")
            assert event.thresholds is not None
            assert event.taxonomy_version == taxonomy.attribute_version(event.attribute)
            assert event.tier_reason
            assert event.top_k
            assert event.rule_id
            if event.attribute == "colour":
                assert event.actor.type == "analyser"
                assert event.evidence
                # The tier is decided on the calibrated probability, and says from what.
                raw, calibration = event.evidence["raw_confidence"], event.evidence["calibration"]
                assert calibration["kind"] == "platt"
                assert calibration["source"].startswith("shipped default")
                fitted = msgspec.convert(
                    {k: v for k, v in calibration.items() if k != "version"}, Calibration
                )
                assert calibration["version"] == fitted.version
                assert event.probability == round(fitted.apply_one(raw), 4)
                if event.slot is None:
                    colour_tiers.append(str(event.tier))
            else:
                assert event.actor.model_fingerprint
                assert event.actor.head_version
                assert "UNTRAINED" in event.actor.model_fingerprint
        for tag in tags.values():
            assert tag["applied"] == (tag["tier"] in ("auto_applied", "flagged"))
            if tag["applied"]:
                assert tag["value"] in doc["applied"][tag["attribute"]]

    # Generated photos are measured right nearly always: most colours are applied unreviewed.
    assert colour_tiers.count("auto_applied") >= 8, colour_tiers

    again = await runtime.ingest.batch(items)
    assert {o.status for o in again} == {"exists"}
    assert await _count(runtime.store.client, assets_index) == n_assets
    assert await _count(runtime.store.client, events_index) == n_events


async def test_projection_rebuilds_identically(
    runtime: Runtime, catalogue: Path, settings: Settings
) -> None:
    outcomes = await runtime.ingest.batch(_items(catalogue)[:3])
    store = Store(settings, client=runtime.store.client)
    for outcome in outcomes:
        assert outcome.asset_id
        before = (await store.assets.get(outcome.asset_id)).source
        assert await store.assets.reproject(outcome.asset_id) is False  # already equal to the fold
        damaged = dict(before, tags=[], applied={}, tag_text="", pending_count=0)
        await runtime.store.client.index(
            index=store.assets.index, id=outcome.asset_id, body=damaged, refresh=True
        )
        assert await store.assets.reproject(outcome.asset_id) is True
        after = (await store.assets.get(outcome.asset_id)).source
        assert after == before


async def test_events_are_append_only(
    runtime: Runtime, catalogue: Path, settings: Settings
) -> None:
    [outcome] = await runtime.ingest.batch(_items(catalogue)[:1])
    assert outcome.asset_id
    store = Store(settings, client=runtime.store.client)
    events = await store.events.for_asset(outcome.asset_id)
    tampered = msgspec.structs.replace(events[1], value="something_else")
    # Rewriting a stored revision is refused: its claim carries the revision as first
    # written, so a different revision is another writer's (Conflict); the stored one stays.
    # The same revision again is harmless (put-if-absent).
    with pytest.raises(Conflict):
        await store.events.append_revision([events[0], tampered])
    await store.events.append_revision(events)
    stored = await store.events.for_asset(outcome.asset_id)
    assert [msgspec.to_builtins(e) for e in stored] == [msgspec.to_builtins(e) for e in events]
    assert isinstance(stored[0], TagEvent)


async def test_two_servers_ingesting_the_same_bytes_create_one_asset(
    settings: Settings, indexed: AsyncOpenSearch, catalogue: Path
) -> None:
    """Two server processes (two Runtime, two clients) race on the same bytes with
    different metadata: exactly one creates the asset; the stored document carries the
    winner's metadata and events only."""
    from tagtrail.store import Store

    first = Runtime(settings, store=Store(settings))
    second = Runtime(settings, store=Store(settings))
    try:
        item = _items(catalogue)[0]
        a, b = await asyncio.gather(
            first.ingest.batch([IngestItem(name="a.jpg", data=item.data, metadata={"sku": "A-1"})]),
            second.ingest.batch(
                [IngestItem(name="b.jpg", data=item.data, metadata={"sku": "B-1"})]
            ),
        )
        statuses = sorted([a[0].status, b[0].status])
        assert statuses == ["created", "exists"]
        winner = a[0] if a[0].status == "created" else b[0]
        assert winner.asset_id
        assert winner.asset
        stored = await first.store.assets.get(winner.asset_id)
        assert stored.source["sku"] == winner.asset.sku
        events = await first.store.events.for_asset(winner.asset_id)
        assert {e.event_id for e in events} == {t["event_id"] for t in stored.source["tags"]}
        assert len({e.at for e in events}) == 1
    finally:
        await first.close()
        await second.close()
