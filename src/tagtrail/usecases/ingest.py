"""Ingest: bytes + metadata → decoded, tagged, written as events and asset documents.

Idempotent by content: the asset id is the sha256 of the image bytes, so the same bytes
ingested again (in the same batch or later) add no asset and no event; of two concurrent
uploads of the same bytes exactly one creates the asset. A bad file is reported on its own
line and never aborts the batch.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from tagtrail.domain.asset import Asset, asset_of
from tagtrail.domain.metadata import AssetMetadata, RawMetadata, parse_metadata
from tagtrail.domain.records import ModelDecision, TagEvent, event_id, utc_now
from tagtrail.errors import InvalidInput, TagtrailError
from tagtrail.store import AssetRepository, NewAsset, StoredAsset, ThumbnailRepository
from tagtrail.tagging.pipeline import PreparedImages, TaggedImage, Tagger
from tagtrail.usecases.metrics import Metrics
from tagtrail.usecases.tagger_provider import TaggerProvider
from tagtrail.usecases.workers import Worker
from tagtrail.vision.decode import DecodedImage, DecodeLimits, decode_image
from tagtrail.vision.thumbnail import Thumbnail, make_thumbnails

Status = Literal["created", "exists", "rejected", "failed"]
MAX_BATCH = 10_000
RESUME_AFTER_S = 60.0


class IngestItem(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    data: bytes
    metadata: RawMetadata | None = None


class IngestOutcome(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    name: str
    status: Status
    asset_id: str | None = None
    error: str | None = None
    asset: Asset | None = None  # the stored asset, when created


def model_event(asset_id: str, n: int, decision: ModelDecision, at: str, *, seq: int) -> TagEvent:
    """The event recording a machine decision as event ``n`` of revision ``seq``; a decision
    without a value withdraws a further value the model no longer proposes (``retired``)."""
    if decision.value is None:
        return TagEvent(
            **msgspec.structs.asdict(decision),
            event_id=event_id(asset_id, seq, n),
            asset_id=asset_id,
            kind="retired",
            seq=seq,
            at=at,
            state="suggested",
        )
    return TagEvent(
        **msgspec.structs.asdict(decision),
        event_id=event_id(asset_id, seq, n),
        asset_id=asset_id,
        kind="model_tagged",
        seq=seq,
        at=at,
        state=decision.tier or "suggested",  # type: ignore[arg-type]
    )


class ImageFacts(msgspec.Struct, kw_only=True, frozen=True):
    """What an asset's document keeps about its original file."""

    sha256: str
    format: str
    width: int
    height: int
    byte_size: int

    @classmethod
    def of(cls, decoded: DecodedImage) -> ImageFacts:
        return cls(
            sha256=decoded.sha256,
            format=decoded.format,
            width=decoded.width,
            height=decoded.height,
            byte_size=decoded.byte_size,
        )


def base_document(
    asset_id: str,
    decoded: ImageFacts,
    meta: AssetMetadata,
    tagged: TaggedImage,
    *,
    model_fingerprint: str,
    untrained: bool,
    taxonomy_version: str,
    at: str,
) -> dict[str, Any]:
    """The revision-0 document: metadata and vector; its tags come from the events."""
    return {
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
        "revision": 0,
    }


def _stale(ingested_at: str | None) -> bool:
    """A revision-0 document older than this was left by an ingest that died; a younger one
    belongs to an upload still being tagged, which must not be raced."""
    if not ingested_at:
        return True
    started = dt.datetime.fromisoformat(ingested_at.replace("Z", "+00:00"))
    return (dt.datetime.now(dt.UTC) - started).total_seconds() > RESUME_AFTER_S


def decode_all(
    items: Sequence[IngestItem], limits: DecodeLimits
) -> list[tuple[DecodedImage, AssetMetadata] | Rejected]:
    """Metadata checked and bytes decoded, item by item; a bad one becomes its rejection."""
    out: list[tuple[DecodedImage, AssetMetadata] | Rejected] = []
    for item in items:
        try:
            meta = parse_metadata(item.metadata, filename=item.name)
            out.append((decode_image(item.data, limits=limits, name=item.name), meta))
        except TagtrailError as exc:
            message = exc.message if item.name in exc.message else f"{item.name}: {exc.message}"
            out.append(Rejected(message))
    return out


class Rejected(msgspec.Struct, frozen=True):
    """Why an item was refused (``rejected``) or could not be read (``failed``); the
    message names the file."""

    message: str
    status: Literal["rejected", "failed"] = "rejected"


