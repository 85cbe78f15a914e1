"""What the CLI subcommands do (kept apart from argument parsing)."""

from __future__ import annotations

import csv
import logging
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from tagtrail.config import Settings
from tagtrail.errors import InvalidInput
from tagtrail.usecases import admin
from tagtrail.usecases.services import Services

if TYPE_CHECKING:
    from tagtrail.usecases.ingest import IngestOutcome

log = logging.getLogger("tagtrail")
MANIFEST_NAME = "manifest.csv"


def opensearch(
    settings: Settings, action: str, *, wipe: bool = False, nodes: int | None = 1
) -> int:
    from tagtrail.embedded.manage import opensearch_command

    return opensearch_command(settings, action, wipe=wipe, nodes=nodes)


def _read_manifest(path: Path) -> dict[str, dict[str, Any]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "filename" not in reader.fieldnames:
                raise InvalidInput(
                    f"{path}: the manifest needs a 'filename' column", field="manifest"
                )
            return {
                row["filename"]: {k: v for k, v in row.items() if k != "filename"} for row in reader
            }
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read manifest: {exc}", field="manifest") from exc


async def ingest_directory(
    settings: Settings,
    directory: Path,
    *,
    manifest: Path | None = None,
    batch_size: int | None = None,
) -> int:
    """Ingest every file in ``directory``; per-file errors are listed at the end."""
    from tqdm import tqdm

    from tagtrail.usecases.ingest import IngestItem, ingest_stream

    if not directory.is_dir():
        raise InvalidInput(f"{directory} is not a directory", field="directory")
    if manifest is None and (directory / MANIFEST_NAME).exists():
        manifest = directory / MANIFEST_NAME
    metadata = _read_manifest(manifest) if manifest else {}
    files = sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and p.name != MANIFEST_NAME and not p.name.startswith(".")
    )
    size = batch_size or settings.batch_size
    services = Services(settings)
    outcomes: list[IngestOutcome] = []
    try:
        await admin.init_indices(services)
        tagger = await services.tagger()

        def batches() -> Iterator[list[IngestItem]]:
            for start in range(0, len(files), size):
                items = []
                for path in files[start : start + size]:
                    try:
                        data = path.read_bytes()
                    except OSError as exc:
                        outcomes.append(
                            IngestOutcome(
                                name=path.name,
                                status="failed",
                                error=f"{path.name}: cannot read: {exc}",
                            )
                        )
                        continue
                    items.append(
                        IngestItem(name=path.name, data=data, metadata=metadata.get(path.name))
                    )
                yield items

        with tqdm(total=len(files), unit="img", desc="ingest", file=sys.stderr) as bar:
            async for done in ingest_stream(services, batches(), tagger=tagger):
                outcomes.extend(done)
                bar.update(len(done))
        await admin.make_searchable(services)
    finally:
        await services.close()
    return _report(outcomes)


