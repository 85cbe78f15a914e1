"""Reading assets by id (each read heals a write that was cut short)."""

from __future__ import annotations

from collections.abc import Sequence

from tagtrail.domain.asset import Asset
from tagtrail.domain.records import TagEvent
from tagtrail.usecases.services import Services


async def get_assets(services: Services, ids: Sequence[str]) -> list[Asset | None]:
    """The assets in order; None where one does not exist."""
    return await services.store.assets.get_many(ids)


async def get_vectors(services: Services, ids: Sequence[str]) -> list[list[float] | None]:
    return await services.store.assets.vectors(ids)


async def get_histories(services: Services, ids: Sequence[str]) -> list[list[TagEvent]]:
    """Whole tag histories, oldest first, including each asset's newest revision."""
    docs = await get_assets(services, ids)
    revisions = {i: a.revision for i, a in zip(ids, docs, strict=True) if a is not None}
    found = await services.store.events.history(revisions)
    return [found.get(i, []) for i in ids]
