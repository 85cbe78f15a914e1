"""Ingest: bytes + metadata → decoded, tagged, written as events and asset documents.

Idempotent by content: the asset id is the sha256 of the image bytes, so the same bytes
ingested again (in the same batch or later) add no asset and no event. A bad file is
reported on its own line and never aborts the batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from tagtrail.errors import InvalidInput, TagtrailError
from tagtrail.ingest.decode import DecodedImage, DecodeLimits, decode_image
from tagtrail.ingest.metadata import AssetMetadata, parse_metadata
from tagtrail.ingest.pipeline import PreparedImages, TagDecision, TaggedImage, Tagger
from tagtrail.services import Services

if TYPE_CHECKING:
    pass
from tagtrail.store.assets import AssetStore
from tagtrail.store.projection import projection_fields
from tagtrail.store.records import TagEvent, event_id, utc_now

Status = Literal["created", "exists", "rejected", "failed"]


class IngestItem(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    data: bytes
    metadata: dict[str, Any] | None = None


class IngestOutcome(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    name: str
    status: Status
    asset_id: str | None = None
    error: str | None = None
    document: dict[str, Any] | None = None


def _decode_all(
    items: Sequence[IngestItem], limits: DecodeLimits
) -> list[tuple[DecodedImage, AssetMetadata] | TagtrailError]:
    out: list[tuple[DecodedImage, AssetMetadata] | TagtrailError] = []
    for item in items:
        try:
            meta = parse_metadata(item.metadata, filename=item.name)
            out.append((decode_image(item.data, limits=limits, name=item.name), meta))
        except TagtrailError as exc:
            out.append(exc)
    return out


def events_for_decisions(
    asset_id: str, tagged: TaggedImage, taxonomy_version: str, at: str
) -> list[TagEvent]:
    return [
        model_event(asset_id, n, d, taxonomy_version, at, seq=1)
        for n, d in enumerate(tagged.decisions)
    ]


def model_event(
    asset_id: str, n: int, d: TagDecision, taxonomy_version: str, at: str, *, seq: int
) -> TagEvent:
    return TagEvent(
        event_id=event_id(asset_id, seq, n),
        asset_id=asset_id,
        attribute=d.attribute,
        kind="model_tagged",
        seq=seq,
        at=at,
        actor=d.actor,
        state=d.tier.tier,
        value=d.value,
        label=d.label,
        values=d.values,
        family=d.family,
        terms=d.terms,
        raw_label=d.raw_label,
        top_k=d.top_k,
        probability=d.probability,
        tier=d.tier.tier,
        tier_reason=d.tier.reason,
        thresholds=d.thresholds,
        taxonomy_version=taxonomy_version,
        rule_id=d.rule_id,
        evidence=d.evidence,
    )


def asset_document(
    asset_id: str,
    decoded: DecodedImage,
    meta: AssetMetadata,
    tagged: TaggedImage,
    events: Sequence[TagEvent],
    *,
    model_fingerprint: str,
    untrained: bool,
    taxonomy_version: str,
    at: str,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "asset_id": asset_id,
        "content_hash": decoded.sha256,
        **{k: v for k, v in msgspec.to_builtins(meta).items() if v not in (None, {}, "")},
        "ingested_at": at,
        "updated_at": at,
        "format": decoded.format,
        "width": decoded.width,
        "height": decoded.height,
        "byte_size": decoded.byte_size,
        "model_fingerprint": model_fingerprint,
        "model_untrained": untrained,
        "taxonomy_version": taxonomy_version,
        "vector": tagged.vector,
    }
    doc.update(projection_fields(events))
    return doc


async def ingest(
    services: Services,
    items: Sequence[IngestItem],
    *,
    refresh: bool | str = False,
    tagger: Tagger | None = None,
) -> list[IngestOutcome]:
    """Ingest one batch; one outcome per item, in order."""
    outcomes: list[IngestOutcome] = []
    async for batch in ingest_stream(services, [items], refresh=refresh, tagger=tagger):
        outcomes.extend(batch)
    return outcomes


async def ingest_stream(
    services: Services,
    batches: Iterable[Sequence[IngestItem]],
    *,
    refresh: bool | str = False,
    tagger: Tagger | None = None,
) -> AsyncIterator[list[IngestOutcome]]:
    """Ingest batches as a pipeline; yields each batch's outcomes in order.

    While the encoder works on batch *i* (in a worker thread), batch *i+1* is decoded in
    another thread and batch *i-1* is written to OpenSearch, so decode and bulk-write time
    hide behind the forward pass instead of adding to it.
    """
    tagger = tagger or await services.tagger()
    store = AssetStore(services.client, services.settings)
    source = iter(batches)
    seen: set[str] = set()  # asset ids of earlier batches: maybe not yet written

    def start_next() -> asyncio.Task[_Prepared] | None:
        items = next(source, None)
        if items is None:
            return None
        return asyncio.create_task(_prepare(store, items, tagger, seen))

    preparing = start_next()
    writing: asyncio.Task[list[IngestOutcome]] | None = None
    try:
        while preparing is not None:
            prepared = await preparing
            preparing = start_next()
            tagged = await asyncio.to_thread(tagger.tag_prepared, prepared.work, prepared.metas)
            if writing is not None:
                yield await writing
            writing = asyncio.create_task(_write(store, prepared, tagged, tagger, refresh))
        if writing is not None:
            yield await writing
            writing = None
    finally:
        for task in (preparing, writing):
            if task is not None:
                task.cancel()


@dataclass
class _Prepared:
    items: Sequence[IngestItem]
    outcomes: list[IngestOutcome | None]
    order: list[tuple[str, int]]  # (asset_id, item index) of new assets, in batch order
    decoded: list[DecodedImage]
    metas: list[AssetMetadata]
    work: PreparedImages  # pixel tensors + colour analysis of the new assets


async def _prepare(
    store: AssetStore, items: Sequence[IngestItem], tagger: Tagger, seen: set[str]
) -> _Prepared:
    """Decode, validate, drop what is already stored (by content hash), then do the CPU
    work around the encoder (pixels, colour) — off the event loop."""
    if len(items) > 10_000:
        raise InvalidInput("at most 10000 images per ingest batch")
    decoded = await asyncio.to_thread(_decode_all, items, DecodeLimits())
    outcomes: list[IngestOutcome | None] = [None] * len(items)
    fresh: dict[str, int] = {}  # asset_id -> index of its first occurrence in this batch
    for i, result in enumerate(decoded):
        if isinstance(result, TagtrailError):
            name = items[i].name
            message = result.message if name in result.message else f"{name}: {result.message}"
            outcomes[i] = IngestOutcome(name=name, status="rejected", error=message)
            continue
        asset_id = result[0].sha256
        if asset_id in fresh or asset_id in seen:
            outcomes[i] = IngestOutcome(name=items[i].name, status="exists", asset_id=asset_id)
        else:
            fresh[asset_id] = i
    if fresh:
        found = await store.client.mget(
            index=store.assets, body={"ids": list(fresh)}, _source=False
        )
        for doc in found["docs"]:
            if doc.get("found"):
                i = fresh.pop(doc["_id"])
                outcomes[i] = IngestOutcome(
                    name=items[i].name, status="exists", asset_id=doc["_id"]
                )
    order = list(fresh.items())
    seen.update(fresh)
    pairs = [decoded[i] for _, i in order]
    fresh_images = [p[0] for p in pairs if not isinstance(p, TagtrailError)]
    work = await asyncio.to_thread(tagger.prepare, [d.image for d in fresh_images])
    return _Prepared(
        items=items,
        outcomes=outcomes,
        order=order,
        decoded=fresh_images,
        metas=[p[1] for p in pairs if not isinstance(p, TagtrailError)],
        work=work,
    )


async def _write(
    store: AssetStore,
    prepared: _Prepared,
    tagged: list[TaggedImage],
    tagger: Tagger,
    refresh: bool | str,
) -> list[IngestOutcome]:
    items, order, outcomes = prepared.items, prepared.order, prepared.outcomes
    pairs = list(zip(prepared.decoded, prepared.metas, strict=True))
    at = utc_now()
    version = tagger.taxonomy.version
    event_body: list[Any] = []
    docs: list[dict[str, Any]] = []
    for (asset_id, _), (image, meta), result in zip(order, pairs, tagged, strict=True):
        events = events_for_decisions(asset_id, result, version, at)
        for event in events:
            event_body.append({"create": {"_index": store.events, "_id": event.event_id}})
            event_body.append(msgspec.to_builtins(event))
        docs.append(
            asset_document(
                asset_id,
                image,
                meta,
                result,
                events,
                model_fingerprint=tagger.model_fingerprint,
                untrained=tagger.encoder.untrained,
                taxonomy_version=version,
                at=at,
            )
        )
    failed: dict[str, str] = {}
    if event_body:
        response = await store.client.bulk(body=event_body, refresh=refresh)
        for item in response["items"]:
            info = item["create"]
            if info["status"] not in (201, 409):  # 409: written by an interrupted earlier run
                failed.setdefault(info["_id"].split(":")[0], str(info.get("error")))
    doc_body: list[Any] = []
    for doc in docs:
        if doc["asset_id"] in failed:
            continue
        doc_body.append({"create": {"_index": store.assets, "_id": doc["asset_id"]}})
        doc_body.append(doc)
    if doc_body:
        response = await store.client.bulk(body=doc_body, refresh=refresh)
        for item in response["items"]:
            info = item["create"]
            if info["status"] not in (201, 409):  # 409: the asset exists (a concurrent ingest)
                failed[info["_id"]] = str(info.get("error"))
    by_id = {doc["asset_id"]: doc for doc in docs}
    for asset_id, i in order:
        name = items[i].name
        if asset_id in failed:
            outcomes[i] = IngestOutcome(
                name=name,
                status="failed",
                asset_id=asset_id,
                error=f"store write failed: {failed[asset_id]}",
            )
        else:
            doc = {k: v for k, v in by_id[asset_id].items() if k != "vector"}
            outcomes[i] = IngestOutcome(
                name=name, status="created", asset_id=asset_id, document=doc
            )
    return [o for o in outcomes if o is not None]
