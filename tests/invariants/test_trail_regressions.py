"""Shrunk failures of the stateful test (test_trail_state_machine.py), kept as plain tests.

Each names the break of issue 17 it reproduces. They run on the real node with the
random-init tiny CLIP, through the same use cases and the same invariant checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.demo.catalogue import generate_catalogue
from tagtrail.domain.decisions import Decision
from tagtrail.domain.records import TagEvent, event_id
from tagtrail.errors import InvalidInput
from tagtrail.store import Store, StoredAsset
from tagtrail.usecases.head_data import training_set
from tagtrail.usecases.ingest import IngestItem
from tagtrail.usecases.runtime import Runtime
from tests.invariants import checks
from tests.invariants.taxonomy_edits import Migration, write_folder
from tests.invariants.world import Faults

pytestmark = pytest.mark.opensearch


class Trail:
    """Runtime on the test's indices, two uploaded photos, and a taxonomy to change."""

    def __init__(self, runtime: Runtime, ids: list[str], tmp: Path) -> None:
        self.runtime = runtime
        self.ids = ids
        self.tmp = tmp
        self.serial = 0

    async def docs(self) -> dict[str, dict[str, Any]]:
        return await checks.stored_docs(self.runtime, self.ids)

    async def tag(self, asset_id: str, attribute: str, slot: str | None = None) -> dict[str, Any]:
        return checks.tags_of((await self.docs())[asset_id])[(asset_id, attribute, slot)]

    async def decide(
        self,
        asset_id: str,
        kind: str,
        attribute: str,
        value: str | None = None,
        slot: str | None = None,
    ) -> dict[str, Any]:
        revision = int((await self.docs())[asset_id]["revision"])
        decision = Decision(kind=kind, attribute=attribute, value=value, slot=slot)  # type: ignore[arg-type]
        return (await self.runtime.review.decide(asset_id, revision, decision, "rita")).asset

    async def change(self, m: Migration) -> tuple[Any, Any]:
        """Preview then apply ``m``; the runtime then follow the new folder."""
        self.serial += 1
        current = Path(self.runtime.settings.taxonomy_dir)
        folder = write_folder(current, self.tmp / f"taxonomy-{self.serial}", m, self.serial)
        preview = await self.runtime.taxonomy_changes.preview(folder)
        applied = await self.runtime.taxonomy_changes.apply(folder)
        settings = self.runtime.settings.with_changes(taxonomy_dir=str(folder))
        self.runtime = Runtime(settings, store=self.runtime.store)
        return preview, applied

    async def check(self) -> None:
        docs = await self.docs()
        events = await checks.all_events(self.runtime)
        checks.check_revisions(docs, events)
        checks.check_fold(docs, events)


@pytest.fixture
async def trail(settings: Settings, indexed: AsyncOpenSearch, tmp_path: Path) -> Trail:
    runtime = Runtime(settings, store=Store(settings, client=indexed))
    taxonomy = await runtime.taxonomy.current()
    generate_catalogue(2, tmp_path / "photos", palette=taxonomy.palette, seed=11, size=96)
    files = sorted(p for p in (tmp_path / "photos").iterdir() if p.suffix != ".csv")
    outcomes = await runtime.ingest.batch(
        [IngestItem(name=p.name, data=p.read_bytes()) for p in files]
    )
    return Trail(runtime, [str(o.asset_id) for o in outcomes], tmp_path)


async def test_renaming_an_unused_value_writes_no_event_on_untouched_tags(trail: Trail) -> None:
    """Break: a taxonomy change rewrites assets it does not change (issue 17, 7th bullet).

    Shrunk: upload two photos; rename a category value no asset holds. Before the fix the
    apply wrote a ``model_tagged`` category event on each asset with the value, tier and
    rule it already had (a new revision for nothing)."""
    held = {(await trail.tag(a, "category"))["value"] for a in trail.ids}
    unused = next(v for v in ("blouse", "tank_top", "hoodie") if v not in held)
    before = {a: int(d["revision"]) for a, d in (await trail.docs()).items()}
    await trail.change(
        Migration(op="rename", attribute="category", source=unused, targets=(f"{unused}_r1",))
    )
    checks.check_no_unchanged_events(await checks.all_events(trail.runtime))
    assert {a: int(d["revision"]) for a, d in (await trail.docs()).items()} == before