def _report(outcomes: Sequence[IngestOutcome]) -> int:
    """Counts by status, then every rejected or failed file with its reason; exit 1 if any."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "nothing to ingest")
    problems = [o for o in outcomes if o.status in ("rejected", "failed")]
    for outcome in problems:
        print(f"  {outcome.status}: {outcome.error or outcome.name}", file=sys.stderr)
    return 1 if problems else 0


def ingest_with_ray(settings: Settings, args: Any) -> int:
    """``tagtrail ingest SOURCE --ray [ADDRESS]``: the same ingest as batches on Ray Data."""
    from tagtrail.usecases.ray_ingest import RayOptions, ingest_on_ray
    source, manifest = str(args.directory), args.manifest
    folder = source.removeprefix("file://")  # a URI's manifest comes with --manifest
    if manifest is None and "://" not in folder and (Path(folder) / MANIFEST_NAME).exists():
        manifest = Path(folder) / MANIFEST_NAME
    options = RayOptions(
        address=args.ray or None,
        batch_size=args.batch_size or settings.batch_size,
        actors=args.actors,
    )
    metadata = _read_manifest(manifest) if manifest else {}
    return _report(ingest_on_ray(settings, source, metadata, options))


def demo_catalogue(settings: Settings, count: int, directory: Path, *, seed: int = 0) -> int:
    from tagtrail.usecases.admin import write_demo_catalogue

    items = write_demo_catalogue(settings, count, directory, seed=seed)
    print(f"wrote {len(items)} images and {directory / MANIFEST_NAME}")
    return 0


async def seed_demo(settings: Settings, count: int) -> None:
    """Seed a generated catalogue once, when the store has no assets yet."""
    services = Services(settings)
    try:
        await admin.init_indices(services)
        stored = await admin.asset_count(services)
    finally:
        await services.close()
    if stored > 0:
        log.info("store holds %d assets; not seeding the demo catalogue", stored)
        return
    log.info("empty store: seeding a demo catalogue of %d generated product photos", count)
    with tempfile.TemporaryDirectory(prefix="tagtrail-demo-") as tmp:
        demo_catalogue(settings, count, Path(tmp))
        await ingest_directory(settings, Path(tmp))


async def reproject(settings: Settings, asset_ids: list[str] | None) -> int:
    """Rebuild asset tags from their events; prints how many documents changed."""
    from tagtrail.usecases.reproject import reproject as rebuild

    services = Services(settings)
    try:
        report = await rebuild(services, asset_ids)
    finally:
        await services.close()
    print(msgspec.json.encode(report).decode())
    return 0


async def retag(settings: Settings, args: Any) -> int:
    """Re-tag from stored vectors, or (``--preview``) say what that would change."""
    from tqdm import tqdm

    from tagtrail.usecases.retag import retag_all
    from tagtrail.usecases.retag_preview import retag_preview

    services = Services(settings)
    try:
        total = await admin.asset_count(services)
        desc = "preview" if args.preview else "retag"
        with tqdm(total=total, unit="asset", desc=desc, file=sys.stderr) as bar:
            if args.preview:
                preview = await retag_preview(
                    services, attribute=args.attribute, sample=args.sample, progress=bar.update
                )
            else:
                report = await retag_all(services, progress=bar.update)
    finally:
        await services.close()
    if not args.preview:
        print(msgspec.json.encode(report).decode())
        return 0
    print(msgspec.json.encode(preview).decode())
    print(f"{preview.would_retag} of {preview.checked} assets would change "
          f"({preview.other_encoder} have vectors of another encoder)")  # fmt: skip
    print(f"{'attribute':<14} {'segment':<30} {'value':>6} {'tier':>6} {'+applied':>8} "
          f"{'-applied':>8} {'human':>6}  sample")  # fmt: skip
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

    from tagtrail.usecases import taxonomy_change as change

    run = change.preview_change if args.action == "preview" else change.apply_change
    services = Services(settings)
    try:
        total = await admin.asset_count(services)
        with tqdm(total=total, unit="asset", desc=args.action, file=sys.stderr) as bar:
            report = await run(services, args.directory, sample=args.sample, progress=bar.update)
    finally:
        await services.close()
    print(msgspec.json.encode(report).decode())
    verb = "changed" if report.applied else "would change"
    print(f"{report.assets_changed} of {report.checked} assets {verb} ({report.events} events, "
          f"{report.human_decisions_touched} human decisions carried or re-opened); "
          f"attributes re-decided: {', '.join(report.attributes_moved) or 'none'}")  # fmt: skip
    print(f"{'attribute':<14} {'value':<18} {'segment':<26} {'assets':>6} {'value':>6} "
          f"{'tier':>5} {'hier.':>5} {'retired':>7} {'human':>5}  sample")  # fmt: skip
    for row in report.rows:
        sample = ", ".join(f"{s.asset_id[:10]} {s.old_value}→{s.new_value}" for s in row.sample[:2])
        print(f"{row.attribute:<14} {row.value[:18]:<18} {row.segment[:26]:<26} {row.assets:>6} "
              f"{row.value_changes:>6} {row.tier_changes:>5} {row.hierarchy_changes:>5} "
              f"{row.retired:>7} {row.human_touched:>5}  {sample}")  # fmt: skip
    if report.applied and report.conflicts:
        print(f"{report.conflicts} assets changed meanwhile: run apply again to finish them")
    print(report.in_force_line())
    return 0


async def init_indices(settings: Settings) -> int:
    services = Services(settings)
    try:
        for state in await admin.init_indices(services):
            print(msgspec.json.encode(state).decode())
    finally:
        await services.close()
    return 0


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _pair(old: Any, new: Any, name: str) -> str:
    before = getattr(old, name) if old is not None else None
    return f"{_cell(before)}→{_cell(getattr(new, name))}"


def segment_table(evaluation: Any) -> list[str]:
    """A readable per-segment table: champion → candidate accuracy, macro-F1 and ECE, and the
    candidate's auto-tier precision with its Wilson 95 % interval."""
    champion = {s.segment: s for s in evaluation.champion.segments}
    lines = [f"{'segment':<32} {'n':>5} {'accuracy':>11} {'macro-F1':>11} {'ECE':>11} auto tier"]
    for seg in evaluation.candidate.segments:
        old = champion.get(seg.segment)
        auto = "–" if seg.auto_precision is None else (
            f"{seg.auto_precision:.2f} [{seg.auto_low:.2f}, {seg.auto_high:.2f}] n={seg.auto_n}"
        )  # fmt: skip
        cells = [_pair(old, seg, "accuracy"), _pair(old, seg, "macro_f1"), _pair(old, seg, "ece")]
        lines.append(
            f"{seg.segment[:32]:<32} {seg.n:>5} {cells[0]:>11} {cells[1]:>11} {cells[2]:>11} {auto}"
        )
    return lines


