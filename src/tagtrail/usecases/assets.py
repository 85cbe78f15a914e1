"""Reading assets by id (each read heals a write that was cut short)."""

from __future__ import annotations

from collections.abc import Sequence

from tagtrail.domain.asset import Asset
from tagtrail.domain.records import TagEvent
from tagtrail.store import AssetRepository, EventLog


class AssetReads:
    """Batched reads for the API's DataLoaders: one store request per batch."""

    def __init__(self, assets: AssetRepository, events: EventLog) -> None:
        self._assets = assets
        self._events = events

    async def assets(self, ids: Sequence[str]) -> list[Asset | None]:
        """The assets in order; None where one does not exist."""
        return await self._assets.get_many(ids)

    async def vectors(self, ids: Sequence[str]) -> list[list[float] | None]:
        return await self._assets.vectors(ids)

    async def histories(self, ids: Sequence[str]) -> list[list[TagEvent]]:
        """Whole tag histories, oldest first, including each asset's newest revision."""
        docs = await self.assets(ids)
        revisions = {i: a.revision for i, a in zip(ids, docs, strict=True) if a is not None}
        found = await self._events.history(revisions)
        return [found.get(i, []) for i in ids]