async def _positives(trail: Trail, asset_id: str) -> set[str]:
    tagger = await trail.runtime.tagging.tagger()
    data = await training_set(
        trail.runtime.store.assets, trail.runtime.store.events, "category", tagger
    )
    return {e.value for e in data.examples if e.asset_id == asset_id and e.polarity == "positive"}


async def test_undoing_twice_returns_to_the_model_proposal(trail: Trail) -> None:
    """Break: undoing twice (issue 17, 2nd bullet). Shrunk from the machine: decide, decide
    again, reopen, reopen. Before the fix the second undo took back the first undo, so the
    later decision came back (corrected trench_coat) while training used the earlier one."""
    asset_id = trail.ids[0]
    model = (await trail.tag(asset_id, "category"))["value"]
    other = "trench_coat" if model != "trench_coat" else "peacoat"
    await trail.decide(asset_id, "confirmed", "category")
    await trail.decide(asset_id, "corrected", "category", value=other)
    await trail.decide(asset_id, "reopened", "category")
    tag = await trail.tag(asset_id, "category")
    assert (tag["state"], tag["value"]) == ("confirmed", model)
    await trail.decide(asset_id, "reopened", "category")
    tag = await trail.tag(asset_id, "category")
    assert (tag["state"], tag["value"]) == ("suggested", model)
    assert await _positives(trail, asset_id) == set()
    await trail.check()


async def test_undo_after_a_rename_keeps_the_new_taxonomy(trail: Trail) -> None:
    """Break: undo after a migration undoes the migration (issue 17, 2nd bullet). Shrunk:
    correct to peacoat, rename peacoat, reopen. Before the fix the undo brought back
    ``peacoat, corrected``: the old taxonomy's value, still decided by the reviewer."""
    asset_id = trail.ids[0]
    model = (await trail.tag(asset_id, "category"))["value"]
    await trail.decide(asset_id, "corrected", "category", value="peacoat")
    await trail.change(
        Migration(op="rename", attribute="category", source="peacoat", targets=("peacoat_r1",))
    )
    tag = await trail.tag(asset_id, "category")
    assert (tag["state"], tag["value"]) == ("corrected", "peacoat_r1")
    await trail.decide(asset_id, "reopened", "category")
    tag = await trail.tag(asset_id, "category")
    assert tag["state"] == "suggested"
    assert tag["value"] == model
    await trail.check()


async def test_training_keeps_a_renamed_decision(trail: Trail) -> None:
    """Break: training loses decisions on renamed values (issue 17, 4th bullet). Before the
    fix a confirmed peacoat gave one example before the rename and none after it."""
    asset_id = trail.ids[0]
    await trail.decide(asset_id, "corrected", "category", value="peacoat")
    assert await _positives(trail, asset_id) == {"peacoat"}
    await trail.change(
        Migration(op="rename", attribute="category", source="peacoat", targets=("peacoat_r1",))
    )
    assert await _positives(trail, asset_id) == {"peacoat_r1"}


async def test_a_split_sends_a_decision_back_to_review(trail: Trail) -> None:
    """Break: a split replaces reviewers' decisions with the model's guess (issue 17, 1st
    bullet). The photos come from the encoder in force, so apply re-decides category in the
    same revision. Before the fix that model event replaced the flagged tag."""
    asset_id = trail.ids[0]
    await trail.decide(asset_id, "corrected", "category", value="shirt")
    split = Migration(
        op="split", attribute="category", source="shirt", targets=("shirt_a1", "shirt_b1")
    )
    preview, applied = await trail.change(split)
    tag = await trail.tag(asset_id, "category")
    assert (tag["state"], tag["value"]) == ("flagged", "shirt_a1"), tag
    assert applied.human_decisions_touched == preview.human_decisions_touched == 1
    await trail.check()


async def test_a_split_keeps_a_rejection_or_refuses(trail: Trail) -> None:
    """Break: a split retired reviewers' rejections (issue 17, 1st bullet), so the model may
    propose the rejected value again. The product may refuse the split by name instead."""
    asset_id = trail.ids[0]
    await trail.decide(asset_id, "corrected", "category", value="shirt")
    await trail.decide(asset_id, "rejected", "category")
    revision = int((await trail.docs())[asset_id]["revision"])
    split = Migration(
        op="split", attribute="category", source="shirt", targets=("shirt_a1", "shirt_b1")
    )
    refused: InvalidInput | None = None
    try:
        await trail.change(split)
    except InvalidInput as exc:
        refused = exc
    if refused is not None:
        assert "gen-1-split" in refused.message
        assert int((await trail.docs())[asset_id]["revision"]) == revision
    else:
        tag = await trail.tag(asset_id, "category")
        assert tag["state"] == "rejected", tag
    await trail.check()


