"""Asset documents: the projection of each asset's events, kept healed.

Write protocol (optimistic, and it never wedges):

1. A writer reads the asset at revision N (its document, with ``seq_no``), builds the
   events of revision N+1 and appends them to the event log; event 0 *claims* N+1, so of two
   writers only one gets it (the other: Conflict).
2. It then rewrites the document as the fold of the stored tags plus the new events,
   guarded by ``if_seq_no``/``if_primary_term``.

If anything fails between 1 and 2 (a crash, a timeout, the store going away), the claim of
N+1 exists while the document says N; the next reader or writer finishes the revision from
its claim and rolls the document forward (:mod:`.healing`), so the next ``expectedRevision``
a client is told always works and no recorded decision is lost. Ingest creates the document
first (revision 0, put-if-absent: the first upload of these bytes wins) and then the
revision-1 events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from tagtrail.domain.asset import Asset, asset_of
from tagtrail.domain.projection import projection_fields
from tagtrail.domain.records import TagEvent
from tagtrail.errors import Conflict
from tagtrail.store.healing import HEAL_ROUNDS, HealingReads, StoredAsset
from tagtrail.store.ingest_writes import IngestWrite, IngestWriter, NewAsset

__all__ = ["AssetRepository", "IngestWrite", "NewAsset", "StoredAsset"]


class AssetRepository(HealingReads):
    """Writes of asset documents (reads, each healing: :class:`~.healing.HealingReads`)."""

    async def for_write(self, asset_id: str, expected_revision: int | None) -> StoredAsset:
        """The asset a write at ``expected_revision`` builds on, in one read when the caller
        names the stored revision. A cut-short write (its claim stands, the document is one
        revision behind) is rolled forward first only where it matters: when the caller
        names a newer revision than the document's, or names none (the write then builds on
        whatever is current); otherwise the write's own claim meets it (:meth:`apply`)."""
        if expected_revision is None:
            return await self.get(asset_id)
        stored = await self.read(asset_id)
        if expected_revision > stored.revision:
            stored = await self.get(asset_id)
        if stored.revision != expected_revision:
            raise Conflict(
                f"asset {asset_id!r} is at revision {stored.revision}, not "
                f"{expected_revision}; reload it and try again",
                current_revision=stored.revision,
            )
        return stored

    async def apply(
        self,
        asset_id: str,
        expected_revision: int | None,
        build: Callable[[StoredAsset], Sequence[TagEvent]],
        *,
        stored: StoredAsset | None = None,
    ) -> tuple[Asset, list[TagEvent]]:
        """Append the events ``build`` makes for the asset's next revision.

        Returns the asset at its new revision and the events written; an empty build
        writes nothing. Raises Conflict, with the current revision, when the caller's
        ``expected_revision`` is stale or another writer took the revision first. ``stored``:
        the asset as the caller already read it with :meth:`for_write` (not read again).
        """
        if stored is None:
            stored = await self.for_write(asset_id, expected_revision)
        events = list(build(stored))
        if not events:
            return stored.record(), []
        try:
            await self.events.claim(events)
        except Conflict as exc:
            # Another writer, or a cut-short write this read did not finish: finish it.
            now = await self.get(asset_id)
            raise Conflict(exc.message, current_revision=now.revision) from exc
        await self.fault("claimed")
        await self.events.finish_revision(events)
        await self.fault("events_written")
        fields = await self.advance(stored, events)
        try:
            source = await self.write(stored, fields)
        except Conflict:
            # A reader rolled our revision forward first: the document already holds it.
            source = (await self.get(asset_id)).source
        return asset_of(source), events

    async def create_many(self, assets: Sequence[NewAsset]) -> list[IngestWrite]:
        """Ingest's write: documents put-if-absent, then their events, then the projection,
        in three bulk requests for the whole batch (:mod:`.ingest_writes`)."""
        return await IngestWriter(self).write(assets)

    async def rebuild(self, asset_id: str, events: Sequence[TagEvent]) -> bool:
        """Rewrite the asset as the fold of ``events`` (its whole history); True if changed.

        Safe while reviewers work: the write is guarded by the document's seq_no, and a
        history that is older than the document (search not yet refreshed) is not written.
        """
        for _ in range(HEAL_ROUNDS):
            stored = await self.get(asset_id)
            fields = projection_fields(events)
            if fields["revision"] < stored.revision:
                return False  # the caller's history is behind: it re-reads and calls again
            if all(stored.source.get(k) == v for k, v in fields.items()):
                return False
            try:
                await self.write(stored, fields)
            except Conflict:
                continue
            return True
        raise Conflict(f"asset {asset_id!r} kept changing while it was rebuilt")

    async def reproject(self, asset_id: str) -> bool:
        """Rebuild one asset from its whole stored history; True if the document changed."""
        for _ in range(HEAL_ROUNDS):
            stored = await self.get(asset_id)
            history = await self.events.history({asset_id: stored.revision})
            if await self.rebuild(asset_id, history[asset_id]):
                return True
            if (await self.get(asset_id)).revision == stored.revision:
                return False
        return False

    # -- scans -------------------------------------------------------------------------
    async def scan(
        self, fields: Sequence[str] | None, *, page: int = 500
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Every asset document (``fields`` of it; None: ids only), in id order, by pages.

        The next page is asked for while the caller works on this one, so OpenSearch's
        reading overlaps the caller's planning and writing (a page's writes never change the
        pages after it: they are other assets).
        """

        async def fetch(after: list[Any] | None) -> list[dict[str, Any]]:
            body: dict[str, Any] = {
                "size": page,
                "sort": [{"asset_id": "asc"}],
                "_source": list(fields) if fields is not None else ["asset_id"],
            }
            if after:
                body["search_after"] = after
            hits: list[dict[str, Any]] = (await self.client.search(index=self.index, body=body))[
                "hits"
            ]["hits"]
            return hits

        pending = asyncio.ensure_future(fetch(None))
        try:
            while True:
                hits = await pending
                if not hits:
                    return
                pending = asyncio.ensure_future(fetch(hits[-1]["sort"]))
                yield [h["_source"] for h in hits]
        finally:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending
