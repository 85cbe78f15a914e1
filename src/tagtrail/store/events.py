"""The append-only event log (``tag_events``): claims, revisions by id, history.

Events are never updated. A revision's events have deterministic ids
``<asset>:<seq>:<n>``; event ``n = 0`` *claims* the revision and is created put-if-absent,
so of two writers that read the same revision only one can write the next. The claim
carries the revision's other events (:mod:`.claims`), and reading a revision is a real-time
get by id (no refresh, no search) that finishes it from its claim, which is what lets a
half-finished write be rolled forward, whole, by whoever comes next.

Reads of many events page through them all with ``search_after`` (``history_page_size``
events a request, TAGTRAIL_HISTORY_PAGE_SIZE): nothing is capped. Every sort ends on the
unique ``event_id``, and the log is append-only, so no page boundary can skip or repeat an
event; a point-in-time snapshot is not needed (events newer than a caller's known revision
are not asked for, and the newest revisions are read by id in real time anyway).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence, Set
from typing import Any

import msgspec
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError

from tagtrail.config import Settings
from tagtrail.domain.records import TagEvent, event_id, revision_event_ids
from tagtrail.errors import Conflict, StoreUnavailable
from tagtrail.store.claims import Claim, claimed_revision, whole

#: Fold order; ``event_id`` is unique, so ``search_after`` pages are exact.
FOLD_ORDER: list[dict[str, str]] = [{"seq": "asc"}, {"at": "asc"}, {"event_id": "asc"}]
_BULK_ATTEMPTS = 3
#: Claims asked for per asset in one multi-get while reading revisions newer than search.
_CLAIM_WINDOW = 16
#: What searches return of an event: a claim's copy of its siblings is for finishing it.
_NO_SIBLINGS = {"excludes": ["siblings"]}


def bulk_lines(index: str, op: str, docs: Iterable[tuple[str, Any]]) -> list[Any]:
    """A bulk request body: ``op`` (create/index) of each ``(id, document)``."""
    body: list[Any] = []
    for doc_id, doc in docs:
        body.append({op: {"_index": index, "_id": doc_id}})
        body.append(doc)
    return body


def bulk_failures(response: dict[str, Any], *, tolerate: frozenset[int]) -> dict[str, str]:
    """Item id → error for every item whose status is neither 2xx nor tolerated."""
    failed: dict[str, str] = {}
    for item in response.get("items", ()):
        ((_, info),) = item.items()
        status = int(info.get("status", 500))
        if status >= 300 and status not in tolerate:
            failed[str(info.get("_id"))] = str(info.get("error") or f"HTTP {status}")
    return failed


async def stored_as_sent(
    client: AsyncOpenSearch, index: str, documents: dict[str, dict[str, Any]]
) -> dict[str, tuple[int, int]]:
    """Of documents a create was refused for (409), those stored exactly as sent, with their
    ``(seq_no, primary_term)``: the refusal answered a resent request whose first try had
    landed before its connection broke (opensearch-py resends on another node when one dies
    mid-request), so the document is the caller's own."""
    if not documents:
        return {}
    found = await client.mget(index=index, body={"ids": list(documents)})
    return {
        d["_id"]: (d["_seq_no"], d["_primary_term"])
        for d in found["docs"]
        if d.get("found")
        and d["_source"] == msgspec.json.decode(msgspec.json.encode(documents[d["_id"]]))
    }


class BulkCreate(msgspec.Struct, kw_only=True):
    created: set[str] = msgspec.field(default_factory=set)
    existed: set[str] = msgspec.field(default_factory=set)  # put-if-absent found them
    failed: dict[str, str] = msgspec.field(default_factory=dict)


def _encode(event: TagEvent) -> dict[str, Any]:
    return msgspec.to_builtins(event)  # type: ignore[no-any-return]


