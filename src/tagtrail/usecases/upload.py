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
from tagtrail.usecases.batching import DynamicBatcher
from tagtrail.usecases.ingest import IngestItem, IngestOutcome, ingest
from tagtrail.usecases.services import Services

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


def uploads(services: Services) -> DynamicBatcher[IngestItem, IngestOutcome]:
    """The batcher that gathers concurrent uploads into shared forward passes."""

    async def process(items: Sequence[IngestItem]) -> list[IngestOutcome]:
        try:
            return await ingest(services, items)
        except Exception:
            services.metrics.ingested(["failed"] * len(items))  # the whole batch failed
            raise

    return services.component(
        "uploads", lambda: DynamicBatcher(process, max_batch=services.settings.batch_size)
    )


async def upload(
    services: Services, data: bytes, name: str, metadata: RawMetadata | None
) -> Uploaded:
    if not data:
        raise InvalidInput(f"{name}: the image is empty", field="image")
    outcome = await uploads(services).submit(IngestItem(name=name, data=data, metadata=metadata))
    if outcome.status == "rejected":
        raise InvalidInput(outcome.error or f"{name}: rejected", field="image")
    if outcome.status == "failed" or outcome.asset_id is None:
        raise StoreUnavailable(outcome.error or f"{name}: could not be stored")
    if outcome.status == "created" and outcome.asset is not None:
        return Uploaded(status="created", asset=outcome.asset)
    return Uploaded(status="exists", asset=await _tagged(services, outcome.asset_id))


async def _tagged(services: Services, asset_id: str) -> Asset:
    """The stored asset; waits (briefly) while a concurrent upload is still tagging it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + EXISTS_WAIT_S
    delay = 0.01
    while True:
        stored = await services.store.assets.get(asset_id)
        if stored.revision > 0 or loop.time() >= deadline:
            return stored.record()
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)
