"""Many assets' next revisions in a few bulk requests (a taxonomy migration, a re-tag).

The same protocol as ``AssetRepository.apply``, batched: read the documents (healing any
cut-short write), build each asset's events at its next revision, claim the revisions
(event 0 of each, carrying the rest, put-if-absent, one bulk request), write the rest of the
claimed ones (one more), then the documents guarded by their seq_no (one more). An asset
whose revision moved or was claimed by another writer is a conflict, left for a later run;
a crash between claims and documents is healed by the next reader, as for a single write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tagtrail.domain.projection import projection_fields
from tagtrail.domain.records import TagEvent
from tagtrail.store.assets import AssetRepository
from tagtrail.store.claims import claimed_revision
from tagtrail.store.events import bulk_failures
from tagtrail.store.healing import StoredAsset

Build = Callable[[StoredAsset], Sequence[TagEvent]]


async def apply_batch(
    assets: AssetRepository, plans: Sequence[tuple[str, int, Build]]
) -> dict[str, str]:
    """``(asset_id, expected revision, build)`` each → "written", "unchanged", "conflict",
    "missing" or an error message."""
    if not plans:
        return {}
    stored = await assets.lookup([p[0] for p in plans], vectors=True)  # written back whole
    result: dict[str, str] = {}
    built: dict[str, list[TagEvent]] = {}
    for asset_id, expected, build in plans:
        doc = stored.get(asset_id)
        if doc is None:
            result[asset_id] = "missing"
        elif doc.revision != expected:
            result[asset_id] = "conflict"
        elif events := list(build(doc)):
            built[asset_id] = events
        else:
            result[asset_id] = "unchanged"
    # Each claim carries its revision's other events, so a reader can finish the revision;
    # a claim found stored exactly as sent is this call's own (a resent request), not a
    # conflict.
    mine = [claimed_revision(events)[0] for events in built.values()]
    claims = await assets.events.create_owned(mine, claims=mine)
    for asset_id, events in list(built.items()):
        if events[0].event_id not in claims.created:
            result[asset_id] = claims.failed.get(events[0].event_id, "conflict")
            del built[asset_id]
    await assets.fault("claimed")
    rest = await assets.events.create_many([e for ev in built.values() for e in ev[1:]])
    base_ids = [t.event_id for a in built for t in stored[a].tags()]
    terms = await assets.events.terms(base_ids)
    lines: list[Any] = []
    for asset_id, events in built.items():
        missing = [rest.failed[e.event_id] for e in events[1:] if e.event_id in rest.failed]
        if missing:  # the claim stands, with these in it: the next reader writes them
            result[asset_id] = f"event write failed: {missing[0]}"
            continue
        doc = stored[asset_id]
        fields = projection_fields(
            events, base=doc.tags(), base_terms=terms, base_revision=doc.revision
        )
        fields["updated_at"] = max(e.at for e in events)
        guard = {"if_seq_no": doc.seq_no, "if_primary_term": doc.primary_term}
        lines.append({"index": {"_index": assets.index, "_id": asset_id, **guard}})
        lines.append({**doc.source, **fields})
        result[asset_id] = "written"
    if lines:
        # 409: a reader rolled the document forward from the same events first.
        response = await assets.client.bulk(body=lines)
        for asset_id, error in bulk_failures(response, tolerate=frozenset({409})).items():
            result[asset_id] = f"document write failed: {error}"  # events stored: heals on read
    return result
