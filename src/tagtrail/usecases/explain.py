"""explainTag's data: the asset now, its history for the attribute, and exemplars."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from tagtrail.domain.limits import check_id, check_value
from tagtrail.domain.records import TagEvent
from tagtrail.errors import NotFound
from tagtrail.store.queries import exemplar_filter
from tagtrail.usecases.search import nearest
from tagtrail.usecases.services import Services

MAX_EXEMPLARS = 50


class Explanation(msgspec.Struct, kw_only=True, frozen=True):
    asset: dict[str, Any]  # the document (no vector)
    vector: list[float] | None
    events: list[TagEvent]  # this attribute's history, in order


async def explain(services: Services, asset_id: str, attribute: str) -> Explanation:
    if not asset_id or not asset_id.strip():
        raise NotFound("assetId is empty")
    check_id(asset_id, "assetId")
    check_value(attribute, "attribute")
    (await services.taxonomy()).attribute(attribute)  # unknown attribute → InvalidInput
    stored = await services.store.assets.get(asset_id)
    history = await services.store.events.history({asset_id: stored.revision})
    return Explanation(
        asset=stored.public_source(),
        vector=stored.source.get("vector"),
        events=[e for e in history[asset_id] if e.attribute == attribute],
    )


async def history(services: Services, revisions: dict[str, int]) -> dict[str, list[TagEvent]]:
    """Whole histories of these assets (up to the given revisions), in order."""
    return await services.store.events.history(revisions)


async def exemplars(
    services: Services, vector: Sequence[float], attribute: str, asset_id: str, k: int
) -> list[dict[str, Any]]:
    """The k nearest assets whose value of ``attribute`` a human confirmed or corrected."""
    return await nearest(services, vector, k, exemplar_filter(attribute, asset_id))
