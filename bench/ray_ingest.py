"""Ingest on Ray Data vs the in-process pipeline, same files, same machine (issue 11).

    python bench/ray_ingest.py [--n 600] [--batch 32] [--rounds 2] [--model random-init]
                               [--cpus N] [--actors 1] [--smoke] [--figures F]

Generates a synthetic catalogue on disk, then alternates, round by round, (a) the in-process
ingest (what ``tagtrail ingest DIR`` runs: model and heads loaded, files read, decoded,
tagged and bulk-written) and (b) the Ray Data ingest of the same folder (what ``--ray`` runs
on an already started local Ray: the driver's preparation, then CPU tasks decode and measure
while the encoder actor pool, started and loaded by the job, tags and writes). Both from a
cold start, into fresh indices. Reported: overall images/s (start-up included) and steady
images/s (from the first batch of results to the last, so start-up and pipeline fill are
left out the same way for both). Also times, on one
core, the two halves that Ray splits: the CPU half per image (read, decode, thumbnail, crop,
colour) and the encoder half (forward pass), which say how many CPU cores feed one encoder.

Target on this 2-core machine: Ray steady images/s ≥ 0.8 × in-process; start-up is a fixed
cost per job, so the overall ratio rises with ``--n``. The ``random-init``
model is ViT-B/32 with random weights: the real model's arithmetic, its tags mean nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from figures import Figures, add_common_arguments

from tagtrail.config import Settings, load_settings
from tagtrail.demo.catalogue import generate_catalogue
from tagtrail.embedded.node import EmbeddedNode
from tagtrail.tagging.taxonomy_files import load_palette
from tagtrail.usecases.ingest import IngestItem
from tagtrail.usecases.ingest_measured import measure
from tagtrail.usecases.ray_ingest import RayOptions, prepare_ray_job, run_on_ray
from tagtrail.usecases.runtime import Runtime
from tagtrail.vision.colour import ColourAnalyser


class Clock:
    """Wall time of a run, and its steady-state rate: images after the first batch of
    results over the time from that batch to the last (start-up and pipeline fill left
    out, the same way for both paths)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.marks: list[tuple[float, int]] = []

    def batch(self, rows: int) -> None:
        self.marks.append((time.perf_counter(), rows))

    @property
    def seconds(self) -> float:
        return self.marks[-1][0] - self.start

    @property
    def first_s(self) -> float:
        return self.marks[0][0] - self.start

    @property
    def steady(self) -> float:
        rows = sum(r for _, r in self.marks[1:])
        return rows / (self.marks[-1][0] - self.marks[0][0])


async def in_process(settings: Settings, folder: Path, batch: int) -> Clock:
    """Ingest every file of ``folder`` in-process, from a cold start as the CLI makes it
    (model and heads loaded inside the time)."""
    await _drop(settings)
    clock = Clock()
    runtime = Runtime(settings)
    try:
        await runtime.store.ensure_indices()
        tagger = await runtime.tagging.tagger()
        files = sorted(p for p in folder.iterdir() if p.suffix == ".jpg")

        def batches() -> Iterator[list[IngestItem]]:
            for i in range(0, len(files), batch):
                yield [IngestItem(name=p.name, data=p.read_bytes()) for p in files[i : i + batch]]

        created = 0
        async for outcomes in runtime.ingest.stream(batches(), tagger=tagger):
            created += sum(o.status == "created" for o in outcomes)
            clock.batch(len(outcomes))
        assert created == len(files), created
    finally:
        await runtime.close()
    await _drop(settings)
    return clock


async def _drop(settings: Settings) -> None:
    runtime = Runtime(settings)
    try:
        await runtime.store.drop_indices()
    finally:
        await runtime.close()


def on_ray(settings: Settings, folder: Path, options: RayOptions) -> Clock:
    """The same on Ray, also from a cold start (the driver's preparation, the actors' start
    and model load inside the time); the Ray cluster itself runs already."""
    asyncio.run(_drop(settings))
    clock = Clock()
    job = asyncio.run(prepare_ray_job(settings, str(folder)))
    outcomes = run_on_ray(
        settings,
        job.sources,
        {},
        image=job.image,
        palette=job.palette,
        options=options,
        on_batch=clock.batch,
    )
    created = sum(o.status == "created" for o in outcomes)
    assert created == len(job.sources.paths), created
    asyncio.run(_drop(settings))
    return clock


