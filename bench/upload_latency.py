"""POST /assets latency for one client, and throughput with concurrent clients.

    python bench/upload_latency.py [--n 60] [--clients 1,8,32] [--per-client 4] [--smoke]
        [--figures F]

Starts ``tagtrail.app:create_app`` under uvicorn in a subprocess (random-init ViT-B/32 by
default, a throwaway index prefix on the embedded node) and uploads generated ~640×640 JPEG
product photos over real HTTP (multipart, a reviewer's dev-mode request):

1. serial: one client, one upload at a time, ``--n`` distinct photos: p50/p95 latency
   (target p50 ≤ 150 ms, p95 ≤ 300 ms), and its ratio to the encoder's single-image
   forward pass, measured in this process on the same model (how much of it is the encoder);
2. concurrent: for each client count, ``clients × per-client`` distinct photos uploaded by
   that many clients at once: images/s, vs the encoder's batched rate measured here at the
   server's batch size (target at 32 clients: ≥ 0.8).

Both processes share this machine's cores, as a server and its encoder would.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
from figures import Figures, add_common_arguments
from PIL import Image
from serving import start_server

from tagtrail.config import Settings, load_settings
from tagtrail.demo.catalogue import generate_catalogue
from tagtrail.embedded.node import EmbeddedNode
from tagtrail.store import Store
from tagtrail.tagging.taxonomy_files import load_palette
from tagtrail.vision.encode import load_encoder

SIDE = 640


def photos(settings: Settings, n: int, seed: int) -> list[bytes]:
    """``n`` distinct generated product photos as ~640×640 JPEGs."""
    palette = load_palette(Path(settings.taxonomy_dir) / "colours.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        generate_catalogue(n, Path(tmp), palette=palette, seed=seed, size=SIDE)
        out = []
        for path in sorted(Path(tmp).iterdir()):
            if path.suffix == ".csv":
                continue
            buf = io.BytesIO()
            Image.open(path).convert("RGB").save(buf, format="JPEG", quality=90)
            out.append(buf.getvalue())
    return out


async def encoder_totals(http: httpx.AsyncClient, url: str) -> tuple[float, float, float]:
    """(batches, images, seconds) the server's inference thread has spent, from /metrics."""
    text = (await http.get(f"{url}/metrics")).text
    values: dict[str, float] = {}
    for line in text.splitlines():
        for name in (
            "tagtrail_encoder_batch_size_count",
            "tagtrail_encoder_batch_size_sum",
            "tagtrail_encoder_batch_duration_seconds_sum",
        ):
            if line.startswith(name + " ") or line.startswith(name + "{"):
                values[name] = values.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return (
        values.get("tagtrail_encoder_batch_size_count", 0.0),
        values.get("tagtrail_encoder_batch_size_sum", 0.0),
        values.get("tagtrail_encoder_batch_duration_seconds_sum", 0.0),
    )


async def upload(http: httpx.AsyncClient, url: str, data: bytes, name: str) -> float:
    t0 = time.perf_counter()
    r = await http.post(f"{url}/assets", files={"image": (name, data, "image/jpeg")})
    elapsed = time.perf_counter() - t0
    if r.status_code != 201:
        raise SystemExit(f"upload {name}: HTTP {r.status_code} {r.text[:200]}")
    return elapsed


