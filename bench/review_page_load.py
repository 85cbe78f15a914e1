"""Page load of the review grid: 50 items with thumbnails, in headless Debian chromium.

    python bench/review_page_load.py [--loads 10] [--items 50] [--attribute category] [--smoke]
        [--figures F]
    python bench/review_page_load.py --url http://127.0.0.1:8000 [--key tt_...]

Without ``--url`` it ingests ``--items`` generated product photos (thumbnails included) into
a throwaway index prefix of the embedded node and starts tagtrail under uvicorn
(bench/serving.py); with ``--url`` it measures a server that is already running (for example
``./scripts/serve``, whose demo catalogue is seeded at start). Each load opens a fresh
browser context (a cold HTTP cache) on ``/review?attribute=...`` and reads the Navigation
Timing entry (``--warm``: one context throughout, so its HTTP cache keeps thumbnails and
scripts) — ``responseEnd`` (HTML), ``domContentLoadedEventEnd``, ``loadEventEnd`` — plus
"grid ready": the moment the cards are shown and every thumbnail has decoded, measured from
the same time origin (the taxonomy for the filters and the type-ahead loads after that).
Prints the median and the spread (min–max) of each. Target: grid ready < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from figures import Figures, add_common_arguments
from serving import ingest_demo, serving

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Polled every animation frame; the first frame it holds is noted in the page, so the
# number does not include Playwright's round trips.
READY = """(n) => {
  const imgs = [...document.querySelectorAll('#grid img.thumb')];
  const ready = document.body.dataset.grid === 'ready' && imgs.length >= n
    && imgs.every((i) => i.complete && i.naturalWidth > 0);
  if (ready && window.gridReadyAt === undefined) window.gridReadyAt = performance.now();
  return ready;
}"""
TIMING = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const gql = res.filter((r) => r.name.endsWith('/graphql'));
  const thumbs = res.filter((r) => r.name.endsWith('/thumbnail'));
  return {html: nav.responseEnd, dom: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
          queue: Math.max(...gql.map((r) => r.responseEnd)),
          thumbs: thumbs.length ? Math.max(...thumbs.map((r) => r.responseEnd)) : null,
          requests: thumbs.length,
          ready: window.gridReadyAt, cards: document.querySelectorAll('#grid > li').length};
}"""


async def seed(items: int, prefix: str) -> object:
    from tagtrail.config import load_settings
    from tagtrail.embedded.node import EmbeddedNode
    from tagtrail.usecases.runtime import Runtime

    settings = load_settings(index_prefix=prefix, model="random-init:tiny", batch_size=16)
    if settings.embedded:
        EmbeddedNode(settings).start()
    runtime = Runtime(settings)
    try:
        await runtime.store.ensure_indices()
        _, outcomes = await ingest_demo(runtime, settings, items)
        await runtime.store.refresh()
        print(f"seeded {sum(o.status == 'created' for o in outcomes)} photos under {prefix}")
    finally:
        await runtime.close()
    return settings


@contextmanager
def target(args: argparse.Namespace) -> Iterator[str]:
    if args.url:
        yield args.url.rstrip("/")
        return
    # The server inherits the environment: its thumbnail cache (0 = from OpenSearch each time).
    os.environ["TAGTRAIL_THUMBNAIL_CACHE_MB"] = str(args.thumbnail_cache_mb)
    prefix = f"bench-web-{uuid.uuid4().hex[:8]}"
    settings = asyncio.run(seed(args.items, prefix))
    with serving(settings) as url:  # type: ignore[arg-type]
        yield url


def measure(url: str, args: argparse.Namespace) -> list[dict[str, float | None]]:
    from playwright.sync_api import sync_playwright

    runs = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        page_url = f"{url}/review?attribute={args.attribute}"
        shared = None
        for n in range(args.loads + 1):  # the first load warms the server, not counted
            context = shared or browser.new_context(viewport={"width": 1400, "height": 900})
            if args.warm:
                shared = context  # one context: its HTTP cache keeps the thumbnails
            if args.key and (not args.warm or n == 0):
                context.add_init_script(f"sessionStorage.setItem('tagtrail.apiKey', {args.key!r})")
            page = context.new_page()
            page.goto(page_url)
            page.wait_for_function(READY, arg=min(args.items, 50), timeout=30_000)
            timing = page.evaluate(TIMING)
            page.close()
            if not args.warm:
                context.close()
            if n:
                runs.append(timing)
        browser.close()
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", help="a running tagtrail server (default: start one)")
    ap.add_argument("--key", help="API key, when the server requires one")
    ap.add_argument("--loads", type=int, default=10)
    ap.add_argument("--items", type=int, default=50, help="photos to seed (without --url)")
    ap.add_argument("--attribute", default="category", help="the queue's attribute")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--warm", action="store_true", help="reuse one browser context (cache)")
    ap.add_argument(
        "--thumbnail-cache-mb", type=int, default=32, help="the started server's (0: none)"
    )
    add_common_arguments(ap)
    args = ap.parse_args()
    if args.smoke:
        args.loads, args.items = 2, 6
    figures = Figures("review_page_load")
    with target(args) as url:
        runs = measure(url, args)
    kind = "warm-cache" if args.warm else "cold"
    if not args.url:
        kind += f", server thumbnail cache {args.thumbnail_cache_mb} MiB"
    print(f"review grid, {runs[0]['cards']:.0f} cards with thumbnails, {len(runs)} {kind} loads")
    labels = {
        "html": "HTML received",
        "dom": "DOMContentLoaded",
        "load": "load event",
        "queue": "GraphQL answered (last)",
        "thumbs": "thumbnails received (last)",
        "ready": "grid ready (thumbnails decoded)",
    }
    for name, label in labels.items():
        values = sorted(r[name] for r in runs if r[name] is not None)
        if not values:
            print(f"  {label:32s} none: the queue's answer inlined them (Asset.thumbnail)")
            continue
        print(
            f"  {label:32s} median {statistics.median(values):7.1f} ms "
            f"(spread {values[0]:.1f}–{values[-1]:.1f})"
        )
        goal = 1000 if name == "ready" else None
        median = statistics.median(values)
        figures.add(f"{label} (median of loads)", median, "ms", better="lower", target=goal)
    requests = statistics.median(r["requests"] for r in runs)
    print(f"  thumbnail requests per load      median {requests:.0f}")
    ready = statistics.median(r["ready"] for r in runs)
    print(f"target grid ready < 1000 ms: {'met' if ready < 1000 else 'NOT met'}")
    figures.add("thumbnail requests per load", requests, "", better="lower")
    figures.write(args.figures)


if __name__ == "__main__":
    main()
