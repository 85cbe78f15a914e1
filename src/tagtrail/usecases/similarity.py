"""The query vector of a similarity search: a stored asset's, a text's or a photo's."""

from __future__ import annotations

import asyncio

from tagtrail.domain.limits import check_id
from tagtrail.errors import InvalidInput, NotFound
from tagtrail.usecases.search import check_text
from tagtrail.usecases.services import Services
from tagtrail.vision.decode import decode_image

MAX_UPLOAD_BYTES = 25 * 1024 * 1024


async def vector_of_asset(services: Services, asset_id: str) -> list[float]:
    if not asset_id.strip():
        raise InvalidInput("assetId is empty", field="by.assetId")
    check_id(asset_id, "by.assetId")
    [vector] = await services.store.assets.vectors([asset_id])
    if vector is None:
        [source] = await services.store.assets.get_many([asset_id])
        if source is None:
            raise NotFound(f"asset {asset_id!r} does not exist")
        raise InvalidInput(f"asset {asset_id!r} has no vector yet", field="by.assetId")
    return list(vector)


async def vector_of_text(services: Services, text: str) -> list[float]:
    checked = check_text(text, field="by.text")
    if not checked:
        raise InvalidInput("text is empty", field="by.text")
    encoder = await services.encoder()
    vectors = await services.infer(encoder.encode_text, [checked])
    return [float(x) for x in vectors[0]]


async def vector_of_image(services: Services, data: bytes, name: str) -> list[float]:
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(f"image is larger than {MAX_UPLOAD_BYTES} bytes", field="by.image")
    encoder = await services.encoder()
    decoded = await asyncio.to_thread(decode_image, data, name=name)
    vectors = await services.infer(encoder.encode_images, [decoded.image])
    return [float(x) for x in vectors[0]]
