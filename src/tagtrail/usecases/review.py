"""Reviewer decisions: confirm, reject, correct or reopen (undo) one attribute, on one asset
or many.

Every decision is optimistic: the caller names the revision it decided on; a stale one is a
Conflict with the current revision, and nothing is written. The answer carries the asset at
its new revision (read-your-own-write without waiting for a search refresh).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import msgspec

from tagtrail.domain.asset import Asset
from tagtrail.domain.decisions import Decision, build_decision, check_decision, current_tag
from tagtrail.domain.limits import check_id
from tagtrail.domain.projection import decision_in_force, without_decision
from tagtrail.domain.records import HUMAN_STATES, Tag, TagEvent
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.domain.taxonomy.dependencies import dependents, remap_dependents
from tagtrail.errors import InvalidInput, NotFound, TagtrailError
from tagtrail.store import Store, StoredAsset
from tagtrail.usecases.metrics import Metrics
from tagtrail.usecases.taxonomy_in_force import TaxonomyInForce
from tagtrail.usecases.undo_carry import carried_forward

BULK_CONCURRENCY = 8


class Decided(msgspec.Struct, kw_only=True, frozen=True):
    asset: Asset  # at its new revision
    event: TagEvent


class Review:
    """Reviewer decisions, written against the taxonomy in force."""

    def __init__(
        self, store: Store, taxonomy: TaxonomyInForce, metrics: Metrics, *, max_bulk_assets: int
    ) -> None:
        self._store = store
        self._taxonomy = taxonomy
        self._metrics = metrics
        self._max_bulk_assets = max_bulk_assets

    async def decide(
        self, asset_id: str, expected_revision: int, decision: Decision, actor: str
    ) -> Decided:
        """One decision, counted in the review metrics by kind and outcome."""
        try:
            decided = await self._decide(asset_id, expected_revision, decision, actor)
        except Exception as exc:
            self._metrics.decided(decision.kind, exc)
            raise
        self._metrics.decided(decision.kind)
        return decided

    async def _decide(
        self, asset_id: str, expected_revision: int, decision: Decision, actor: str
    ) -> Decided:
        if not asset_id or not asset_id.strip():
            raise NotFound("assetId is empty")
        check_id(asset_id, "assetId")
        check_decision(decision)
        taxonomy = await self._taxonomy.current()
        taxonomy.attribute(decision.attribute)  # unknown → InvalidInput, before any read
        # The decision's one read of the asset: what it undoes, the machine tags that follow it
        # and the write itself all build on it (a stale revision: Conflict, nothing else read).
        stored = await self._store.assets.for_write(asset_id, expected_revision)
        restore, undone = None, None
        if decision.kind == "reopened":
            restore, undone = await self._without_decision_in_force(
                stored, decision.attribute, decision.slot
            )
            if restore is not None:  # also through the applies that moved none of its values
                restore = await carried_forward(self._store, restore, taxonomy)
        # Rules test an attribute's primary value: further values of a multi-valued one move none.
        primary = decision.slot is None and not decision.add
        machine = (
            await self._dependent_events(stored.record(), taxonomy, decision.attribute)
            if primary
            else {}
        )

        def build(stored: StoredAsset) -> list[TagEvent]:
            current = stored.record()
            event = build_decision(
                decision,
                asset=current,
                actor_id=actor,
                taxonomy=taxonomy,
                restore=restore,
            )
            # Machine tags whose mapping rule tests this attribute follow the human value, in
            # the same revision (re-mapped from their stored raw label; no model run).
            return [event, *remap_dependents(taxonomy, current, event, machine)]

        asset, events = await self._apply_in_force(stored, taxonomy, build)
        if undone is not None:
            # An undone answer no longer answers its audit: back to the round's queue.
            await self._store.audits.reopen_answered_by([undone])
        return Decided(asset=asset, event=events[0])

    async def _apply_in_force(
        self,
        stored: StoredAsset,
        taxonomy: Taxonomy,
        build: Callable[[StoredAsset], list[TagEvent]],
    ) -> tuple[Asset, list[TagEvent]]:
        """Write ``build``'s events, validated against ``taxonomy`` — unless the stored asset
        was carried into a version this server has not followed yet (the refresh window after
        an apply): then Conflict naming the version in force, and nothing is written."""
        keeper = self._taxonomy
        carried = stored.source.get("taxonomy_version")
        if not keeper.follows(carried, taxonomy):
            await keeper.confirm(str(carried), taxonomy)  # an older version, or Conflict
        apply = self._store.assets.apply
        return await apply(stored.asset_id, stored.revision, build, stored=stored)

    async def _without_decision_in_force(
        self, stored: StoredAsset, attribute: str, slot: str | None
    ) -> tuple[Tag | None, str | None]:
        """The tag as it stood before the decision in force, carried through the migrations
        since (what an undo returns to), and that decision's event id. History is read only up
        to the asset's stored revision: a caller's number never sizes a read."""
        asset_id = stored.asset_id
        history = await self._store.events.history({asset_id: stored.revision})
        events = [
            e for e in history.get(asset_id, ()) if e.attribute == attribute and e.slot == slot
        ]
        decision = decision_in_force(events)
        if decision is None:
            return None, None  # build_decision says why nothing can be reopened
        return without_decision(events, decision.event_id), decision.event_id

    async def _dependent_events(
        self, asset: Asset, taxonomy: Taxonomy, attribute: str
    ) -> dict[str, TagEvent]:
        """The model events behind the machine tags whose rules test ``attribute`` (by id)."""
        wanted: dict[str, str] = {}
        for name in dependents(taxonomy, attribute, asset.brand):
            tag = current_tag(asset, name)
            if tag is not None and tag.state not in HUMAN_STATES:
                wanted[name] = tag.event_id
        found = await self._store.events.get_many(list(wanted.values()))
        return {
            name: event
            for name, event_id_ in wanted.items()
            if (event := found.get(event_id_)) is not None and event.kind == "model_tagged"
        }

    async def decide_many(
        self,
        items: Sequence[tuple[str, int, str | None]],
        decision: Decision,
        actor: str,
    ) -> list[Decided | TagtrailError]:
        """The same decision on many assets (``(asset id, expected revision, slot)``: the slot of
        a further value, or None); one result (or expected error) per item, in order."""
        limit = self._max_bulk_assets
        if not 1 <= len(items) <= limit:
            raise InvalidInput(
                f"items must hold 1..{limit} assets (TAGTRAIL_MAX_BULK_ASSETS)", field="items"
            )
        check_decision(decision)  # once for all: a bad note is one answer, not one per item
        ids = [i for i, _, _ in items]
        if len(set(ids)) != len(ids):
            # Two values of one asset would race for its next revision: one would conflict.
            raise InvalidInput("an asset appears twice in items", field="items")
        gate = asyncio.Semaphore(BULK_CONCURRENCY)

        async def one(asset_id: str, revision: int, slot: str | None) -> Decided | TagtrailError:
            async with gate:
                try:
                    chosen = msgspec.structs.replace(decision, slot=slot)
                    return await self.decide(asset_id, revision, chosen, actor)
                except TagtrailError as exc:
                    return exc

        return list(await asyncio.gather(*(one(a, r, s) for a, r, s in items)))
