"""Serving the thumbnails kept at ingest.

A thumbnail never changes for an asset id (the id is the hash of the original's bytes and the
thumbnail is created put-if-absent), so each server keeps the ones it served lately in a
small LRU (``TAGTRAIL_THUMBNAIL_CACHE_MB``) and answers repeats without asking OpenSearch.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from tagtrail.domain.limits import check_id
from tagtrail.errors import NotFound
from tagtrail.store import AssetRepository, ThumbnailRepository
from tagtrail.vision.thumbnail import Thumbnail

__all__ = ["Thumbnail", "ThumbnailCache", "Thumbnails"]


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


class Thumbnails:
    def __init__(
        self, assets: AssetRepository, thumbnails: ThumbnailRepository, cache_bytes: int
    ) -> None:
        self._assets = assets
        self._thumbnails = thumbnails
        self._cache = ThumbnailCache(cache_bytes)

    async def get_many(self, asset_ids: Sequence[str]) -> list[Thumbnail | None]:
        """Thumbnails of known asset ids in their order (the cache, then one mget), None
        if none kept.

        For callers that already hold the assets (a GraphQL ``Asset.thumbnail`` loader): a
        page of 50 cards gets its pictures in the same answer instead of 50 more requests.
        """
        cache = self._cache
        found: list[Thumbnail | None] = [cache.get(i) for i in asset_ids]
        missing = [i for i, t in zip(asset_ids, found, strict=True) if t is None]
        fetched = dict(zip(missing, await self._thumbnails.get_many(missing), strict=True))
        for asset_id, thumbnail in fetched.items():
            if thumbnail is not None:
                cache.put(asset_id, thumbnail)
        return [
            t if t is not None else fetched.get(i) for i, t in zip(asset_ids, found, strict=True)
        ]

    async def get(self, asset_id: str) -> Thumbnail:
        """The asset's thumbnail; NotFound (saying why) when the asset or its thumbnail is
        missing."""
        if not asset_id.strip():
            raise NotFound("assetId is empty")
        check_id(asset_id, "assetId")
        cache = self._cache
        thumbnail = cache.get(asset_id)
        if thumbnail is not None:
            return thumbnail
        thumbnail = await self._thumbnails.get(asset_id)
        if thumbnail is not None:
            cache.put(asset_id, thumbnail)
            return thumbnail
        (doc,) = await self._assets.get_many([asset_id])
        if doc is None:
            raise NotFound(f"no asset {asset_id!r}")
        raise NotFound(
            f"asset {asset_id!r} has no thumbnail yet (ingested before thumbnails were kept); "
            "ingest its file again to back-fill it"
        )