class Ingest:
    """The ingest pipeline: what it reads and writes, the tagger it asks for, and where the
    forward passes run."""

    def __init__(
        self,
        assets: AssetRepository,
        thumbnails: ThumbnailRepository,
        tagging: TaggerProvider,
        inference: Worker,
        metrics: Metrics,
    ) -> None:
        self._assets = assets
        self._thumbnails = thumbnails
        self._tagging = tagging
        self._inference = inference
        self._metrics = metrics

    async def keep_thumbnails(self, pairs: list[tuple[str, Thumbnail]]) -> None:
        """Put-if-absent: a new asset's thumbnail, or a stored asset's first."""
        await self._thumbnails.put_many(pairs)

    async def batch(
        self, items: Sequence[IngestItem], *, tagger: Tagger | None = None
    ) -> list[IngestOutcome]:
        """Ingest one batch (an upload's, gathered with concurrent ones), step by step: decode,
        drop what is stored, prepare the pixels (:meth:`_prepare`), then tag and write
        (:meth:`tag_and_write`); one outcome per item, in order. Many batches overlap these steps
        in :meth:`stream`."""
        tagger = tagger or await self._tagging.tagger()
        prepared = await self._prepare(items, tagger, set())
        return await self.tag_and_write(prepared, tagger)

    async def stream(
        self,
        batches: Iterable[Sequence[IngestItem]],
        *,
        tagger: Tagger | None = None,
    ) -> AsyncIterator[list[IngestOutcome]]:
        """Ingest batches as a pipeline; yields each batch's outcomes in order.

        While the encoder works on batch *i* (on the inference thread), batch *i+1* is decoded
        in another thread and batch *i-1* is written to OpenSearch, so decode and bulk-write
        time hide behind the forward pass instead of adding to it.
        """
        tagger = tagger or await self._tagging.tagger()
        source = iter(batches)
        seen: set[str] = set()  # asset ids of earlier batches: maybe not yet written

        def start_next() -> asyncio.Task[Prepared] | None:
            items = next(source, None)
            if items is None:
                return None
            return asyncio.create_task(self._prepare(items, tagger, seen))

        preparing = start_next()
        writing: asyncio.Task[list[IngestOutcome]] | None = None
        try:
            while preparing is not None:
                prepared = await preparing
                preparing = start_next()
                tagged = await self._inference.run(
                    self._metrics.timed_encoder(tagger.tag_prepared), prepared.work, prepared.metas
                )
                if writing is not None:
                    yield await writing
                writing = asyncio.create_task(self.write_tagged(prepared, tagged, tagger))
            if writing is not None:
                yield await writing
                writing = None
        finally:
            for task in (preparing, writing):
                if task is not None:
                    task.cancel()

    async def skip_stored(
        self,
        names: Sequence[str],
        outcomes: list[IngestOutcome | None],
        fresh: dict[str, int],
    ) -> dict[str, StoredAsset]:
        """Drop from ``fresh`` what the store already holds (its outcome: exists); return the
        revision-0 documents a crashed ingest left untagged, to be finished now."""
        resume: dict[str, StoredAsset] = {}
        for asset_id, stored in (await self._assets.lookup(list(fresh))).items():
            if stored.revision == 0 and _stale(stored.source.get("ingested_at")):
                resume[asset_id] = stored  # created long ago, never tagged: a crashed ingest
                continue
            i = fresh.pop(asset_id)
            outcomes[i] = IngestOutcome(name=names[i], status="exists", asset_id=asset_id)
        return resume

    async def tag_and_write(self, prepared: Prepared, tagger: Tagger) -> list[IngestOutcome]:
        """Forward pass, heads, taxonomy and tiers on the inference thread, then the writes."""
        tagged = await self._inference.run(
            self._metrics.timed_encoder(tagger.tag_prepared), prepared.work, prepared.metas
        )
        return await self.write_tagged(prepared, tagged, tagger)

    async def _prepare(
        self, items: Sequence[IngestItem], tagger: Tagger, seen: set[str]
    ) -> Prepared:
        """Decode, validate, drop what is already stored (by content hash), then do the CPU
        work around the encoder (pixels, colour) — off the event loop."""
        if len(items) > MAX_BATCH:
            raise InvalidInput(f"at most {MAX_BATCH} images per ingest batch")
        decoded = await asyncio.to_thread(decode_all, items, DecodeLimits())
        names = [item.name for item in items]
        outcomes, fresh = triage(
            names, [d if isinstance(d, Rejected) else d[0].sha256 for d in decoded], seen
        )
        # A thumbnail for every decoded asset of the batch (put-if-absent): new ones, and stored
        # assets that have none yet (ingesting a file again back-fills its thumbnail).
        images = {
            a: d[0].image for a, i in fresh.items() if not isinstance(d := decoded[i], Rejected)
        }
        if images:
            thumbs = await asyncio.to_thread(make_thumbnails, list(images.values()))
            await self.keep_thumbnails(list(zip(images, thumbs, strict=True)))
        resume = await self.skip_stored(names, outcomes, fresh)
        order = list(fresh.items())
        seen.update(fresh)
        pairs: list[tuple[DecodedImage, AssetMetadata]] = [
            p for _, i in order if not isinstance(p := decoded[i], Rejected)
        ]
        work = await asyncio.to_thread(tagger.prepare, [d.image for d, _ in pairs])
        return Prepared(
            names=names,
            outcomes=outcomes,
            order=order,
            facts=[ImageFacts.of(d) for d, _ in pairs],
            metas=[m for _, m in pairs],
            resume=resume,
            work=work,
        )

    async def write_tagged(
        self, prepared: Prepared, tagged: list[TaggedImage], tagger: Tagger
    ) -> list[IngestOutcome]:
        """Events and documents of the tagged assets in bulk; every item's outcome, in order."""
        names, order, outcomes = prepared.names, prepared.order, prepared.outcomes
        at = utc_now()
        version = tagger.taxonomy.version
        new_assets = []
        for (asset_id, _), image, meta, result in zip(
            order, prepared.facts, prepared.metas, tagged, strict=True
        ):
            events = tuple(
                model_event(asset_id, n, d, at, seq=1) for n, d in enumerate(result.decisions)
            )
            document = base_document(
                asset_id,
                image,
                meta,
                result,
                model_fingerprint=tagger.model_fingerprint,
                untrained=tagger.encoder.untrained,
                taxonomy_version=version,
                at=at,
            )
            new_assets.append(
                NewAsset(
                    asset_id=asset_id,
                    document=document,
                    events=events,
                    resume=prepared.resume.get(asset_id),
                )
            )
        writes = await self._assets.create_many(new_assets)
        for (asset_id, i), write in zip(order, writes, strict=True):
            name = names[i]
            if write.status == "created":
                outcomes[i] = IngestOutcome(
                    name=name, status="created", asset_id=asset_id, asset=_asset(write.document)
                )
            elif write.status == "exists":
                outcomes[i] = IngestOutcome(name=name, status="exists", asset_id=asset_id)
            else:
                outcomes[i] = IngestOutcome(
                    name=name,
                    status="failed",
                    asset_id=asset_id,
                    error=f"{name}: store write failed: {write.error}",
                )
        done = [o for o in outcomes if o is not None]
        self._metrics.ingested(o.status for o in done)
        return done


