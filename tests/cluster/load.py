"""Load for the failure tests: ingest, review decisions (some racing) and searches, each
retried the way a client would, and a ledger of every write the store acknowledged.

A write that fails with StoreUnavailable is retried after a pause (counted in
``Ledger.retries``); a decision whose answer was lost in an outage is looked up before it is
made again, so no decision is written twice by the test itself.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tagtrail.domain.decisions import Decision
from tagtrail.domain.filters import AssetFilter, FacetSpec
from tagtrail.domain.records import event_id
from tagtrail.errors import Conflict, StoreUnavailable
from tagtrail.usecases.ingest import IngestItem
from tagtrail.usecases.review import Decided
from tagtrail.usecases.runtime import Runtime
from tagtrail.usecases.search import SearchRequest

COLOURS = ("navy", "black", "charcoal", "burgundy", "cherry", "tomato")
MAX_ATTEMPTS = 60  # × PAUSE_S: longer than any failover, shorter than a hang
PAUSE_S = 0.5
RACE_EVERY = 16  # of the created assets: every 16th is raced over by two reviewers
REVIEW_EVERY = 3  # ... and every 3rd (of the rest) gets two decisions in a row


@dataclass
class Race:
    asset_id: str
    revision: int  # both racers decided on this revision
    notes: tuple[str, str]
    winners: list[str] = field(default_factory=list)  # notes of racers told they won
    conflicts: int = 0
    outages: int = 0  # racers told the store was unavailable (their write may have landed)


@dataclass
class Ledger:
    assets: dict[str, str] = field(default_factory=dict)  # acknowledged asset id -> name
    created: int = 0
    decisions: dict[str, str] = field(default_factory=dict)  # acknowledged event id -> note
    # Decisions written although their answer was an outage (found by the retry's lookup).
    landed: dict[str, str] = field(default_factory=dict)
    races: list[Race] = field(default_factory=list)
    retries: Counter[str] = field(default_factory=Counter)
    searches_ok: int = 0
    searches_failed: int = 0
    searches_ok_while_down: int = 0
    node_down: bool = False  # set by the test from the kill (once yellow) to the restart
    ingest_done: bool = False


async def ingest_all(
    runtime: Runtime,
    ledger: Ledger,
    items: Sequence[IngestItem],
    batch: int,
    review: asyncio.Queue[tuple[int, str] | None],
) -> None:
    """Ingest in batches; items that fail are retried until the store acknowledges them."""
    for start in range(0, len(items), batch):
        pending = list(items[start : start + batch])
        for _ in range(MAX_ATTEMPTS):
            try:
                outcomes = await runtime.ingest.batch(pending)
            except StoreUnavailable:
                ledger.retries["ingest batch"] += 1
                await asyncio.sleep(PAUSE_S)
                continue
            left = []
            for item, outcome in zip(pending, outcomes, strict=True):
                if outcome.status in ("created", "exists"):
                    assert outcome.asset_id is not None
                    ledger.assets[outcome.asset_id] = item.name
                    if outcome.status == "created":
                        ledger.created += 1
                        review.put_nowait((ledger.created, outcome.asset_id))
                else:
                    assert outcome.status == "failed", outcome
                    ledger.retries["ingest item"] += 1
                    left.append(item)
            pending = left
            if not pending:
                break
            await asyncio.sleep(PAUSE_S)
        assert not pending, f"never acknowledged: {[i.name for i in pending]}"
    ledger.ingest_done = True


def _decision(source: dict[str, Any], note: str, n: int) -> Decision:
    """Confirm or reject the colour tag when there is one to decide on, else correct it."""
    tag = next(
        (t for t in source.get("tags") or () if t["attribute"] == "colour" and not t.get("slot")),
        None,
    )
    if tag and tag.get("value") and tag["state"] != "rejected" and n % 3 != 2:
        kind = "confirmed" if n % 3 == 0 else "rejected"
        return Decision(kind=kind, attribute="colour", note=note)
    return Decision(kind="corrected", attribute="colour", value=COLOURS[n % 6], note=note)


async def _landed(runtime: Runtime, asset_id: str, revision: int, note: str) -> str | None:
    """The claim of ``revision`` if it carries ``note`` (our write landed after all)."""
    claim = await runtime.store.events.get(event_id(asset_id, revision, 0))
    return claim.event_id if claim is not None and claim.note == note else None


async def decide_once(runtime: Runtime, ledger: Ledger, asset_id: str, note: str, n: int) -> None:
    """One reviewer decision on the asset's current revision, retried through outages."""
    unsure: int | None = None  # a revision an outage-answered attempt may have claimed
    for _ in range(MAX_ATTEMPTS):
        try:
            if unsure is not None and (found := await _landed(runtime, asset_id, unsure, note)):
                ledger.landed[found] = note
                return
            unsure = None
            stored = await runtime.store.assets.get(asset_id)
            decision = _decision(stored.source, note, n)
        except StoreUnavailable:
            ledger.retries["decision read"] += 1
            await asyncio.sleep(PAUSE_S)
            continue
        try:
            done = await runtime.review.decide(asset_id, stored.revision, decision, "reviewer")
        except StoreUnavailable:
            ledger.retries["decision"] += 1
            unsure = stored.revision + 1
            await asyncio.sleep(PAUSE_S)
            continue
        ledger.decisions[done.event.event_id] = note
        return
    raise AssertionError(f"decision {note} on {asset_id} never went through")


