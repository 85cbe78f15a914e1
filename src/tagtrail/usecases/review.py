"""Reviewer decisions: confirm, reject, correct or reopen (undo) one attribute, on one asset
or many.

Every decision is optimistic: the caller names the revision it decided on; a stale one is a
Conflict with the current revision, and nothing is written. The answer carries the asset at
its new revision (read-your-own-write without waiting for a search refresh).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from tagtrail.domain.decisions import Decision, build_decision, check_decision, current_tag
from tagtrail.domain.limits import check_id
from tagtrail.domain.projection import decision_in_force, without_decision
from tagtrail.domain.records import HUMAN_STATES, Tag, TagEvent
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.domain.taxonomy.dependencies import dependents, remap_dependents
from tagtrail.errors import Conflict, InvalidInput, NotFound, TagtrailError
from tagtrail.store import StoredAsset
from tagtrail.usecases.services import Services
from tagtrail.usecases.undo_carry import carried_forward

BULK_CONCURRENCY = 8


class Decided(msgspec.Struct, kw_only=True, frozen=True):
    asset: dict[str, Any]  # the document at its new revision, without the vector
    event: TagEvent


async def decide(
    services: Services, asset_id: str, expected_revision: int, decision: Decision, actor: str
) -> Decided:
    """One decision, counted in the review metrics by kind and outcome."""
    try:
        decided = await _decide(services, asset_id, expected_revision, decision, actor)
    except Exception as exc:
        services.metrics.decided(decision.kind, exc)
        raise
    services.metrics.decided(decision.kind)
    return decided


async def _decide(
    services: Services, asset_id: str, expected_revision: int, decision: Decision, actor: str
) -> Decided:
    if not asset_id or not asset_id.strip():
        raise NotFound("assetId is empty")
    check_id(asset_id, "assetId")
    check_decision(decision)
    taxonomy = await services.taxonomy()
    taxonomy.attribute(decision.attribute)  # unknown → InvalidInput, before any read
    restore, undone = None, None
    if decision.kind == "reopened":
        restore, undone = await _without_decision_in_force(
            services, asset_id, expected_revision, decision.attribute, decision.slot
        )
        if restore is not None:  # also through the applies that moved none of its values
            restore = await carried_forward(services.store, restore, taxonomy)
    # Rules test an attribute's primary value: further values of a multi-valued one move none.
    primary = decision.slot is None and not decision.add
    machine = (
        await _dependent_events(services, asset_id, expected_revision, decision.attribute)
        if primary
        else {}
    )

    def build(stored: StoredAsset) -> list[TagEvent]:
        event = build_decision(
            decision,
            asset_id=asset_id,
            source=stored.source,
            revision=stored.revision,
            actor_id=actor,
            taxonomy=taxonomy,
            restore=restore,
        )
        # Machine tags whose mapping rule tests this attribute follow the human value, in
        # the same revision (re-mapped from their stored raw label; no model run).
        return [event, *remap_dependents(taxonomy, stored.source, event, machine)]

    source, events = await _apply_in_force(services, asset_id, expected_revision, taxonomy, build)
    if undone is not None:
        # An undone answer no longer answers its audit: back to the round's queue.
        await services.store.audits.reopen_answered_by([undone])
    return Decided(asset=source, event=events[0])


async def _apply_in_force(
    services: Services,
    asset_id: str,
    revision: int,
    taxonomy: Taxonomy,
    build: Callable[[StoredAsset], list[TagEvent]],
) -> tuple[dict[str, Any], list[TagEvent]]:
    """Write ``build``'s events, validated against ``taxonomy`` — unless the stored asset
    was carried into a version this server has not followed yet (the refresh window after
    an apply): then Conflict naming the version in force, and nothing is written."""
    keeper = services.taxonomy_in_force
    unconfirmed: list[str] = []
    confirmed: set[str] = set()

    def checked(stored: StoredAsset) -> list[TagEvent]:
        carried = stored.source.get("taxonomy_version")
        if carried in confirmed or keeper.follows(carried, taxonomy):
            return build(stored)
        unconfirmed.append(str(carried))  # write nothing until the pointer says (below)
        return []

    apply = services.store.assets.apply
    source, events = await apply(asset_id, revision, checked)
    if unconfirmed:  # an older version, or Conflict when this server is behind
        await keeper.confirm(unconfirmed[0], taxonomy)
        confirmed.add(unconfirmed[0])
        source, events = await apply(asset_id, revision, checked)
    if not events:  # carried into yet another version meanwhile
        raise Conflict(
            f"asset {asset_id!r} moved to taxonomy {unconfirmed[-1]} meanwhile: "
            "reload it and try again"
        )
    return source, events


async def _without_decision_in_force(
    services: Services, asset_id: str, revision: int, attribute: str, slot: str | None
) -> tuple[Tag | None, str | None]:
    """The tag as it stood before the decision in force, carried through the migrations
    since (what an undo returns to), and that decision's event id. History is read only up
    to the asset's stored revision, and only once the caller's revision is that one: a
    caller's number never sizes a read (a missing asset is NotFound, another revision a
    Conflict)."""
    stored = await services.store.assets.get(asset_id)
    if stored.revision != revision:
        raise Conflict(
            f"asset {asset_id!r} is at revision {stored.revision}, not {revision}; "
            "reload it and try again",
            current_revision=stored.revision,
        )
    history = await services.store.events.history({asset_id: stored.revision})
    events = [e for e in history.get(asset_id, ()) if e.attribute == attribute and e.slot == slot]
    decision = decision_in_force(events)
    if decision is None:
        return None, None  # build_decision says why nothing can be reopened
    return without_decision(events, decision.event_id), decision.event_id


async def _dependent_events(
    services: Services, asset_id: str, revision: int, attribute: str
) -> dict[str, TagEvent]:
    """The model events behind the machine tags whose rules test ``attribute`` (by id)."""
    taxonomy = await services.taxonomy()
    brands = (None, *(b.id for b in taxonomy.brands))
    if not any(dependents(taxonomy, attribute, b) for b in brands):
        return {}  # no rule tests this attribute: nothing to read
    stored = await services.store.assets.get(asset_id)
    if stored.revision != revision:
        return {}  # the write will answer Conflict
    out: dict[str, TagEvent] = {}
    for name in dependents(taxonomy, attribute, stored.source.get("brand")):
        tag = current_tag(stored.source, name)
        if tag is None or tag.state in HUMAN_STATES:
            continue
        event = await services.store.events.get(tag.event_id)
        if event is not None and event.kind == "model_tagged":
            out[name] = event
    return out


async def decide_many(
    services: Services,
    items: Sequence[tuple[str, int, str | None]],
    decision: Decision,
    actor: str,
) -> list[Decided | TagtrailError]:
    """The same decision on many assets (``(asset id, expected revision, slot)``: the slot of
    a further value, or None); one result (or expected error) per item, in order."""
    limit = services.settings.max_bulk_assets
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
                return await decide(services, asset_id, revision, chosen, actor)
            except TagtrailError as exc:
                return exc

    return list(await asyncio.gather(*(one(a, r, s) for a, r, s in items)))
