"""A taxonomy change, previewed and then applied, without losing a human decision.

``TaxonomyChanges.preview(NEW_DIR)`` and ``TaxonomyChanges.apply(NEW_DIR)`` run the same
plan over every stored asset: the migration changes of its tags (``domain.taxonomy.changes``:
renames, merges, splits, retirements, re-expansion under the new hierarchy), then the
model's re-decision of the attributes whose per-attribute version moved, on the stored
vector (colour: the stored Lab measurement named against the new palette). The preview
writes nothing; apply writes the same events at each asset's next revision. Apply is
resumable: a re-run finds migrated assets up to date and continues with the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from tagtrail.domain.metadata import AssetMetadata
from tagtrail.domain.projection import TAXONOMY_CHANGE, fold_tags
from tagtrail.domain.records import Tag, TagEvent, key_of, tag_key, utc_now
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.domain.taxonomy.changes import (
    TagChange,
    change_event,
    change_key,
    migrated_tag,
    tag_changes,
)
from tagtrail.domain.taxonomy.migrations import Migrations, validate_migrations
from tagtrail.domain.taxonomy.source import TaxonomySource
from tagtrail.errors import InvalidInput
from tagtrail.store import InForce, Store, StoredAsset
from tagtrail.tagging.pipeline import COLOUR_ATTRIBUTE, Tagger, build_tagger
from tagtrail.tagging.taxonomy_files import load_migrations, load_taxonomy_source
from tagtrail.usecases.champions import install_champions
from tagtrail.usecases.change_report import ChangeCollector, TaxonomyChangeReport
from tagtrail.usecases.head_data import segments_of
from tagtrail.usecases.ingest import model_event
from tagtrail.usecases.retag import RETAG_FIELDS, changed_decisions, in_slots, plan_decisions
from tagtrail.usecases.tagger_provider import TaggerProvider
from tagtrail.usecases.taxonomy_in_force import (
    TaxonomyInForce,
    begin_apply,
    change_start,
    finish_apply,
    wait_for_servers,
)
from tagtrail.usecases.workers import Worker


class _Plan(msgspec.Struct, kw_only=True, frozen=True):
    old: Taxonomy
    new: Taxonomy
    migrations: Migrations
    tagger: Tagger
    moved: frozenset[str]  # attributes whose version moved (re-decided by the model)


def _load(directory: Path) -> tuple[Taxonomy, TaxonomySource, Migrations]:
    if not directory.is_dir():
        raise InvalidInput(f"{directory} is not a taxonomy folder", field="directory")
    return *load_taxonomy_source(directory), load_migrations(directory)


class TaxonomyChanges:
    """Preview or apply a new taxonomy version over the whole catalogue."""

    def __init__(
        self,
        store: Store,
        taxonomy: TaxonomyInForce,
        tagging: TaggerProvider,
        inference: Worker,
        *,
        repropose_min_probability: float,
    ) -> None:
        self._store = store
        self._taxonomy = taxonomy
        self._tagging = tagging
        self._inference = inference
        self._minimum = repropose_min_probability

    async def _plan(self, old: Taxonomy, new: Taxonomy, migrations: Migrations) -> _Plan:
        validate_migrations(old, new, migrations)
        encoder = await self._tagging.encoder()
        tagger = await self._inference.run(build_tagger, new, encoder)
        # Heads and a colour calibration whose attribute did not move stay in use.
        await install_champions(self._store.heads, tagger)
        moved = frozenset(
            a for a in new.attribute_names if old.attribute_version(a) != new.attribute_version(a)
        )
        return _Plan(old=old, new=new, migrations=migrations, tagger=tagger, moved=moved)

    async def _decisions(
        self, plan: _Plan, docs: list[dict[str, Any]], changes: list[list[TagChange]]
    ) -> tuple[list[list[Any]], int]:
        """Per doc, the model's changed decisions on moved attributes (after migration)."""
        migrated = [_after_migration(plan, d, c) for d, c in zip(docs, changes, strict=True)]
        fingerprint = plan.tagger.model_fingerprint
        usable = [
            i
            for i, d in enumerate(migrated)
            if d.get("vector") and d.get("model_fingerprint") == fingerprint
        ]
        plans: list[list[Any]] = [[] for _ in docs]
        if usable:
            minimum = self._minimum
            chosen = [migrated[i] for i in usable]
            found = await self._inference.run(plan_decisions, plan.tagger, chosen, minimum)
            for i, decisions in zip(usable, found, strict=True):
                plans[i] = [d for d in decisions if d.attribute in plan.moved]
        if COLOUR_ATTRIBUTE in plan.moved:
            ids = [str(d["asset_id"]) for d in docs]
            stored = await self._store.events.latest(ids, COLOUR_ATTRIBUTE)
            for i, doc in enumerate(migrated):
                event = stored.get(str(doc["asset_id"]))
                meta = AssetMetadata(
                    brand=doc.get("brand"),
                    season=doc.get("season"),
                    collection=doc.get("collection"),
                )
                colours = plan.tagger.recolour(event.evidence or {}, meta) if event else []
                plans[i].extend(changed_decisions(doc, in_slots(doc, colours)))
        return plans, len(docs) - len(usable)

    async def _run(
        self,
        directory: Path,
        *,
        write: bool,
        sample: int,
        page: int,
        progress: Callable[[int], None] | None,
    ) -> TaxonomyChangeReport:
        old, plan, marked = await self._start(directory, write=write)
        collector = ChangeCollector(sample)
        report = TaxonomyChangeReport(
            current_version=old.version,
            new_version=plan.new.version,
            attributes_moved=sorted(plan.moved),
            retired_attributes=sorted(set(old.attribute_names) - set(plan.new.attribute_names)),
            applied=write,
        )
        if marked is not None:  # no server may still write an old value once migrating starts
            report.waited_for_servers_s = await wait_for_servers(self._taxonomy, marked)
        await self._store.refresh()
        # A page's writes run while the next page is planned (other assets: independent); its
        # outcome is counted before the next write starts, so at most one is in flight.
        writing: tuple[asyncio.Future[dict[str, str]], list[_Planned]] | None = None
        try:
            async for scanned in self._store.assets.scan(RETAG_FIELDS, page=page):
                # A resumed apply finds its cut-off writes finished, not "changed meanwhile".
                docs = await self._store.assets.healed(scanned)
                changes = [_changes(plan, d) for d in docs]
                decisions, other = await self._decisions(plan, docs, changes)
                report.other_encoder += other
                report.checked += len(docs)
                at = utc_now()
                planned = [
                    (doc, events)
                    for doc, c, chosen in zip(docs, changes, decisions, strict=True)
                    if (events := _asset_events(plan, doc, c, chosen, at))
                ]
                if writing is not None:
                    _count(report, collector, writing[1], await writing[0], write=True)
                if write:
                    writing = (asyncio.ensure_future(self._write(planned)), planned)
                else:
                    _count(report, collector, planned, {}, write=False)
                if progress is not None:
                    progress(len(docs))
        finally:
            if writing is not None and not writing[0].done():
                # Stopped by an error: let the write in flight finish (a rerun resumes).
                with contextlib.suppress(Exception):
                    await writing[0]
        if writing is not None:
            _count(report, collector, writing[1], await writing[0], write=True)
        report.rows = collector.finish()
        report.human_decisions_touched = collector.human_touched
        if write:
            await self._store.refresh()
        if marked is not None and report.conflicts == 0:
            await finish_apply(self._taxonomy, marked)
        report.in_force = (await self._taxonomy.state()).version
        return report

    async def _start(
        self, directory: Path, *, write: bool
    ) -> tuple[Taxonomy, _Plan, InForce | None]:
        """The change starts from the stored version in force (never this process's folder);
        apply puts the new version in force first, marked unfinished until every asset is
        migrated (a rerun resumes from the version it replaces)."""
        new, source, migrations = await self._inference.run(_load, Path(directory))
        start = await change_start(self._taxonomy, new)
        plan = await self._plan(start.old, new, migrations)
        marked = (
            await begin_apply(self._taxonomy, start, source, new=new, migrations=migrations)
            if write
            else None
        )
        return start.old, plan, marked

    async def _write(self, planned: list[_Planned]) -> dict[str, str]:
        """One page in three bulk requests. The batch writes an asset's events only while it is
        still at the revision they were planned on; otherwise it is a conflict for the next run."""

        def build(events: list[TagEvent]) -> Callable[[StoredAsset], list[TagEvent]]:
            return lambda _stored: events

        return await self._store.apply_batch(
            [(str(d["asset_id"]), int(d.get("revision", 0)), build(e)) for d, e in planned]
        )

    async def preview(
        self,
        directory: Path,
        *,
        sample: int = 3,
        page: int = 256,
        progress: Callable[[int], None] | None = None,
    ) -> TaxonomyChangeReport:
        """What moving to the taxonomy in ``directory`` would change; writes nothing."""
        return await self._run(directory, write=False, sample=sample, page=page, progress=progress)

    async def apply(
        self,
        directory: Path,
        *,
        sample: int = 3,
        page: int = 256,
        progress: Callable[[int], None] | None = None,
    ) -> TaxonomyChangeReport:
        """Write the change and put it in force for every server (resumable)."""
        return await self._run(directory, write=True, sample=sample, page=page, progress=progress)


