"""Thumbnails (``<prefix>-thumbnails``): one small WebP per asset, id = the asset id.

A separate index rather than a field of the asset document: search hits, the review queue
and asset reindexing never carry image bytes, and a thumbnail is written once (put-if-absent)
while asset documents are rewritten at every decision.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import NotFoundError

from tagtrail.config import Settings
from tagtrail.domain.records import utc_now
from tagtrail.store.events import bulk_failures, bulk_lines
from tagtrail.vision.thumbnail import Thumbnail

log = logging.getLogger(__name__)


class ThumbnailRepository:
    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self.client = client
        self.index = settings.index_name("thumbnails")

    async def put_many(self, items: Sequence[tuple[str, Thumbnail]]) -> int:
        """Store ``(asset_id, thumbnail)`` pairs put-if-absent; returns how many were new.

        One that exists is kept (the same bytes give the same thumbnail). A failed item is
        logged, never raised: a missing thumbnail shows a placeholder and is back-filled by
        ingesting the file again.
        """
        if not items:
            return 0
        at = utc_now()
        docs = [
            (
                asset_id,
                {
                    "asset_id": asset_id,
                    "etag": t.etag,
                    "media_type": t.media_type,
                    "width": t.width,
                    "height": t.height,
                    "byte_size": len(t.data),
                    "created_at": at,
                    "data": base64.b64encode(t.data).decode("ascii"),
                },
            )
            for asset_id, t in items
        ]
        response = await self.client.bulk(body=bulk_lines(self.index, "create", docs))
        failed = bulk_failures(response, tolerate=frozenset({409}))
        for asset_id, error in failed.items():
            log.warning("thumbnail of %s not stored: %s", asset_id, error)
        return sum(
            1 for item in response.get("items", ()) if item.get("create", {}).get("status") == 201
        )

    async def get(self, asset_id: str) -> Thumbnail | None:
        """The stored thumbnail (a real-time get: no refresh needed), or None."""
        try:
            hit = await self.client.get(index=self.index, id=asset_id)
        except NotFoundError:
            return None
        return _thumbnail(hit["_source"])

    async def get_many(self, asset_ids: Sequence[str]) -> list[Thumbnail | None]:
        """The stored thumbnails in ``asset_ids``' order (one real-time mget), None where absent."""
        if not asset_ids:
            return []
        response = await self.client.mget(index=self.index, body={"ids": list(asset_ids)})
        return [_thumbnail(d["_source"]) if d.get("found") else None for d in response["docs"]]


def _thumbnail(source: dict[str, Any]) -> Thumbnail:
    return Thumbnail(
        data=base64.b64decode(source["data"]),
        media_type=source["media_type"],
        width=int(source["width"]),
        height=int(source["height"]),
        etag=source["etag"],
    )