def evaluation_table(result: Any) -> list[str]:
    """The segment table of a head, or the before/after of a colour calibration."""
    if result.evaluation is not None:
        return segment_table(result.evaluation)
    c = result.calibration
    lines = [f"colour calibration, {c.n} reviewer decisions ({c.n_right} right), {c.method}"]
    for name, t in (("in force", c.current), ("candidate", c.candidate)):
        auto = "–" if t.auto_precision is None else f"{t.auto_precision:.3f}"
        lines.append(
            f"{name:<10} {t.version:<18} ECE {t.ece:.4f}  auto tier {t.auto_share:.1%} "
            f"precision {auto}"
        )
    return lines


async def heads(settings: Settings, args: Any) -> int:
    """``tagtrail heads train|evaluate|promote|list``: JSON lines, then readable summaries."""
    from tagtrail.usecases import heads as uc

    services = Services(settings)
    try:
        match args.action:
            case "train":
                log.info("training %s from reviewer decisions", args.attribute)
                trained = await uc.train_head(services, args.attribute, actor=args.actor)
                print(msgspec.json.encode(trained).decode())
                print(f"challenger {trained.version} ({trained.n_examples} examples)")
                _summary(evaluation_table(trained), trained.gate)
            case "evaluate":
                evaluated = await uc.evaluate_head(services, args.attribute, args.head_version)
                print(msgspec.json.encode(evaluated).decode())
                print(f"{evaluated.version} vs champion {evaluated.champion or 'zero-shot'}")
                _summary(evaluation_table(evaluated), evaluated.gate)
                if evaluated.evaluation is not None:
                    await _shadow(services, args.attribute, evaluated.version)
            case "promote":
                result = await uc.promote_head(
                    services,
                    args.attribute,
                    args.head_version,
                    actor=args.actor,
                    force=args.force,
                    note=args.note,
                )
                print(msgspec.json.encode(result).decode())
                for reason in result.reasons:
                    print(f"  {reason}")
                return 0 if result.promoted else 1
            case "list":
                for info in await uc.list_heads(services, args.attribute):
                    print(
                        msgspec.json.encode(
                            msgspec.structs.replace(info, evaluation=None, calibration=None)
                        ).decode()
                    )
    finally:
        await services.close()
    return 0


async def _shadow(services: Services, attribute: str, version: str) -> None:
    from tagtrail.usecases.shadow import challenger_agreement

    r = await challenger_agreement(services, attribute, version)
    if r.n == 0:
        print("shadow mode: no reviewer decisions on its proposals yet")
        return
    print(
        f"shadow mode: {r.n} reviewer decisions; challenger agreed {r.challenger_agreement:.2f} "
        f"[{r.challenger_low:.2f}, {r.challenger_high:.2f}], champion {r.champion_agreement:.2f} "
        f"[{r.champion_low:.2f}, {r.champion_high:.2f}]"
    )


def _summary(table: list[str], decision: Any) -> None:
    for line in table:
        print(line)
    verdict = "would promote" if decision.promote else "gate refuses"
    print(f"{verdict}:")
    for reason in decision.reasons:
        print(f"  {reason}")


async def audit(settings: Settings, args: Any) -> int:
    """``tagtrail audit sample|report``: JSON lines, one per stratum for the report."""
    from tagtrail.usecases import audits

    services = Services(settings)
    try:
        if args.action == "sample":
            sampled = await audits.sample_audits(
                services, round=args.round, attribute=args.attribute, target=args.target
            )
            print(msgspec.json.encode(sampled).decode())
        else:
            report = await audits.audit_report(
                services, round=args.round, attribute=args.attribute, target=args.target
            )
            for row in (*report.totals, *report.strata):
                print(msgspec.json.encode(row).decode())
    finally:
        await services.close()
    return 0


def export_schema(out: Path) -> int:
    from tagtrail.api.graphql.schema import build_schema

    out.write_text(build_schema().as_str() + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


def create_api_key(name: str, role: str) -> int:
    from tagtrail.api import auth

    print(auth.apikey_create_text(name, role))
    return 0
