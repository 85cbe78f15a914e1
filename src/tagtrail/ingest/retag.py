"""Re-tag stored assets from their stored vectors (a newer model head or taxonomy).

No pixels are needed: heads, mapping and tiers run on the vector in the asset document.
Each changed attribute becomes a new ``model_tagged`` event at the asset's next revision,
so the history shows what changed and why — and human decisions still win the fold.
Resumable: an asset whose tags already carry the current head and taxonomy versions is
skipped, so an interrupted run simply continues where it stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import numpy as np

from tagtrail.errors import Conflict
from tagtrail.ingest.metadata import AssetMetadata
from tagtrail.ingest.pipeline import TagDecision, Tagger
from tagtrail.ingest.service import model_event
from tagtrail.services import Services
from tagtrail.store.assets import AssetStore
from tagtrail.store.records import HUMAN_STATES, TagEvent, utc_now


class RetagReport(msgspec.Struct, kw_only=True):
    checked: int = 0
    retagged: int = 0
    events: int = 0
    up_to_date: int = 0
    conflicts: int = 0
    other_encoder: int = 0  # vectors from another encoder: those assets need a re-ingest


def _changed(decision: TagDecision, current: dict[str, Any] | None, taxonomy_version: str) -> bool:
    if current is None:
        return True
    if current.get("state") in HUMAN_STATES:
        # Compare with the model's last proposal on it, not with the human's decision.
        seen = (
            current.get("proposed_value") or current.get("value"),
            current.get("proposed_head_version") or current.get("head_version"),
            current.get("proposed_taxonomy_version") or current.get("taxonomy_version"),
        )
        return seen != (decision.value, decision.actor.head_version, taxonomy_version)
    return (
        current.get("value"),
        current.get("tier"),
        current.get("head_version"),
        current.get("taxonomy_version"),
    ) != (decision.value, decision.tier.tier, decision.actor.head_version, taxonomy_version)


async def _pages(store: AssetStore, page: int) -> AsyncIterator[list[dict[str, Any]]]:
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {
            "size": page,
            "sort": [{"asset_id": "asc"}],
            "_source": [
                "asset_id",
                "vector",
                "brand",
                "season",
                "collection",
                "tags",
                "revision",
                "model_fingerprint",
            ],
        }
        if after:
            body["search_after"] = after
        hits = (await store.client.search(index=store.assets, body=body))["hits"]["hits"]
        if not hits:
            return
        yield [h["_source"] for h in hits]
        after = hits[-1]["sort"]


def plan_events(tagger: Tagger, docs: list[dict[str, Any]]) -> list[list[TagEvent]]:
    """The new events for each document (empty when it is already up to date)."""
    vectors = np.array([d["vector"] for d in docs], dtype=np.float32)
    metas = [
        AssetMetadata(brand=d.get("brand"), season=d.get("season"), collection=d.get("collection"))
        for d in docs
    ]
    tagged = tagger.tag_vectors(vectors, metas, [None] * len(docs))
    version = tagger.taxonomy.version
    at = utc_now()
    plans: list[list[TagEvent]] = []
    for doc, result in zip(docs, tagged, strict=True):
        current = {t["attribute"]: t for t in doc.get("tags", [])}
        seq = int(doc.get("revision", 0)) + 1
        changed = [d for d in result.decisions if _changed(d, current.get(d.attribute), version)]
        plans.append(
            [
                model_event(doc["asset_id"], n, d, version, at, seq=seq)
                for n, d in enumerate(changed)
            ]
        )
    return plans


async def retag_all(
    services: Services, *, page: int = 256, tagger: Tagger | None = None
) -> RetagReport:
    tagger = tagger or await services.tagger()
    store = AssetStore(services.client, services.settings)
    report = RetagReport()
    async for docs in _pages(store, page):
        # Heads only make sense on vectors of the encoder they were built for.
        usable = [
            d
            for d in docs
            if d.get("vector") and d.get("model_fingerprint") == tagger.model_fingerprint
        ]
        report.other_encoder += len(docs) - len(usable)
        report.checked += len(docs) - len(usable)
        docs = usable
        if not docs:
            continue
        plans = await asyncio.to_thread(plan_events, tagger, docs)
        for doc, events in zip(docs, plans, strict=True):
            report.checked += 1
            if not events:
                report.up_to_date += 1
                continue
            try:
                await store.apply(
                    doc["asset_id"], int(doc.get("revision", 0)), events, refresh=False
                )
            except Conflict:
                report.conflicts += 1  # changed meanwhile; the next run picks it up
                continue
            report.retagged += 1
            report.events += len(events)
    await services.client.indices.refresh(index=store.assets)
    return report