async def race(runtime: Runtime, ledger: Ledger, asset_id: str, n: int) -> None:
    """Two reviewers correct the same revision at once; repeated until one is answered."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            stored = await runtime.store.assets.get(asset_id)
        except StoreUnavailable:
            ledger.retries["race read"] += 1
            await asyncio.sleep(PAUSE_S)
            continue
        record = Race(asset_id, stored.revision, (f"race-{n}-{attempt}-a", f"race-{n}-{attempt}-b"))
        answers: list[Decided | BaseException] = await asyncio.gather(
            *(
                runtime.review.decide(
                    asset_id,
                    stored.revision,
                    Decision(kind="corrected", attribute="colour", value=value, note=note),
                    note,
                )
                for value, note in zip(("navy", "burgundy"), record.notes, strict=True)
            ),
            return_exceptions=True,
        )
        for note, answer in zip(record.notes, answers, strict=True):
            if isinstance(answer, Decided):
                record.winners.append(note)
                ledger.decisions[answer.event.event_id] = note
            elif isinstance(answer, Conflict):
                record.conflicts += 1
            elif isinstance(answer, StoreUnavailable):
                record.outages += 1
            else:
                raise answer
        ledger.races.append(record)
        if record.winners or record.conflicts:
            return
        ledger.retries["race"] += 1
        await asyncio.sleep(PAUSE_S)
    raise AssertionError(f"race {n} on {asset_id} was never answered")


async def reviewer(
    runtime: Runtime, ledger: Ledger, queue: asyncio.Queue[tuple[int, str] | None]
) -> None:
    """Takes the k-th created asset off the queue (None: stop): races over some, decides on
    others (by k, so both are spread over the whole run, outage included)."""
    while (job := await queue.get()) is not None:
        k, asset_id = job
        if k % RACE_EVERY == 0:
            await race(runtime, ledger, asset_id, k)
        elif k % REVIEW_EVERY == 0:
            for n in range(2):
                await decide_once(runtime, ledger, asset_id, f"d-{asset_id[:12]}-{n}", k + n)


async def searcher(runtime: Runtime, ledger: Ledger, stop: asyncio.Event) -> None:
    """Faceted searches in a loop; those answered while a node is down are counted."""
    request = SearchRequest(
        filter=AssetFilter(), facets=(FacetSpec(kind="attribute", name="colour"),), size=10
    )
    while not stop.is_set():
        down = ledger.node_down
        try:
            page = await runtime.search.search(request)
        except StoreUnavailable:
            ledger.searches_failed += 1
        else:
            assert page.total >= 0
            ledger.searches_ok += 1
            ledger.searches_ok_while_down += int(down and ledger.node_down)
        await asyncio.sleep(0.3)
