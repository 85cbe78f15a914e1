"""Healing reads: every read of an asset rolls a cut-short write forward first.

A write claims the asset's next revision in the event log before it rewrites the document
(see :mod:`.assets`). If it stops in between, the claim of N+1 exists while the document
says N. Whoever reads the asset next sees the claim (a real-time get by id), finishes the
revision from it (the claim carries the revision's other events: :mod:`.claims`) and rolls
the document forward from the whole revision, guarded by the document's seq_no, before
answering. So no reader ever folds part of a revision, and no recorded decision is lost.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError

from tagtrail.config import Settings
from tagtrail.domain.asset import Asset, asset_of
from tagtrail.domain.projection import projection_fields
from tagtrail.domain.records import Tag, TagEvent
from tagtrail.errors import Conflict, NotFound, StoreUnavailable
from tagtrail.store.events import EventLog

#: A test hook: awaited with a step name ("claimed", "events_written") between the steps of a
#: write.
FaultHook = Callable[[str], Awaitable[None]]
#: How often a read rolls forward (each round one revision) before it says "try again".
HEAL_ROUNDS = 8


class StoredAsset(msgspec.Struct, kw_only=True, frozen=True):
    asset_id: str
    source: dict[str, Any]
    seq_no: int
    primary_term: int

    @property
    def revision(self) -> int:
        return int(self.source.get("revision", 0))

    def tags(self) -> list[Tag]:
        return [msgspec.convert(t, Tag) for t in self.source.get("tags") or ()]

    def public_source(self) -> dict[str, Any]:
        """The document without its vector."""
        return {k: v for k, v in self.source.items() if k != "vector"}

    def record(self) -> Asset:
        """The asset as a record (what use cases hand on; no vector)."""
        return asset_of(self.source)


class HealingReads:
    """The asset documents, read healed; :class:`~.assets.AssetRepository` adds the writes."""

    def __init__(self, client: AsyncOpenSearch, settings: Settings, events: EventLog) -> None:
        self.client = client
        self.index = settings.index_name("assets")
        self.events = events
        self.fault_hook: FaultHook | None = None

    async def fault(self, step: str) -> None:
        if self.fault_hook is not None:
            await self.fault_hook(step)

    # -- reads (each one heals) --------------------------------------------------------
    async def read(self, asset_id: str) -> StoredAsset:
        """The document as stored, not healed (callers want :meth:`get`)."""
        if not asset_id:
            raise NotFound("asset id is empty")
        try:
            hit = await self.client.get(index=self.index, id=asset_id)
        except NotFoundError as exc:
            raise NotFound(f"asset {asset_id!r} does not exist") from exc
        return StoredAsset(
            asset_id=asset_id,
            source=hit["_source"],
            seq_no=hit["_seq_no"],
            primary_term=hit["_primary_term"],
        )

    async def get(self, asset_id: str) -> StoredAsset:
        """The asset at its latest revision, rolled forward first if a write was cut short."""
        stored = await self.read(asset_id)
        for _ in range(HEAL_ROUNDS):
            pending = await self.events.revision(asset_id, stored.revision + 1)
            if not pending:
                return stored
            await self.roll_forward(stored, pending)
            stored = await self.read(asset_id)
        raise StoreUnavailable(f"asset {asset_id!r} is being rewritten; try again", retry_after_s=1)

    async def get_many(self, asset_ids: Sequence[str]) -> list[Asset | None]:
        """The assets in order; None where missing. Heals any pending."""
        ids = [i for i in asset_ids if i]
        found: dict[str, dict[str, Any]] = {}
        if ids:
            result = await self.client.mget(
                index=self.index, body={"ids": ids}, _source_excludes="vector"
            )
            found = {d["_id"]: d["_source"] for d in result["docs"] if d.get("found")}
            heads = [(a, int(s.get("revision", 0)) + 1) for a, s in found.items()]
            for asset_id in await self.events.claimed(heads):
                found[asset_id] = (await self.get(asset_id)).public_source()
        return [None if (doc := found.get(i)) is None else asset_of(doc) for i in asset_ids]

    async def healed(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Documents a scan found (a search: as stored), each with a cut-short write rolled
        forward first, so a batch job resumed after a crash plans on its own earlier write."""
        heads = [(str(d["asset_id"]), int(d.get("revision", 0)) + 1) for d in docs]
        pending = await self.events.claimed(heads)
        out: list[dict[str, Any]] = []
        for doc in docs:
            asset_id = str(doc["asset_id"])
            out.append({**doc, **(await self.get(asset_id)).source} if asset_id in pending else doc)
        return out

    async def vectors(self, asset_ids: Sequence[str]) -> list[list[float] | None]:
        ids = [i for i in asset_ids if i]
        found: dict[str, Any] = {}
        if ids:
            result = await self.client.mget(
                index=self.index, body={"ids": ids}, _source_includes="vector"
            )
            found = {d["_id"]: d["_source"].get("vector") for d in result["docs"] if d.get("found")}
        return [found.get(i) for i in asset_ids]

    async def advance(self, stored: StoredAsset, events: Sequence[TagEvent]) -> dict[str, Any]:
        """The document fields after ``events``: the stored tags folded forward (no search)."""
        base = stored.tags()
        terms = await self.events.terms([t.event_id for t in base])
        fields = projection_fields(
            events, base=base, base_terms=terms, base_revision=stored.revision
        )
        fields["updated_at"] = max(e.at for e in events)
        return fields

    async def roll_forward(self, stored: StoredAsset, events: Sequence[TagEvent]) -> None:
        fields = await self.advance(stored, events)
        # A Conflict means someone else rolled it forward (or wrote) first: callers re-read.
        with contextlib.suppress(Conflict):
            await self.write(stored, fields)

    async def write(self, stored: StoredAsset, fields: dict[str, Any]) -> dict[str, Any]:
        source = {**stored.source, **fields}
        try:
            await self.client.index(
                index=self.index,
                id=stored.asset_id,
                body=source,
                if_seq_no=stored.seq_no,
                if_primary_term=stored.primary_term,
            )
        except ConflictError as exc:
            raise Conflict(f"asset {stored.asset_id!r} changed while it was being written") from exc
        return source

    async def lookup(
        self, asset_ids: Sequence[str], *, vectors: bool = False
    ) -> dict[str, StoredAsset]:
        """Stored documents of these ids, healed; absent ids left out. Without ``vectors``
        the documents lack them (and must not be written back whole)."""
        if not asset_ids:
            return {}
        excludes = {} if vectors else {"_source_excludes": "vector"}
        result = await self.client.mget(index=self.index, body={"ids": list(asset_ids)}, **excludes)
        found = {}
        for d in result["docs"]:
            if d.get("found"):
                found[d["_id"]] = StoredAsset(
                    asset_id=d["_id"],
                    source=d["_source"],
                    seq_no=d["_seq_no"],
                    primary_term=d["_primary_term"],
                )
        heads = [(a, s.revision + 1) for a, s in found.items()]
        for asset_id in await self.events.claimed(heads):
            found[asset_id] = await self.get(asset_id)
        return found
