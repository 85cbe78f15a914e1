"""Ingest's write of a batch of new assets, in three bulk requests and four steps.

1. **Documents**, put-if-absent (revision 0): of two uploads of the same bytes the first
   create wins and the other is told ``exists``; a create refused because this very call's
   earlier try stored it (a resent request) counts as ours.
2. **Claims** of revision 1: for a document this call created, only this call can claim it
   (a crashed ingest is resumed only once its document is stale), so the claim and the rest
   of its events go in one bulk request. A resumed document is claimed on its own first: of
   two writers one claims it, the other is told ``exists``, and no event of the loser lands
   among the winner's.
3. **The rest** of the events of resumed documents.
4. **Projections**: each document rewritten as the fold of its events under ``if_seq_no``
   (a 409 means a reader already rolled it forward from the same events).

A failure of any step fails only its assets, each with its reason; what was stored heals on
the next read (:mod:`.healing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from tagtrail.domain.projection import projection_fields
from tagtrail.domain.records import TagEvent
from tagtrail.store.claims import claimed_revision
from tagtrail.store.events import bulk_failures, bulk_lines, stored_as_sent
from tagtrail.store.healing import HealingReads, StoredAsset

#: Each asset's document version to write the projection against: (seq_no, primary_term).
Heads = dict[str, tuple[int, int]]


class NewAsset(msgspec.Struct, kw_only=True, frozen=True):
    """An asset to ingest: its revision-0 document and the events of revision 1."""

    asset_id: str
    document: dict[str, Any]  # metadata + vector, no tags yet
    events: tuple[TagEvent, ...]
    resume: StoredAsset | None = None  # a stored revision-0 document left by a crashed run


class IngestWrite(msgspec.Struct, kw_only=True, frozen=True):
    """What became of one NewAsset: created (with its document), exists, or failed."""

    asset_id: str
    status: str
    document: dict[str, Any] | None = None
    error: str | None = None


def _failed(asset_id: str, error: str) -> IngestWrite:
    return IngestWrite(asset_id=asset_id, status="failed", error=error)


class IngestWriter:
    """One batch's write through ``assets`` (its client, index, event log and fault hook)."""

    def __init__(self, assets: HealingReads) -> None:
        self.assets = assets
        self.outcomes: dict[str, IngestWrite] = {}

    async def write(self, batch: Sequence[NewAsset]) -> list[IngestWrite]:
        heads = await self.create_documents(batch)
        await self.assets.fault("documents_created")
        mine, failed_events = await self.claim(batch, heads)
        await self.assets.fault("events_written")
        await self.project(mine, heads, failed_events)
        return [self.outcomes[a.asset_id] for a in batch]

    async def create_documents(self, batch: Sequence[NewAsset]) -> Heads:
        """Step 1: the documents this call may write revision 1 of, with their versions."""
        repo = self.assets
        fresh = [a for a in batch if a.resume is None]
        created: dict[str, dict[str, Any]] = {}
        if fresh:
            body = bulk_lines(repo.index, "create", ((a.asset_id, a.document) for a in fresh))
            response = await repo.client.bulk(body=body)
            created = {item["create"]["_id"]: item["create"] for item in response["items"]}
        refused = {a.asset_id: a.document for a in fresh if created[a.asset_id]["status"] == 409}
        heads: Heads = await stored_as_sent(repo.client, repo.index, refused)  # ours, resent
        for a in batch:
            if a.resume is not None:
                heads[a.asset_id] = (a.resume.seq_no, a.resume.primary_term)
                continue
            info = created[a.asset_id]
            if info["status"] == 201:
                heads[a.asset_id] = (info["_seq_no"], info["_primary_term"])
            elif info["status"] != 409:
                self.outcomes[a.asset_id] = _failed(a.asset_id, str(info.get("error")))
            elif a.asset_id not in heads:  # another upload's document
                self.outcomes[a.asset_id] = IngestWrite(asset_id=a.asset_id, status="exists")
        return heads

    async def claim(
        self, batch: Sequence[NewAsset], heads: Heads
    ) -> tuple[list[NewAsset], dict[str, str]]:
        """Steps 2 and 3: the assets whose revision 1 this call wrote, and failed event ids."""
        events = self.assets.events
        claiming = [a for a in batch if a.asset_id in heads and a.events]
        together = [a for a in claiming if a.resume is None]
        written = {a.asset_id: claimed_revision(a.events) for a in claiming}
        claims = await events.create_owned(
            [e for a in together for e in written[a.asset_id]]
            + [written[a.asset_id][0] for a in claiming if a.resume],
            claims=[written[a.asset_id][0] for a in claiming],
        )
        for a in claiming:
            first = a.events[0].event_id
            if first in claims.existed:
                self.outcomes[a.asset_id] = IngestWrite(asset_id=a.asset_id, status="exists")
            elif first in claims.failed:
                error = f"event write failed: {claims.failed[first]}"
                self.outcomes[a.asset_id] = _failed(a.asset_id, error)
        mine = [
            a
            for a in batch
            if a.asset_id in heads and (not a.events or a.events[0].event_id in claims.created)
        ]
        await self.assets.fault("claimed")
        rest = await events.create_many([e for a in mine if a.resume for e in a.events[1:]])
        return mine, {**claims.failed, **rest.failed}

    async def project(
        self, mine: Sequence[NewAsset], heads: Heads, failed_events: dict[str, str]
    ) -> None:
        """Step 4: each document as the fold of its events, in one bulk request."""
        repo = self.assets
        docs: dict[str, dict[str, Any]] = {}
        lines: list[Any] = []
        for a in mine:
            error = next(
                (failed_events[e.event_id] for e in a.events if e.event_id in failed_events), None
            )
            if error is not None:
                self.outcomes[a.asset_id] = _failed(a.asset_id, f"event write failed: {error}")
                continue
            docs[a.asset_id] = {**a.document, **projection_fields(a.events)}
            seq_no, term = heads[a.asset_id]
            guard = {"if_seq_no": seq_no, "if_primary_term": term}
            lines += [
                {"index": {"_index": repo.index, "_id": a.asset_id, **guard}},
                docs[a.asset_id],
            ]
        failed: dict[str, str] = {}
        if lines:
            response = await repo.client.bulk(body=lines)
            failed = bulk_failures(response, tolerate=frozenset({409}))
        for asset_id, doc in docs.items():
            if asset_id in failed:  # the events are stored: the next reader rolls it forward
                error = f"document write failed: {failed[asset_id]}"
                self.outcomes[asset_id] = _failed(asset_id, error)
                continue
            public = {k: v for k, v in doc.items() if k != "vector"}
            self.outcomes[asset_id] = IngestWrite(
                asset_id=asset_id, status="created", document=public
            )