def _changes(plan: _Plan, doc: dict[str, Any]) -> list[TagChange]:
    tags = list(doc.get("tags") or ())
    return tag_changes(tags, plan.new, plan.migrations, doc.get("brand"), plan.old)


def _asset_events(
    plan: _Plan,
    doc: dict[str, Any],
    changes: list[TagChange],
    decisions: list[Any],
    at: str,
) -> list[TagEvent]:
    """Migration events first, then model re-decisions, as the asset's next revision."""
    brand = doc.get("brand")
    seq = int(doc.get("revision", 0)) + 1
    by_key = {_key(t): t for t in doc.get("tags") or ()}
    events = [
        change_event(str(doc["asset_id"]), seq, i, at, by_key[change_key(c)], c, plan.new, brand)
        for i, c in enumerate(changes)
    ]
    # A re-decision records the taxonomy it was made for, so the asset reads as carried
    # into it (``taxonomyVersion``) like a migrated one.
    carried = {TAXONOMY_CHANGE: plan.new.version}
    return events + [
        model_event(
            str(doc["asset_id"]),
            len(events) + j,
            msgspec.structs.replace(d, evidence={**(d.evidence or {}), **carried}),
            at,
            seq=seq,
        )
        for j, d in enumerate(decisions)
    ]


def _after_migration(plan: _Plan, doc: dict[str, Any], changes: list[TagChange]) -> dict[str, Any]:
    brand = doc.get("brand")
    tags = {_key(t): t for t in doc.get("tags") or ()}
    for change in changes:
        key = change_key(change)
        if change.kind == "retired":
            tags.pop(key, None)
        else:
            tags[key] = migrated_tag(tags[key], change, plan.new, brand)
    return {**doc, "tags": list(tags.values())}


def _key(raw: dict[str, Any]) -> str:
    return tag_key(str(raw["attribute"]), raw.get("slot"))


def _outcome(doc: dict[str, Any], events: list[TagEvent]) -> tuple[dict[str, Tag], dict[str, Tag]]:
    before = {key_of(t): t for t in (msgspec.convert(x, Tag) for x in doc.get("tags") or ())}
    return before, fold_tags(events, before.values())


_Planned = tuple[dict[str, Any], list[TagEvent]]


def _count(
    report: TaxonomyChangeReport,
    collector: ChangeCollector,
    planned: list[_Planned],
    outcome: dict[str, str],
    *,
    write: bool,
) -> None:
    for doc, events in planned:
        asset_id = str(doc["asset_id"])
        if write and outcome.get(asset_id) != "written":
            report.conflicts += 1  # changed meanwhile (or failed): the next run finishes it
            continue
        report.assets_changed += 1
        report.events += len(events)
        before, after = _outcome(doc, events)
        collector.add(asset_id, segments_of(doc), before, after)