async def halves(settings: Settings, folder: Path, batch: int) -> tuple[float, float]:
    """ms per image of the CPU half and of the encoder's forward pass, on this process."""
    runtime = Runtime(settings)
    try:
        encoder, taxonomy = await runtime.tagging.encoder(), await runtime.taxonomy.current()
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
        await runtime.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--model", default="random-init")
    ap.add_argument("--cpus", type=int, default=None, help="local Ray's CPUs (default: all)")
    ap.add_argument("--actors", type=int, default=None, help="encoder actors (default: GPUs or 1)")
    ap.add_argument("--opensearch", default=None, help="URL; default: the embedded node")
    add_common_arguments(ap)
    args = ap.parse_args()
    if args.smoke:
        args.n, args.batch, args.rounds, args.model = 16, 4, 1, "random-init:tiny"

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
    print(
        f"model {args.model}, batch {args.batch}, n {args.n}, Ray CPUs "
        f"{resources.get('CPU', 0):.0f}, GPUs {resources.get('GPU', 0):.0f}"
    )
    options = RayOptions(batch_size=args.batch, actors=args.actors)
    rounds: list[tuple[Clock, Clock]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            palette = load_palette(Path(settings.taxonomy_dir) / "colours.yaml")
            generate_catalogue(args.n, folder, palette=palette, seed=11)
            cpu_ms, encode_ms = asyncio.run(halves(settings, folder, args.batch))
            print(
                f"CPU half {cpu_ms:.1f} ms/img (read, decode, thumbnail, crop, colour); "
                f"encoder forward {encode_ms:.1f} ms/img"
            )
            for _ in range(args.rounds):
                local = asyncio.run(in_process(settings, folder, args.batch))
                distributed = on_ray(settings, folder, options)
                rounds.append((local, distributed))
                for name, c in (("in-process", local), ("Ray", distributed)):
                    print(
                        f"  {name:>10}: {args.n / c.seconds:6.2f} img/s overall "
                        f"({c.seconds:5.1f} s, first results after {c.first_s:4.1f} s), "
                        f"{c.steady:6.2f} img/s steady"
                    )
    finally:
        asyncio.run(_drop(settings))
        ray.shutdown()
    figures = Figures("ray_ingest")
    figures.add("CPU half", cpu_ms, "ms/image", better="lower")
    figures.add("encoder forward", encode_ms, "ms/image", better="lower")
    for label, rate in (("steady", lambda c: c.steady), ("overall", lambda c: args.n / c.seconds)):
        local = statistics.median(rate(r[0]) for r in rounds)
        distributed = statistics.median(rate(r[1]) for r in rounds)
        ratio = statistics.median(rate(r[1]) / rate(r[0]) for r in rounds)
        print(
            f"{label:>7}: in-process {local:7.2f} img/s, Ray {distributed:7.2f} img/s, "
            f"ratio Ray/in-process {ratio:.3f} (medians of {len(rounds)} rounds)"
        )
        figures.add(f"{label} in-process", local, "images/s", better="higher")
        figures.add(f"{label} Ray", distributed, "images/s", better="higher")
        target = 0.8 if label == "steady" else None
        name = f"{label} Ray/in-process"
        figures.add(name, ratio, "", better="higher", ratio=True, target=target)
    startup = statistics.median(r[1].first_s - r[0].first_s for r in rounds)
    print(f"first results: Ray {startup:+.1f} s later than in-process (its actors' start)")
    figures.add("Ray's first results later by", startup, "s", better="lower")
    steady = statistics.median(r[1].steady / r[0].steady for r in rounds)
    print(f"target: steady ratio >= 0.8: {'PASS' if steady >= 0.8 else 'FAIL'}")
    figures.write(args.figures)


if __name__ == "__main__":
    main()
