"""The query vector of a similarity search: a stored asset's, a text's or a photo's."""

from __future__ import annotations

import asyncio

from tagtrail.domain.limits import check_id
from tagtrail.errors import InvalidInput, NotFound
from tagtrail.store import AssetRepository
from tagtrail.usecases.search import check_text
from tagtrail.usecases.tagger_provider import TaggerProvider
from tagtrail.usecases.workers import Worker
from tagtrail.vision.decode import decode_image

MAX_UPLOAD_BYTES = 25 * 1024 * 1024


class QueryVectors:
    """The query vector of a similarity search."""

    def __init__(self, assets: AssetRepository, tagging: TaggerProvider, inference: Worker) -> None:
        self._assets = assets
        self._tagging = tagging
        self._inference = inference

    async def of_asset(self, asset_id: str) -> list[float]:
        if not asset_id.strip():
            raise InvalidInput("assetId is empty", field="by.assetId")
        check_id(asset_id, "by.assetId")
        [vector] = await self._assets.vectors([asset_id])
        if vector is None:
            [source] = await self._assets.get_many([asset_id])
            if source is None:
                raise NotFound(f"asset {asset_id!r} does not exist")
            raise InvalidInput(f"asset {asset_id!r} has no vector yet", field="by.assetId")
        return list(vector)

    async def of_text(self, text: str) -> list[float]:
        checked = check_text(text, field="by.text")
        if not checked:
            raise InvalidInput("text is empty", field="by.text")
        encoder = await self._tagging.encoder()
        vectors = await self._inference.run(encoder.encode_text, [checked])
        return [float(x) for x in vectors[0]]

    async def of_image(self, data: bytes, name: str) -> list[float]:
        if len(data) > MAX_UPLOAD_BYTES:
            raise InvalidInput(f"image is larger than {MAX_UPLOAD_BYTES} bytes", field="by.image")
        encoder = await self._tagging.encoder()
        decoded = await asyncio.to_thread(decode_image, data, name=name)
        vectors = await self._inference.run(encoder.encode_images, [decoded.image])
        return [float(x) for x in vectors[0]]
