"""Serving the thumbnails kept at ingest."""

from __future__ import annotations

from tagtrail.domain.limits import check_id
from tagtrail.errors import NotFound
from tagtrail.usecases.services import Services
from tagtrail.vision.thumbnail import Thumbnail

__all__ = ["Thumbnail", "get_thumbnail"]


async def get_thumbnail(services: Services, asset_id: str) -> Thumbnail:
    """The asset's thumbnail; NotFound (saying why) when the asset or its thumbnail is missing."""
    if not asset_id.strip():
        raise NotFound("assetId is empty")
    check_id(asset_id, "assetId")
    thumbnail = await services.store.thumbnails.get(asset_id)
    if thumbnail is not None:
        return thumbnail
    (doc,) = await services.store.assets.get_many([asset_id])
    if doc is None:
        raise NotFound(f"no asset {asset_id!r}")
    raise NotFound(
        f"asset {asset_id!r} has no thumbnail yet (ingested before thumbnails were kept); "
        "ingest its file again to back-fill it"
    )
