"""Pipeline throughput vs raw encoder forward throughput (issue 3 benchmark).

    python bench/pipeline_throughput.py [--n 128] [--batch 32] [--model random-init] [--smoke]
        [--figures F]

Generates a synthetic catalogue, then times (a) the encoder's forward pass alone over the
already-preprocessed images and (b) the whole ingest pipeline from file bytes: decode →
preprocess → encode → heads → colour → mapping/tiers → bulk write of events and documents
into the real OpenSearch (a throwaway index prefix). Same images, same batch size.
Target: pipeline images/s ≥ 0.9 × encoder images/s.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from figures import Figures, add_common_arguments


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--model", default="random-init")
    ap.add_argument("--opensearch", default=None, help="URL; default: the embedded node")
    add_common_arguments(ap)
    args = ap.parse_args()
    if args.smoke:
        args.n, args.batch, args.rounds, args.model = 8, 4, 1, "random-init:tiny"

    from PIL import Image

    from tagtrail.config import load_settings
    from tagtrail.demo.catalogue import generate_catalogue
    from tagtrail.embedded.node import EmbeddedNode
    from tagtrail.tagging.taxonomy_files import load_palette
    from tagtrail.usecases.ingest import IngestItem
    from tagtrail.usecases.runtime import Runtime

    settings = load_settings(
        index_prefix=f"bench-{uuid.uuid4().hex[:8]}",
        model=args.model,
        batch_size=args.batch,
        opensearch_url=args.opensearch,
    )
    if settings.embedded:
        EmbeddedNode(settings).start()
    runtime = Runtime(settings)
    await runtime.store.ensure_indices()
    tagger = await runtime.tagging.tagger()
    encoder = tagger.encoder
    print(f"model {encoder.fingerprint} on {encoder.device}, batch {args.batch}, n {args.n}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            palette = load_palette(Path(settings.taxonomy_dir) / "colours.yaml")
            generate_catalogue(args.n, Path(tmp), palette=palette, seed=11)
            files = sorted(p for p in Path(tmp).iterdir() if p.name != "manifest.csv")
            blobs = [(p.name, p.read_bytes()) for p in files]
            images = [Image.open(p).convert("RGB") for p in files]

            # Warm-up (first forward allocates); then alternate the two measurements so
            # that background load on this small machine hits both alike.
            encoder.forward_pixels(encoder.preprocess(images[: args.batch]))
            pixels = [
                encoder.preprocess(images[i : i + args.batch])
                for i in range(0, len(images), args.batch)
            ]
            batches = [
                [IngestItem(name=n, data=d) for n, d in blobs[i : i + args.batch]]
                for i in range(0, len(blobs), args.batch)
            ]
            rounds: list[tuple[float, float]] = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                for batch in pixels:
                    encoder.forward_pixels(batch)
                encoder_rate = len(images) / (time.perf_counter() - t0)

                await runtime.store.drop_indices()
                await runtime.store.ensure_indices()
                t0 = time.perf_counter()
                created = 0
                async for outcomes in runtime.ingest.stream(batches, tagger=tagger):
                    created += sum(o.status == "created" for o in outcomes)
                pipeline_rate = len(blobs) / (time.perf_counter() - t0)
                assert created == len(blobs), created
                rounds.append((encoder_rate, pipeline_rate))
                print(
                    f"  round: encoder {encoder_rate:7.2f} img/s, pipeline "
                    f"{pipeline_rate:7.2f} img/s, ratio {pipeline_rate / encoder_rate:.3f}"
                )
    finally:
        await runtime.store.drop_indices()
        await runtime.close()
    enc = float(np.median([r[0] for r in rounds]))
    pipe = float(np.median([r[1] for r in rounds]))
    ratio = float(np.median([r[1] / r[0] for r in rounds]))
    print(f"encoder forward only : {enc:8.2f} images/s (median of {len(rounds)})")
    print(f"full ingest pipeline : {pipe:8.2f} images/s (median; {len(blobs)} assets a round)")
    print(
        f"ratio pipeline/encoder = {ratio:.3f} (median per round; target >= 0.9): "
        f"{'PASS' if ratio >= 0.9 else 'FAIL'}"
    )
    figures = Figures("pipeline_throughput")
    figures.add("encoder forward only", enc, "images/s", better="higher")
    figures.add("full ingest pipeline", pipe, "images/s", better="higher")
    figures.add("pipeline/encoder", ratio, "", better="higher", ratio=True, target=0.9)
    figures.write(args.figures)


if __name__ == "__main__":
    asyncio.run(main())