def encoder_rates(settings: Settings, images: list[bytes]) -> tuple[float, float]:
    """(median seconds of one single-image forward, images/s of batched forwards)."""
    encoder = load_encoder(
        settings.model, batch_size=settings.batch_size, dtype=settings.model_dtype
    )
    decoded = [Image.open(io.BytesIO(b)).convert("RGB") for b in images]
    one = encoder.preprocess(decoded[:1])
    batch = encoder.preprocess(decoded[: settings.batch_size])
    encoder.forward_pixels(batch)  # warm-up
    singles = []
    for _ in range(30):
        t0 = time.perf_counter()
        encoder.forward_pixels(one)
        singles.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(3):
        encoder.forward_pixels(batch)
    batched = 3 * len(decoded[: settings.batch_size]) / (time.perf_counter() - t0)
    return float(np.median(singles)), batched


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=60, help="serial uploads")
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--per-client", type=int, default=4)
    ap.add_argument("--model", default="random-init")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--dtype", default="float32", help="float32, or int8 (CPU quantisation)")
    ap.add_argument("--opensearch", default=None, help="URL; default: the embedded node")
    add_common_arguments(ap)
    args = ap.parse_args()
    if args.smoke:
        args.n, args.clients, args.per_client = 4, "1,2", 2
        args.model, args.batch = "random-init:tiny", 4
    figures = Figures("upload_latency")
    clients = [int(c) for c in args.clients.split(",")]
    settings = load_settings(
        index_prefix=f"bench-up-{uuid.uuid4().hex[:8]}",
        model=args.model,
        batch_size=args.batch,
        model_dtype=args.dtype,
        opensearch_url=args.opensearch,
    )
    if settings.embedded:
        EmbeddedNode(settings).start()
    total = 5 + args.n + sum(c * args.per_client for c in clients)
    blobs = photos(settings, total, seed=23)
    sizes = [Image.open(io.BytesIO(b)).size for b in blobs[:1]]
    single_s, batched_rate = encoder_rates(settings, blobs)
    print(
        f"model {args.model} ({args.dtype}), {len(blobs)} photos of "
        f"{sizes[0][0]}×{sizes[0][1]} JPEG "
        f"(~{int(np.mean([len(b) for b in blobs]) / 1024)} KiB)"
    )
    print(
        f"encoder: single-image forward {single_s * 1000:.1f} ms (median of 30); "
        f"batched {batched_rate:.1f} img/s at batch {settings.batch_size}"
    )
    proc, url = start_server(settings)
    store = Store(settings)
    try:
        async with httpx.AsyncClient(timeout=120) as http:
            cursor = 0
            for i in range(5):  # warm-up: first requests allocate
                await upload(http, url, blobs[cursor], f"warm{i}.jpg")
                cursor += 1
            serial = []
            for i in range(args.n):
                serial.append(await upload(http, url, blobs[cursor], f"s{i}.jpg"))
                cursor += 1
            p50, p95 = np.percentile(serial, 50), np.percentile(serial, 95)
            print(
                f"serial uploads (n={args.n}): p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms "
                f"(targets 150 / 300); p50 / single forward = {p50 / single_s:.2f}"
            )
            figures.add("single-image forward", single_s * 1000, "ms", better="lower")
            figures.add("serial upload p50", p50 * 1000, "ms", better="lower", target=150)
            figures.add("serial upload p95", p95 * 1000, "ms", better="lower", target=300)
            figures.add("upload p50/single forward", p50 / single_s, "", better="lower", ratio=True)
            for c in clients:
                chunk = blobs[cursor : cursor + c * args.per_client]
                cursor += len(chunk)

                async def client(k: int, chunk: list[bytes] = chunk, c: int = c) -> None:
                    for j in range(k, len(chunk), c):
                        await upload(http, url, chunk[j], f"c{c}-{j}.jpg")

                before = await encoder_totals(http, url)
                t0 = time.perf_counter()
                await asyncio.gather(*(client(k) for k in range(c)))
                elapsed = time.perf_counter() - t0
                rate = len(chunk) / elapsed
                after = await encoder_totals(http, url)
                batches, images, busy = (a - b for a, b in zip(after, before, strict=True))
                print(
                    f"{c:3d} concurrent clients: {rate:6.1f} img/s = "
                    f"{rate / batched_rate:.2f} × batched encoder"
                    + ("  (target ≥ 0.8)" if c == 32 else "")
                    + f"; mean batch {images / max(batches, 1):.1f}, inference thread busy "
                    f"{busy / elapsed:.0%}"
                )
                figures.add(f"{c} concurrent clients", rate, "images/s", better="higher")
                figures.add(
                    f"{c} concurrent clients/batched encoder",
                    rate / batched_rate,
                    "",
                    better="higher",
                    ratio=True,
                    target=0.8 if c == 32 else None,
                )
        figures.write(args.figures)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        await store.drop_indices()
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
