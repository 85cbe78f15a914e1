"""Shrunk failures of the stateful test (test_trail_state_machine.py), kept as plain tests.

Each names the break of issue 17 it reproduces. They run on the real node with the
random-init tiny CLIP, through the same use cases and the same invariant checks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.demo.catalogue import generate_catalogue
from tagtrail.domain.decisions import Decision
from tagtrail.store import Store
from tagtrail.usecases.ingest import IngestItem, ingest
from tagtrail.usecases.review import decide
from tagtrail.usecases.services import Services
from tagtrail.usecases.taxonomy_change import apply_change, preview_change
from tests.invariants import checks
from tests.invariants.taxonomy_edits import Migration, write_folder

pytestmark = pytest.mark.opensearch


class Trail:
    """Services on the test's indices, two uploaded photos, and a taxonomy to change."""

    def __init__(self, services: Services, ids: list[str], tmp: Path) -> None:
        self.services = services
        self.ids = ids
        self.tmp = tmp
        self.serial = 0

    async def docs(self) -> dict[str, dict[str, Any]]:
        return await checks.stored_docs(self.services, self.ids)

    async def tag(self, asset_id: str, attribute: str, slot: str | None = None) -> dict[str, Any]:
        return checks.tags_of((await self.docs())[asset_id])[(asset_id, attribute, slot)]

    async def decide(self, asset_id: str, kind: str, attribute: str, value: str | None = None,
                     slot: str | None = None) -> dict[str, Any]:  # fmt: skip
        revision = int((await self.docs())[asset_id]["revision"])
        decision = Decision(kind=kind, attribute=attribute, value=value, slot=slot)  # type: ignore[arg-type]
        return (await decide(self.services, asset_id, revision, decision, "rita")).asset

    async def change(self, m: Migration) -> tuple[Any, Any]:
        """Preview then apply ``m``; the services then follow the new folder."""
        self.serial += 1
        current = Path(self.services.settings.taxonomy_dir)
        folder = write_folder(current, self.tmp / f"taxonomy-{self.serial}", m, self.serial)
        preview = await preview_change(self.services, folder)
        applied = await apply_change(self.services, folder)
        settings = self.services.settings.with_changes(taxonomy_dir=str(folder))
        self.services = Services(settings, store=self.services.store)
        return preview, applied

    async def check(self) -> None:
        docs = await self.docs()
        events = await checks.all_events(self.services)
        checks.check_revisions(docs, events)
        checks.check_fold(docs, events)


@pytest.fixture
async def trail(
    settings: Settings, indexed: AsyncOpenSearch, tmp_path: Path
) -> AsyncIterator[Trail]:
    services = Services(settings, store=Store(settings, client=indexed))
    taxonomy = await services.taxonomy()
    generate_catalogue(2, tmp_path / "photos", palette=taxonomy.palette, seed=11, size=96)
    files = sorted(p for p in (tmp_path / "photos").iterdir() if p.suffix != ".csv")
    outcomes = await ingest(services, [IngestItem(name=p.name, data=p.read_bytes()) for p in files])
    yield Trail(services, [str(o.asset_id) for o in outcomes], tmp_path)


async def test_renaming_an_unused_value_writes_no_event_on_untouched_tags(trail: Trail) -> None:
    """Break: a taxonomy change rewrites assets it does not change (issue 17, 7th bullet).

    Shrunk: upload two photos; rename a category value no asset holds. Before the fix the
    apply wrote a ``model_tagged`` category event on each asset with the value, tier and
    rule it already had (a new revision for nothing)."""
    held = {(await trail.tag(a, "category"))["value"] for a in trail.ids}
    unused = next(v for v in ("blouse", "tank_top", "hoodie") if v not in held)
    before = {a: int(d["revision"]) for a, d in (await trail.docs()).items()}
    await trail.change(Migration(op="rename", attribute="category", source=unused,
                                 targets=(f"{unused}_r1",)))  # fmt: skip
    checks.check_no_unchanged_events(await checks.all_events(trail.services))
    assert {a: int(d["revision"]) for a, d in (await trail.docs()).items()} == before
