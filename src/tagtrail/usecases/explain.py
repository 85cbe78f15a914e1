"""explainTag's data: the asset now, its history for the attribute, and exemplars."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from tagtrail.domain.asset import Asset, Hit
from tagtrail.domain.limits import check_id, check_value
from tagtrail.domain.records import Tag, TagEvent
from tagtrail.errors import NotFound
from tagtrail.store import AssetRepository, EventLog
from tagtrail.store.queries import exemplar_filter
from tagtrail.usecases.search import Search
from tagtrail.usecases.taxonomy_in_force import TaxonomyInForce

MAX_EXEMPLARS = 50


class Explanation(msgspec.Struct, kw_only=True, frozen=True):
    asset: Asset
    vector: list[float] | None
    events: list[TagEvent]  # this attribute's history, in order


class InForce(msgspec.Struct, kw_only=True, frozen=True):
    """The events behind the value in force of one attribute."""

    decision: TagEvent | None  # the event the effective tag comes from
    reviewed: TagEvent | None = None  # human decision in force: the machine decision before it
    proposal: TagEvent | None = None  # human decision in force: a newer model's proposal

    @property
    def machine(self) -> TagEvent | None:
        """The machine decision behind the value (the reviewed one for a human decision)."""
        if self.decision is not None and self.decision.kind == "model_tagged":
            return self.decision
        return self.reviewed


def in_force(events: Sequence[TagEvent], tag: Tag | None) -> InForce:
    """Which of an attribute's ``events`` (in fold order) explain its effective ``tag``.

    Not the newest event: after a re-tag of a human-decided tag the newest event is a model
    proposal the fold did not apply; the value in force is the human decision.
    """
    if tag is None:
        return InForce(decision=None)
    by_id = {e.event_id: e for e in events}
    decision = by_id.get(tag.event_id)
    if decision is None or decision.kind == "model_tagged":
        return InForce(decision=decision)
    before = [e for e in events[: events.index(decision)] if e.kind == "model_tagged"]
    return InForce(
        decision=decision,
        reviewed=before[-1] if before else None,
        proposal=by_id.get(tag.proposed_event_id) if tag.proposed_event_id else None,
    )


class Explain:
    """explainTag's reads."""

    def __init__(
        self, assets: AssetRepository, events: EventLog, taxonomy: TaxonomyInForce, search: Search
    ) -> None:
        self._assets = assets
        self._events = events
        self._taxonomy = taxonomy
        self._search = search

    async def explain(self, asset_id: str, attribute: str, slot: str | None = None) -> Explanation:
        if not asset_id or not asset_id.strip():
            raise NotFound("assetId is empty")
        check_id(asset_id, "assetId")
        check_value(attribute, "attribute")
        if slot is not None:
            check_value(slot, "slot")
        (await self._taxonomy.current()).attribute(attribute)  # unknown attribute → InvalidInput
        stored = await self._assets.get(asset_id)
        history = await self._events.history({asset_id: stored.revision})
        return Explanation(
            asset=stored.record(),
            vector=stored.source.get("vector"),
            events=[e for e in history[asset_id] if e.attribute == attribute and e.slot == slot],
        )

    async def history(self, revisions: dict[str, int]) -> dict[str, list[TagEvent]]:
        """Whole histories of these assets (up to the given revisions), in order."""
        return await self._events.history(revisions)

    async def exemplars(
        self, vector: Sequence[float], attribute: str, asset_id: str, k: int
    ) -> list[Hit]:
        """The k nearest assets whose value of ``attribute`` a human confirmed or corrected."""
        return await self._search.nearest(vector, k, exemplar_filter(attribute, asset_id))