class EventLog:
    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self.client = client
        self.index = settings.index_name("tag_events")
        self.page_size = settings.history_page_size

    async def pages(
        self,
        query: dict[str, Any],
        sort: list[dict[str, str]],
        *,
        page: int | None = None,
        params: dict[str, str] | None = None,
    ) -> AsyncIterator[list[TagEvent]]:
        """Every event matching ``query`` in ``sort`` order (ending on a unique field), paged."""
        size = page or self.page_size
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "query": query,
                "size": size,
                "sort": sort,
                "_source": _NO_SIBLINGS,
            }
            if after is not None:
                body["search_after"] = after
            result = await self.client.search(index=self.index, body=body, params=params)
            hits = result["hits"]["hits"]
            if hits:
                yield [msgspec.convert(h["_source"], TagEvent) for h in hits]
            if len(hits) < size:
                return
            after = hits[-1]["sort"]

    async def append_revision(self, events: Sequence[TagEvent]) -> None:
        """Write one revision of one asset: claim it (index 0), then the rest.

        Raises Conflict when another writer claimed that revision. Re-running with the same
        events is harmless (create is put-if-absent).
        """
        if events:
            await self.claim(events)
            await self.finish_revision(events)

    async def claim(self, events: Sequence[TagEvent]) -> None:
        """Claim the revision of ``events``: create event 0, carrying the others so that
        anyone can finish the revision; Conflict if another writer has claimed it."""
        claim = claimed_revision(events)[0]
        try:
            await self.client.create(index=self.index, id=claim.event_id, body=_encode(claim))
        except ConflictError as exc:
            existing = await self.client.get(index=self.index, id=claim.event_id)
            if existing["_source"] != msgspec.json.decode(msgspec.json.encode(claim)):
                raise Conflict(
                    f"revision {claim.seq} of asset {claim.asset_id!r} was written concurrently",
                    current_revision=claim.seq,
                ) from exc

    async def finish_revision(self, events: Sequence[TagEvent]) -> None:
        """Write the claimed revision's other events (put-if-absent)."""
        failed = (await self.create_many(events[1:])).failed
        if failed:
            # The claim stands and carries these: the next reader writes them; say so.
            raise StoreUnavailable(
                f"{len(failed)} event(s) of revision {events[0].seq} of asset "
                f"{events[0].asset_id!r} could not be written: {next(iter(failed.values()))}"
            )

    async def create_many(self, events: Sequence[TagEvent]) -> BulkCreate:
        """Create events put-if-absent in one bulk request, retrying items that failed."""
        pending = list(events)
        outcome = BulkCreate()
        for _ in range(_BULK_ATTEMPTS):
            if not pending:
                break
            body = bulk_lines(self.index, "create", ((e.event_id, _encode(e)) for e in pending))
            response = await self.client.bulk(body=body)
            outcome.failed = {}
            for item in response["items"]:
                info = item["create"]
                status, doc_id = int(info.get("status", 500)), str(info["_id"])
                if status == 201:
                    outcome.created.add(doc_id)
                elif status == 409:
                    outcome.existed.add(doc_id)
                else:
                    outcome.failed[doc_id] = str(info.get("error") or f"HTTP {status}")
            pending = [e for e in pending if e.event_id in outcome.failed]
        return outcome

    async def create_owned(
        self, events: Sequence[TagEvent], *, claims: Sequence[TagEvent]
    ) -> BulkCreate:
        """:meth:`create_many`, where a claim among ``claims`` found existing counts as
        created when it is stored exactly as sent: a request resent after its first try
        landed. Anyone else's claim differs (its own time, at least)."""
        outcome = await self.create_many(events)
        found = {c.event_id: _encode(c) for c in claims if c.event_id in outcome.existed}
        outcome.created.update(await stored_as_sent(self.client, self.index, found))
        return outcome

    async def revision(self, asset_id: str, seq: int) -> list[TagEvent]:
        """The events of revision ``seq`` (empty when it is not claimed), in real time,
        finished from its claim first when the writer has not stored them all (yet)."""
        # A multi-get of one id: an unclaimed revision (the usual answer) is no 404 error.
        found = await self.client.mget(index=self.index, body={"ids": [event_id(asset_id, seq, 0)]})
        [doc] = found["docs"]
        if not doc.get("found"):
            return []
        claim = msgspec.convert(doc["_source"], Claim)
        return (await self.finish([claim]))[claim.event_id]

    async def finish(
        self, claims: Sequence[Claim], have: Set[str] = frozenset()
    ) -> dict[str, list[TagEvent]]:
        """Each claimed revision whole, by claim id. The siblings a claim carries that are
        neither in ``have`` nor stored are written first (put-if-absent: the writer's own
        events), so the log holds every event a document folds; a revision is never folded
        in part. A claim from before claims carried their siblings: read by id."""
        out = {c.event_id: whole(c) for c in claims if c.siblings is not None}
        wanted = {e.event_id: e for c in claims for e in c.siblings or () if e.event_id not in have}
        legacy = [revision_event_ids(c.asset_id, c.seq) for c in claims if c.siblings is None]
        ids = [*wanted, *(i for revision in legacy for i in revision)]
        if not ids:
            return out
        found = await self.client.mget(index=self.index, body={"ids": ids})
        stored = {d["_id"]: d["_source"] for d in found["docs"] if d.get("found")}
        failed = (await self.create_many([e for i, e in wanted.items() if i not in stored])).failed
        if failed:
            raise StoreUnavailable(
                f"a claimed revision cannot be finished: {len(failed)} event(s) could not be "
                f"written ({next(iter(failed.values()))}); try again",
                retry_after_s=1,
            )
        for revision in legacy:
            out[revision[0]] = [
                msgspec.convert(stored[i], TagEvent) for i in revision if i in stored
            ]
        return out

    async def claimed(self, heads: Sequence[tuple[str, int]]) -> set[str]:
        """Of ``(asset_id, next revision)`` pairs, the assets whose next revision is claimed."""
        if not heads:
            return set()
        ids = {event_id(a, seq, 0): a for a, seq in heads}
        found = await self.client.mget(index=self.index, body={"ids": list(ids)}, _source=False)
        return {ids[d["_id"]] for d in found["docs"] if d.get("found")}

    async def terms(self, event_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """The free-text terms of these events, by id (real time)."""
        if not event_ids:
            return {}
        found = await self.client.mget(
            index=self.index, body={"ids": list(event_ids)}, _source_includes="terms"
        )
        return {
            d["_id"]: tuple(d["_source"].get("terms") or ())
            for d in found["docs"]
            if d.get("found")
        }

    async def get(self, event_id_: str) -> TagEvent | None:
        try:
            hit = await self.client.get(index=self.index, id=event_id_, _source_excludes="siblings")
        except NotFoundError:
            return None
        return msgspec.convert(hit["_source"], TagEvent)

    async def get_many(self, event_ids: Sequence[str]) -> dict[str, TagEvent]:
        """These events by id, in one request (absent ids left out; none asked: none sent)."""
        if not event_ids:
            return {}
        found = await self.client.mget(
            index=self.index, body={"ids": list(event_ids)}, _source_excludes="siblings"
        )
        return {
            d["_id"]: msgspec.convert(d["_source"], TagEvent)
            for d in found["docs"]
            if d.get("found")
        }

    async def history(
        self, revisions: dict[str, int], *, refresh: bool = False
    ) -> dict[str, list[TagEvent]]:
        """Every event of these assets, in fold order, up to at least their known revision.

        Search is near-real-time, so each asset's newest searched revision and those after
        it are read by id (their claims, in real time) and finished from their claims: a
        refresh may have caught the newest half-written, and a newer one is not searchable
        yet. Every older revision was whole before the next could be claimed. Revisions
        after the newest searched are read while they are claimed, up to the caller's
        revision: never past what is stored, whatever revision a caller names.
        """
        if not revisions:
            return {}
        if refresh:
            await self.client.indices.refresh(index=self.index)
        grouped: dict[str, list[TagEvent]] = defaultdict(list)
        async for events in self.pages(
            {"terms": {"asset_id": list(revisions)}},
            FOLD_ORDER,
            params={"preference": "_primary_first"},
        ):
            for event in events:
                grouped[event.asset_id].append(event)
        first = {a: max((e.seq for e in grouped[a]), default=1) for a in revisions}
        claims = await self._claims(first, {a: max(r, first[a]) for a, r in revisions.items()})
        have = {e.event_id for events in grouped.values() for e in events}
        finished = await self.finish([c for found in claims.values() for c in found], have)
        # An asset whose newest searched revision has no claim (never written so) keeps what
        # search found of it.
        return {
            a: [e for e in grouped[a] if e.seq < first[a] or not claims.get(a)]
            + [e for c in claims.get(a, ()) for e in finished[c.event_id]]
            for a in revisions
        }

    async def _claims(self, first: dict[str, int], last: dict[str, int]) -> dict[str, list[Claim]]:
        """Each asset's claims from revision ``first`` to ``last``, stopping at the first
        revision that is not claimed. One multi-get a round asks for a window of claims per
        asset, so the rounds are as many as the claims stored, not as ``last`` says."""
        out: dict[str, list[Claim]] = defaultdict(list)
        pending = {a: seq for a, seq in first.items() if seq <= last[a]}
        while pending:
            windows = {a: range(s, min(s + _CLAIM_WINDOW, last[a] + 1)) for a, s in pending.items()}
            ids = [event_id(a, seq, 0) for a, window in windows.items() for seq in window]
            found = await self.client.mget(index=self.index, body={"ids": ids})
            stored = {d["_id"]: d["_source"] for d in found["docs"] if d.get("found")}
            pending = {}
            for a, window in windows.items():
                claims = [stored.get(event_id(a, seq, 0)) for seq in window]
                whole_run = list(itertools.takewhile(lambda c: c is not None, claims))
                out[a].extend(msgspec.convert(c, Claim) for c in whole_run)
                if len(whole_run) == len(window) and window[-1] < last[a]:
                    pending[a] = window[-1] + 1
        return out

    async def latest(
        self, asset_ids: Sequence[str], attribute: str, kind: str = "model_tagged"
    ) -> dict[str, TagEvent]:
        """Each asset's newest event of ``kind`` on ``attribute``'s primary value (a colour
        measurement to re-name, for example), by asset id; assets without one are left out."""
        if not asset_ids:
            return {}
        query = {
            "bool": {
                "filter": [
                    {"terms": {"asset_id": list(asset_ids)}},
                    {"term": {"attribute": attribute}},
                    {"term": {"kind": kind}},
                ],
                "must_not": [{"exists": {"field": "slot"}}],
            }
        }
        result = await self.client.search(
            index=self.index,
            body={
                "query": query,
                "_source": _NO_SIBLINGS,
                "collapse": {"field": "asset_id"},
                "sort": [{"seq": "desc"}, {"event_id": "desc"}],
                "size": len(asset_ids),
            },
        )
        found = (msgspec.convert(h["_source"], TagEvent) for h in result["hits"]["hits"])
        return {e.asset_id: e for e in found}

    async def for_asset(self, asset_id: str) -> list[TagEvent]:
        """One asset's whole history (refreshing first: for tools and tests, not requests)."""
        found = await self.history({asset_id: 0}, refresh=True)
        return found[asset_id]

    async def count(self) -> int:
        await self.client.indices.refresh(index=self.index)
        return int((await self.client.count(index=self.index))["count"])

    async def count_since(self, attribute: str, kinds: Sequence[str], since: str | None) -> int:
        """How many events of ``attribute`` with a kind in ``kinds`` were made after
        ``since`` (an ISO time; None: ever), counted by OpenSearch."""
        filters: list[dict[str, Any]] = [
            {"term": {"attribute": attribute}},
            {"terms": {"kind": list(kinds)}},
        ]
        if since is not None:
            filters.append({"range": {"at": {"gt": since}}})
        await self.client.indices.refresh(index=self.index)
        body = {"query": {"bool": {"filter": filters}}}
        return int((await self.client.count(index=self.index, body=body))["count"])

    async def decisions(
        self,
        attribute: str,
        kinds: Sequence[str],
        *,
        since: str | None = None,
        page: int = 1000,
    ) -> list[TagEvent]:
        """Every event of ``attribute`` whose kind is in ``kinds`` (refreshing first), by id;
        with ``since`` (an ISO time), only those made at or after it.

        A batch read for training: it pages with ``search_after`` so it is not capped.
        """
        await self.client.indices.refresh(index=self.index)
        filters: list[dict[str, Any]] = [
            {"term": {"attribute": attribute}},
            {"terms": {"kind": list(kinds)}},
        ]
        if since is not None:
            filters.append({"range": {"at": {"gte": since}}})
        query = {"bool": {"filter": filters}}
        out: list[TagEvent] = []
        async for events in self.pages(query, [{"event_id": "asc"}], page=page):
            out.extend(events)
        return out

    async def of_attribute(self, attribute: str, asset_ids: Sequence[str]) -> list[TagEvent]:
        """Every event of ``attribute`` on these assets, in fold order (a batch read for
        training, after :meth:`decisions` refreshed): their histories, so the training
        labels are folded exactly as the documents are."""
        if not asset_ids:
            return []
        query = {
            "bool": {
                "filter": [
                    {"terms": {"asset_id": list(asset_ids)}},
                    {"term": {"attribute": attribute}},
                ]
            }
        }
        out: list[TagEvent] = []
        async for events in self.pages(query, FOLD_ORDER):
            out.extend(events)
        return out
