"""Re-tagging stored assets and changing the taxonomy in force."""

from __future__ import annotations

import sys
from typing import Any

import msgspec

from tagtrail.config import Settings
from tagtrail.usecases.runtime import Runtime


async def retag(settings: Settings, args: Any) -> int:
    """Re-tag from stored vectors, or (``--preview``) say what that would change."""
    from tqdm import tqdm

    async with Runtime(settings) as runtime:
        total = await runtime.admin.asset_count()
        desc = "preview" if args.preview else "retag"
        with tqdm(total=total, unit="asset", desc=desc, file=sys.stderr) as bar:
            if args.preview:
                preview = await runtime.retag.preview(
                    attribute=args.attribute, sample=args.sample, progress=bar.update
                )
            else:
                report = await runtime.retag.run(progress=bar.update)
    if not args.preview:
        print(msgspec.json.encode(report).decode())
        return 0
    print(msgspec.json.encode(preview).decode())
    print(
        f"{preview.would_retag} of {preview.checked} assets would change "
        f"({preview.other_encoder} have vectors of another encoder)"
    )
    print(
        f"{'attribute':<14} {'segment':<30} {'value':>6} {'tier':>6} {'+applied':>8} "
        f"{'-applied':>8} {'human':>6}  sample"
    )
    for row in preview.rows:
        sample = ", ".join(f"{s.asset_id[:12]} {s.old_value}→{s.new_value}" for s in row.sample[:2])
        print(
            f"{row.attribute:<14} {row.segment[:30]:<30} {row.value_changes:>6} "
            f"{row.tier_changes:>6} {row.newly_applied:>8} {row.no_longer_applied:>8} "
            f"{row.human_decided:>6}  {sample}"
        )
    return 0


async def taxonomy(settings: Settings, args: Any) -> int:
    """``tagtrail taxonomy preview|apply NEW_DIR``: JSON, then a table per attribute/value."""
    from tqdm import tqdm

    async with Runtime(settings) as runtime:
        changes = runtime.taxonomy_changes
        run = changes.preview if args.action == "preview" else changes.apply
        total = await runtime.admin.asset_count()
        with tqdm(total=total, unit="asset", desc=args.action, file=sys.stderr) as bar:
            report = await run(args.directory, sample=args.sample, progress=bar.update)
    print(msgspec.json.encode(report).decode())
    verb = "changed" if report.applied else "would change"
    print(
        f"{report.assets_changed} of {report.checked} assets {verb} ({report.events} events, "
        f"{report.human_decisions_touched} human decisions carried or re-opened); "
        f"attributes re-decided: {', '.join(report.attributes_moved) or 'none'}"
    )
    print(
        f"{'attribute':<14} {'value':<18} {'segment':<26} {'assets':>6} {'value':>6} "
        f"{'tier':>5} {'hier.':>5} {'retired':>7} {'human':>5}  sample"
    )
    for row in report.rows:
        sample = ", ".join(f"{s.asset_id[:10]} {s.old_value}→{s.new_value}" for s in row.sample[:2])
        print(
            f"{row.attribute:<14} {row.value[:18]:<18} {row.segment[:26]:<26} {row.assets:>6} "
            f"{row.value_changes:>6} {row.tier_changes:>5} {row.hierarchy_changes:>5} "
            f"{row.retired:>7} {row.human_touched:>5}  {sample}"
        )
    if report.applied and report.conflicts:
        print(f"{report.conflicts} assets changed meanwhile: run apply again to finish them")
    print(report.in_force_line())
    return 0
