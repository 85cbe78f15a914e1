"""One uploaded photo (``POST /assets``): validated, batched with concurrent uploads, stored.

A second upload of the same bytes is answered with the stored asset (``exists``); when the
first upload of those bytes is still being tagged, the answer waits briefly for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import msgspec

from tagtrail.domain.asset import Asset
from tagtrail.domain.metadata import RawMetadata, parse_metadata
from tagtrail.errors import InvalidInput, StoreUnavailable
from tagtrail.store import AssetRepository
from tagtrail.usecases.batching import DynamicBatcher
from tagtrail.usecases.ingest import Ingest, IngestItem, IngestOutcome
from tagtrail.usecases.metrics import Metrics

EXISTS_WAIT_S = 5.0


class Uploaded(msgspec.Struct, kw_only=True, frozen=True):
    status: str  # created or exists
    asset: Asset


def parse_metadata_json(raw: str | None) -> RawMetadata | None:
    if not raw:
        return None
    try:
        metadata = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"metadata is not valid JSON: {exc}", field="metadata") from exc
    if not isinstance(metadata, dict):
        raise InvalidInput("metadata must be a JSON object", field="metadata")
    try:  # fail fast, naming the field, before the image is read and tagged
        parse_metadata(metadata)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field=f"metadata.{exc.field or ''}".rstrip(".")) from exc
    return metadata


class Uploads:
    """Single uploads, gathered with concurrent ones into shared forward passes."""

    def __init__(
        self, ingest: Ingest, assets: AssetRepository, metrics: Metrics, *, batch_size: int
    ) -> None:
        self._ingest = ingest
        self._assets = assets
        self._metrics = metrics
        self._batcher = DynamicBatcher(self._process, max_batch=batch_size)

    async def _process(self, items: Sequence[IngestItem]) -> list[IngestOutcome]:
        try:
            return await self._ingest.batch(items)
        except Exception:
            self._metrics.ingested(["failed"] * len(items))  # the whole batch failed
            raise

    async def upload(self, data: bytes, name: str, metadata: RawMetadata | None) -> Uploaded:
        if not data:
            raise InvalidInput(f"{name}: the image is empty", field="image")
        item = IngestItem(name=name, data=data, metadata=metadata)
        outcome = await self._batcher.submit(item)
        if outcome.status == "rejected":
            raise InvalidInput(outcome.error or f"{name}: rejected", field="image")
        if outcome.status == "failed" or outcome.asset_id is None:
            raise StoreUnavailable(outcome.error or f"{name}: could not be stored")
        if outcome.status == "created" and outcome.asset is not None:
            return Uploaded(status="created", asset=outcome.asset)
        return Uploaded(status="exists", asset=await self._tagged(outcome.asset_id))

    async def _tagged(self, asset_id: str) -> Asset:
        """The stored asset; waits (briefly) while a concurrent upload is still tagging it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EXISTS_WAIT_S
        delay = 0.01
        while True:
            stored = await self._assets.get(asset_id)
            if stored.revision > 0 or loop.time() >= deadline:
                return stored.record()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    async def close(self) -> None:
        await self._batcher.close()
