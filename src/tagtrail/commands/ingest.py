"""Ingest of a folder (in process or on Ray) and the demo catalogue."""

from __future__ import annotations

import csv
import logging
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagtrail.config import Settings
from tagtrail.errors import InvalidInput
from tagtrail.usecases.runtime import Runtime

if TYPE_CHECKING:
    from tagtrail.usecases.ingest import IngestOutcome

log = logging.getLogger("tagtrail")
MANIFEST_NAME = "manifest.csv"


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

    from tagtrail.usecases.ingest import IngestItem

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
    outcomes: list[IngestOutcome] = []
    async with Runtime(settings) as runtime:
        await runtime.admin.init_indices()
        tagger = await runtime.tagging.tagger()

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
            async for done in runtime.ingest.stream(batches(), tagger=tagger):
                outcomes.extend(done)
                bar.update(len(done))
        await runtime.admin.make_searchable()
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
    async with Runtime(settings) as runtime:
        await runtime.admin.init_indices()
        stored = await runtime.admin.asset_count()
    if stored > 0:
        log.info("store holds %d assets; not seeding the demo catalogue", stored)
        return
    log.info("empty store: seeding a demo catalogue of %d generated product photos", count)
    with tempfile.TemporaryDirectory(prefix="tagtrail-demo-") as tmp:
        demo_catalogue(settings, count, Path(tmp))
        await ingest_directory(settings, Path(tmp))
