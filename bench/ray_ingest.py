"""Ingest on Ray Data vs the in-process pipeline, same files, same machine (issue 11).

    python bench/ray_ingest.py [--n 600] [--batch 32] [--rounds 2] [--model random-init]
                               [--cpus N] [--actors 1]

Generates a synthetic catalogue on disk, then alternates, round by round, (a) the in-process
ingest (``ingest_stream``: files read, decoded, tagged and bulk-written, the tagger already
loaded, as in a running server or CLI after start-up) and (b) the Ray Data ingest of the same
folder (``run_on_ray`` on an already started local Ray: CPU tasks decode and measure, the
encoder actor pool tags and writes; the actors' start and model load are inside the time,
since every job starts its own). Each round writes into fresh indices. Also times, on one
core, the two halves that Ray splits: the CPU half per image (read, decode, thumbnail, crop,
colour) and the encoder half (forward pass), which say how many CPU cores feed one encoder.

Target on this 2-core machine: Ray images/s ≥ 0.8 × in-process images/s. The ``random-init``
model is ViT-B/32 with random weights: the real model's arithmetic, its tags mean nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from tagtrail.config import Settings, load_settings
from tagtrail.demo.catalogue import generate_catalogue
from tagtrail.domain.palette import Palette
from tagtrail.embedded.node import EmbeddedNode
from tagtrail.tagging.taxonomy_files import load_palette
from tagtrail.usecases.ingest import IngestItem, ingest_stream
from tagtrail.usecases.ingest_measured import measure
from tagtrail.usecases.ray_ingest import RayOptions, find_sources, run_on_ray
from tagtrail.usecases.services import Services
from tagtrail.vision.colour import ColourAnalyser
from tagtrail.vision.encode import ImageSettings


async def in_process(settings: Settings, folder: Path, batch: int) -> float:
    """Seconds to ingest every file of ``folder`` in-process (tagger loaded beforehand)."""
    services = Services(settings)
    try:
        await services.store.drop_indices()
        await services.store.ensure_indices()
        tagger = await services.tagger()
        files = sorted(p for p in folder.iterdir() if p.suffix == ".jpg")

        def batches() -> list[list[IngestItem]]:
            return [
                [IngestItem(name=p.name, data=p.read_bytes()) for p in files[i : i + batch]]
                for i in range(0, len(files), batch)
            ]

        t0 = time.perf_counter()
        created = 0
        async for outcomes in ingest_stream(services, batches(), tagger=tagger):
            created += sum(o.status == "created" for o in outcomes)
        seconds = time.perf_counter() - t0
        assert created == len(files), created
        await services.store.drop_indices()
        return seconds
    finally:
        await services.close()


async def _fresh_indices(settings: Settings) -> tuple[ImageSettings, Palette]:
    services = Services(settings)
    try:
        await services.store.drop_indices()
        await services.store.ensure_indices()
        encoder, taxonomy = await services.encoder(), await services.taxonomy()
        return encoder.image, taxonomy.palette
    finally:
        await services.close()


async def _drop(settings: Settings) -> None:
    services = Services(settings)
    try:
        await services.store.drop_indices()
    finally:
        await services.close()


def on_ray(settings: Settings, folder: Path, options: RayOptions) -> float:
    image, palette = asyncio.run(_fresh_indices(settings))
    sources = find_sources(str(folder))
    t0 = time.perf_counter()
    outcomes = run_on_ray(settings, sources, {}, image=image, palette=palette, options=options)
    seconds = time.perf_counter() - t0
    created = sum(o.status == "created" for o in outcomes)
    assert created == len(sources.paths), created
    asyncio.run(_drop(settings))
    return seconds


async def halves(settings: Settings, folder: Path, batch: int) -> tuple[float, float]:
    """ms per image of the CPU half and of the encoder's forward pass, on this process."""
    services = Services(settings)
    try:
        encoder, taxonomy = await services.encoder(), await services.taxonomy()
        files = sorted(p for p in folder.iterdir() if p.suffix == ".jpg")[: batch * 4]
        analyser = ColourAnalyser(taxonomy.palette)
        items = [IngestItem(name=p.name, data=p.read_bytes()) for p in files]
        t0 = time.perf_counter()
        measured = measure(items, encoder.image, analyser)
        cpu_ms = (time.perf_counter() - t0) * 1000 / len(items)
        from PIL import Image

        images = [Image.open(p).convert("RGB") for p in files]
        pixels = encoder.preprocess(images)
        encoder.forward_pixels(pixels[:batch])  # warm-up
        t0 = time.perf_counter()
        encoder.forward_pixels(pixels)
        encode_ms = (time.perf_counter() - t0) * 1000 / len(images)
        assert len(measured) == len(items)
        return cpu_ms, encode_ms
    finally:
        await services.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--model", default="random-init")
    ap.add_argument("--cpus", type=int, default=None, help="local Ray's CPUs (default: all)")
    ap.add_argument("--actors", type=int, default=None, help="encoder actors (default: GPUs or 1)")
    ap.add_argument("--opensearch", default=None, help="URL; default: the embedded node")
    args = ap.parse_args()

    import ray

    settings = load_settings(
        index_prefix=f"bench-ray-{uuid.uuid4().hex[:8]}",
        model=args.model,
        batch_size=args.batch,
        opensearch_url=args.opensearch,
    )
    if settings.embedded:
        EmbeddedNode(settings).start()
    ray.init(num_cpus=args.cpus, include_dashboard=False, configure_logging=False)
    resources = ray.cluster_resources()
    print(f"model {args.model}, batch {args.batch}, n {args.n}, Ray CPUs "
          f"{resources.get('CPU', 0):.0f}, GPUs {resources.get('GPU', 0):.0f}")  # fmt: skip
    options = RayOptions(batch_size=args.batch, actors=args.actors)
    rounds: list[tuple[float, float]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            palette = load_palette(Path(settings.taxonomy_dir) / "colours.yaml")
            generate_catalogue(args.n, folder, palette=palette, seed=11)
            cpu_ms, encode_ms = asyncio.run(halves(settings, folder, args.batch))
            print(f"CPU half {cpu_ms:.1f} ms/img (read, decode, thumbnail, crop, colour); "
                  f"encoder forward {encode_ms:.1f} ms/img")  # fmt: skip
            for _ in range(args.rounds):
                local = args.n / asyncio.run(in_process(settings, folder, args.batch))
                distributed = args.n / on_ray(settings, folder, options)
                rounds.append((local, distributed))
                print(f"  round: in-process {local:6.2f} img/s, Ray {distributed:6.2f} img/s, "
                      f"ratio {distributed / local:.3f}")  # fmt: skip
    finally:
        asyncio.run(_drop(settings))
        ray.shutdown()
    local = statistics.median(r[0] for r in rounds)
    distributed = statistics.median(r[1] for r in rounds)
    ratio = statistics.median(r[1] / r[0] for r in rounds)
    print(f"in-process ingest : {local:8.2f} images/s (median of {len(rounds)})")
    print(f"Ray Data ingest   : {distributed:8.2f} images/s (median of {len(rounds)})")
    print(f"ratio Ray/in-process = {ratio:.3f} (median per round; target >= 0.8): "
          f"{'PASS' if ratio >= 0.8 else 'FAIL'}")  # fmt: skip


if __name__ == "__main__":
    main()
