"""Rebuild asset documents from their events (``tagtrail reproject``).

Safe while reviewers work: each asset's history is read up to its current revision (newer
revisions by id, so a decision made a moment ago is included) and the rewrite is guarded by
the document's seq_no; an asset that changed meanwhile is read again.
"""

from __future__ import annotations

import msgspec

from tagtrail.store import Store


class ReprojectReport(msgspec.Struct, kw_only=True):
    checked: int = 0
    changed: int = 0


async def reproject(store: Store, asset_ids: list[str] | None = None) -> ReprojectReport:
    report = ReprojectReport()
    await store.refresh()
    if asset_ids is None:
        asset_ids = [d["asset_id"] async for page in store.assets.scan(None) for d in page]
    for asset_id in asset_ids:
        report.checked += 1
        report.changed += int(await store.assets.reproject(asset_id))
    await store.refresh()
    return report