@dataclass
class Prepared:
    """A batch ready for the encoder: what to tag, and the outcomes already known."""

    names: list[str]
    outcomes: list[IngestOutcome | None]
    order: list[tuple[str, int]]  # (asset_id, item index) of assets to tag, in batch order
    facts: list[ImageFacts]
    metas: list[AssetMetadata]
    resume: dict[str, StoredAsset]  # revision-0 documents a crashed ingest left untagged
    work: PreparedImages  # pixel tensors + colour analysis of the assets to tag


def triage(
    names: Sequence[str], results: Sequence[str | Rejected], seen: set[str]
) -> tuple[list[IngestOutcome | None], dict[str, int]]:
    """Outcomes of rejected items and of repeats (in this batch or an earlier one), and the
    first occurrence of every other asset id (``results``: asset id or rejection)."""
    outcomes: list[IngestOutcome | None] = [None] * len(names)
    fresh: dict[str, int] = {}  # asset_id -> index of its first occurrence in this batch
    for i, result in enumerate(results):
        if isinstance(result, Rejected):
            outcomes[i] = IngestOutcome(name=names[i], status=result.status, error=result.message)
        elif result in fresh or result in seen:
            outcomes[i] = IngestOutcome(name=names[i], status="exists", asset_id=result)
        else:
            fresh[result] = i
    return outcomes, fresh


def _asset(document: dict[str, Any] | None) -> Asset | None:
    return None if document is None else asset_of(document)
