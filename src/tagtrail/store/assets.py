"""Asset documents and their append-only tag events in OpenSearch.

Write protocol (optimistic concurrency without losing or duplicating anything):

1. Every write that changes tags produces events with ``seq = revision + 1`` and
   deterministic ids ``<asset>:<seq>:<n>``. Event ``n = 0`` *claims* the revision: it is
   created with ``op_type=create``, so of two writers that read the same revision only
   one can create it; the other gets :class:`~tagtrail.errors.Conflict`.
2. The asset document is then rewritten from the fold of all its events, guarded by
   ``if_seq_no``/``if_primary_term``.

Re-running a write with the same ids is harmless (create is put-if-absent).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError

from tagtrail.config import Settings
from tagtrail.errors import Conflict, NotFound
from tagtrail.store.projection import projection_fields
from tagtrail.store.records import TagEvent

_EVENT_DECODER = msgspec.json.Decoder(TagEvent)
MAX_EVENTS_PER_ASSET = 10_000


class StoredAsset(msgspec.Struct, kw_only=True, frozen=True):
    asset_id: str
    source: dict[str, Any]
    seq_no: int
    primary_term: int

    @property
    def revision(self) -> int:
        return int(self.source.get("revision", 0))


class AssetStore:
    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self.client = client
        self.assets = settings.index_name("assets")
        self.events = settings.index_name("tag_events")

    # -- reads -------------------------------------------------------------------------
    async def get(self, asset_id: str, *, with_vector: bool = False) -> StoredAsset:
        excludes = None if with_vector else ["vector"]
        try:
            hit = await self.client.get(index=self.assets, id=asset_id, _source_excludes=excludes)
        except NotFoundError as exc:
            raise NotFound(f"asset {asset_id!r} does not exist") from exc
        return StoredAsset(
            asset_id=asset_id,
            source=hit["_source"],
            seq_no=hit["_seq_no"],
            primary_term=hit["_primary_term"],
        )

    async def exists(self, asset_id: str) -> bool:
        return bool(await self.client.exists(index=self.assets, id=asset_id))

    async def events_for(self, asset_id: str, attribute: str | None = None) -> list[TagEvent]:
        filters: list[dict[str, Any]] = [{"term": {"asset_id": asset_id}}]
        if attribute:
            filters.append({"term": {"attribute": attribute}})
        result = await self.client.search(
            index=self.events,
            body={
                "query": {"bool": {"filter": filters}},
                "size": MAX_EVENTS_PER_ASSET,
                "sort": [{"seq": "asc"}, {"at": "asc"}, {"event_id": "asc"}],
            },
            params={"preference": "_primary_first"},
        )
        return [msgspec.convert(h["_source"], TagEvent) for h in result["hits"]["hits"]]

    # -- writes ------------------------------------------------------------------------
    async def append_events(self, events: Sequence[TagEvent]) -> int:
        """Create events put-if-absent; the first one claims its revision (409 → Conflict).

        Returns how many were newly created (0 when all existed: an idempotent re-run).
        """
        if not events:
            return 0
        claim, rest = events[0], events[1:]
        created = 0
        try:
            await self.client.create(
                index=self.events, id=claim.event_id, body=msgspec.to_builtins(claim)
            )
            created += 1
        except ConflictError as exc:
            existing = await self.client.get(index=self.events, id=claim.event_id)
            if existing["_source"] != msgspec.json.decode(msgspec.json.encode(claim)):
                raise Conflict(
                    f"revision {claim.seq} of asset {claim.asset_id!r} was written concurrently",
                    current_revision=claim.seq,
                ) from exc
        if rest:
            body: list[Any] = []
            for event in rest:
                body.append({"create": {"_index": self.events, "_id": event.event_id}})
                body.append(msgspec.to_builtins(event))
            result = await self.client.bulk(body=body)
            for item in result["items"]:
                status = item["create"]["status"]
                if status == 201:
                    created += 1
                elif status != 409:
                    raise RuntimeError(f"event write failed: {item['create'].get('error')}")
        return created

    async def write_projection(
        self, stored: StoredAsset, fields: dict[str, Any], *, refresh: bool | str = "wait_for"
    ) -> dict[str, Any]:
        """Rewrite the event-derived ``fields`` of an asset, guarded by its seq_no."""
        source = {**stored.source, **fields}
        try:
            await self.client.index(
                index=self.assets,
                id=stored.asset_id,
                body=source,
                if_seq_no=stored.seq_no,
                if_primary_term=stored.primary_term,
                refresh=refresh,
            )
        except ConflictError as exc:
            raise Conflict(
                f"asset {stored.asset_id!r} changed while it was being written",
                current_revision=None,
            ) from exc
        return source

    async def apply(
        self,
        asset_id: str,
        expected_revision: int | None,
        new_events: Sequence[TagEvent],
        *,
        refresh: bool | str = "wait_for",
    ) -> dict[str, Any]:
        """Append ``new_events`` (seq = revision + 1) and refresh the projection."""
        stored = await self.get(asset_id, with_vector=True)
        if expected_revision is not None and stored.revision != expected_revision:
            raise Conflict(
                f"asset {asset_id!r} is at revision {stored.revision}, not "
                f"{expected_revision}; reload it and try again",
                current_revision=stored.revision,
            )
        await self.append_events(new_events)
        # Search is near-real-time: make every event of this asset visible before folding.
        await self.client.indices.refresh(index=self.events)
        events = await self.events_for(asset_id)
        known = {e.event_id for e in events}
        events.extend(e for e in new_events if e.event_id not in known)  # not yet refreshed
        return await self.write_projection(stored, projection_fields(events), refresh=refresh)

    async def rebuild(self, asset_id: str, *, refresh: bool | str = False) -> bool:
        """Recompute an asset's tags from its events; True if the document changed.

        Reads events by search: callers refresh the events index first (once, not per asset).
        """
        stored = await self.get(asset_id, with_vector=True)
        fields = projection_fields(await self.events_for(asset_id))
        if all(stored.source.get(k) == v for k, v in fields.items()):
            return False
        await self.write_projection(stored, fields, refresh=refresh)
        return True