async def _two_event_revision_with_a_reader(
    trail: Trail,
) -> tuple[str, StoredAsset, list[TagEvent], Faults]:
    """The first asset, its stored state, the events of a two-event next revision (its
    first two tags again, at probability 0.5), and faults whose reader reads the asset."""
    asset_id = trail.ids[0]
    store = trail.runtime.store
    stored = await store.assets.get(asset_id)
    history = await store.events.for_asset(asset_id)
    revision = stored.revision + 1
    firsts = [e for e in history if e.seq == 1 and e.slot is None][:2]
    events = [
        msgspec.structs.replace(
            e, seq=revision, event_id=event_id(asset_id, revision, i), probability=0.5
        )
        for i, e in enumerate(firsts)
    ]
    faults = Faults(store.client)

    async def reader() -> None:
        await store.assets.get_many([asset_id])

    faults.reader = reader
    return asset_id, stored, events, faults


async def test_a_reader_between_claim_and_events_loses_nothing(trail: Trail) -> None:
    """Break: a reader can make a half-written revision permanent (issue 17, 3rd bullet).
    A reader arrives after the claim (event 0) and before the other events of a two-event
    revision; before the fix the document lacked event 1 while the log held it."""
    asset_id, stored, events, faults = await _two_event_revision_with_a_reader(trail)
    store = trail.runtime.store
    faults.arm(0, "read", match="_bulk")
    await store.assets.apply(asset_id, stored.revision, lambda _s: events)
    assert faults.fired == "read"
    await trail.check()


async def test_training_keeps_a_merged_rejection(trail: Trail) -> None:
    """Break: training loses decisions on merged values (issue 17, 4th bullet). Shrunk from
    the machine: a rejected blazer merged into bomber_jacket. The document says
    ``rejected bomber_jacket``; before the fix training had no example of it at all."""
    asset_id = trail.ids[0]
    await trail.decide(asset_id, "corrected", "category", value="blazer")
    await trail.decide(asset_id, "rejected", "category")
    await trail.change(
        Migration(op="merge", attribute="category", source="blazer", targets=("bomber_jacket",))
    )
    tag = await trail.tag(asset_id, "category")
    assert (tag["state"], tag["value"]) == ("rejected", "bomber_jacket")
    tagger = await trail.runtime.tagging.tagger()
    data = await training_set(
        trail.runtime.store.assets, trail.runtime.store.events, "category", tagger
    )
    negatives = {
        e.value for e in data.examples if e.asset_id == asset_id and e.polarity == "negative"
    }
    assert "bomber_jacket" in negatives


async def test_a_reader_between_the_bulk_requests_of_a_batch_loses_nothing(trail: Trail) -> None:
    """Break: a reader makes a half-written revision permanent (issue 17, 3rd bullet), in the
    batch write of a taxonomy apply or retag. Found by the machine (a ``retire`` with a reader
    between two bulk requests: the document lacked a re-proposed further value the log held).
    A reader arrives after the claims' bulk request and before the rest's."""
    asset_id, stored, events, faults = await _two_event_revision_with_a_reader(trail)
    store = trail.runtime.store
    faults.arm(1, "read", match="_bulk")  # before the second bulk request: the rest
    outcome = await store.apply_batch([(asset_id, stored.revision, lambda _s: events)])
    assert faults.fired == "read"
    assert outcome == {asset_id: "written"}
    await trail.check()


async def test_undo_after_a_move_restores_todays_hierarchy(trail: Trail) -> None:
    """Break: after a move, undo brings back the old hierarchy (issue 17, 2nd bullet), so
    hierarchy filters miss the asset. Correct to peacoat, correct to trench_coat, move
    peacoat under tops, undo: peacoat is back, and must be expanded under tops."""
    asset_id = trail.ids[0]
    await trail.decide(asset_id, "corrected", "category", value="peacoat")
    await trail.decide(asset_id, "corrected", "category", value="trench_coat")
    await trail.change(Migration(op="move", attribute="category", source="peacoat", parent="tops"))
    await trail.decide(asset_id, "reopened", "category")
    tag = await trail.tag(asset_id, "category")
    assert (tag["state"], tag["value"]) == ("corrected", "peacoat")
    assert tag["values"] == ["peacoat", "tops"]
    taxonomy = await trail.runtime.taxonomy.current()
    checks.check_hierarchy(taxonomy, await trail.docs())
