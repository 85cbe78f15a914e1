"""Serving the thumbnails kept at ingest.

A thumbnail never changes for an asset id (the id is the hash of the original's bytes and the
thumbnail is created put-if-absent), so each server keeps the ones it served lately in a
small LRU (``TAGTRAIL_THUMBNAIL_CACHE_MB``) and answers repeats without asking OpenSearch.
"""

from __future__ import annotations

from collections import OrderedDict

from tagtrail.domain.limits import check_id
from tagtrail.errors import NotFound
from tagtrail.usecases.services import Services
from tagtrail.vision.thumbnail import Thumbnail

__all__ = ["Thumbnail", "ThumbnailCache", "get_thumbnail"]


class ThumbnailCache:
    """Least-recently-used thumbnails, bounded by their total size in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[str, Thumbnail] = OrderedDict()

    def get(self, asset_id: str) -> Thumbnail | None:
        found = self._items.get(asset_id)
        if found is not None:
            self._items.move_to_end(asset_id)
        return found

    def put(self, asset_id: str, thumbnail: Thumbnail) -> None:
        if len(thumbnail.data) > self.max_bytes or asset_id in self._items:
            return
        self._items[asset_id] = thumbnail
        self.size += len(thumbnail.data)
        while self.size > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.size -= len(dropped.data)


async def get_thumbnail(services: Services, asset_id: str) -> Thumbnail:
    """The asset's thumbnail; NotFound (saying why) when the asset or its thumbnail is missing."""
    if not asset_id.strip():
        raise NotFound("assetId is empty")
    check_id(asset_id, "assetId")
    cache = services.component(
        "thumbnail_cache", lambda: ThumbnailCache(services.settings.thumbnail_cache_mb << 20)
    )
    thumbnail = cache.get(asset_id)
    if thumbnail is not None:
        return thumbnail
    thumbnail = await services.store.thumbnails.get(asset_id)
    if thumbnail is not None:
        cache.put(asset_id, thumbnail)
        return thumbnail
    (doc,) = await services.store.assets.get_many([asset_id])
    if doc is None:
        raise NotFound(f"no asset {asset_id!r}")
    raise NotFound(
        f"asset {asset_id!r} has no thumbnail yet (ingested before thumbnails were kept); "
        "ingest its file again to back-fill it"
    )
