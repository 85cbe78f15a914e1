"""The quality page at catalogue scale: ``qualityReport`` and ``/quality`` in Debian chromium.

    python bench/quality_page.py [--assets 100000] [--queries 5] [--loads 5] [--smoke]
        [--figures F]

Seeds ``--assets`` asset documents into a throwaway index prefix of the embedded node, as
the projection writes them (``domain.projection``): four machine tags each (category,
pattern, shot type, colour) first seen over the last 90 days, with probabilities and tiers
drawn from a fixed seed, five brands, two seasons; one asset in five has its category
decided by a reviewer (kept four times in five, corrected otherwise; each decision timed and
in the trail). No vectors, no thumbnails: the page reads only counts. Then it starts tagtrail
under uvicorn and measures the report over GraphQL (``--queries`` times after one warm-up)
and ``--loads`` cold loads of ``/quality`` (a fresh browser context each): Navigation Timing
and "page ready" (the charts drawn: ``body[data-ready]``), from the same time origin.
Target: page ready < 1 s at 100,000 assets.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from figures import Figures, add_common_arguments
from review_page_load import CHROMIUM_ARGS
from serving import serving

REPORT = """{ qualityReport { ... on QualityReport { attributes { attribute
    tiersByDay { day total } reliability { n ece } corrections { segment rate } } } } }"""
READY = """() => {
  const ready = document.body.dataset.ready === 'true';
  if (ready && window.qualityReadyAt === undefined) window.qualityReadyAt = performance.now();
  return ready;
}"""
TIMING = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  return {html: nav.responseEnd, dom: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
          ready: window.qualityReadyAt,
          marks: document.querySelectorAll('[data-chart] svg *').length};
}"""
BRANDS = ("Northwind", "Kobo", "Atelier Sud", "Maison Lark", "Fjell & Co")
VALUES = {
    "category": ("jumper", "dress", "peacoat", "t_shirt", "trousers", "sneakers"),
    "pattern": ("solid", "stripe", "check", "dot"),
    "shot_type": ("flat_lay", "on_model", "ghost_mannequin"),
    "colour": ("black", "navy", "cream", "burgundy", "sage"),
}
BULK = 2000  # documents per bulk request


def _tier(p: float) -> str:
    return "auto_applied" if p >= 0.95 else "flagged" if p >= 0.75 else "suggested"


def _events(i: int, rng: random.Random, now: dt.datetime) -> list[Any]:
    """An asset's model events, and a timed reviewer decision on its category for one in five."""
    from tagtrail.domain.records import Actor, TagEvent, event_id

    seen = (now - dt.timedelta(days=rng.uniform(0, 89))).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    asset = f"b{i:07d}"
    events = []
    for n, (attribute, values) in enumerate(VALUES.items()):
        value, p = rng.choice(values), rng.betavariate(6, 1.5)
        events.append(
            TagEvent(
                event_id=event_id(asset, 1, n),
                asset_id=asset,
                attribute=attribute,
                kind="model_tagged",
                seq=1,
                at=seen,
                state=_tier(p),  # type: ignore[arg-type]
                actor=Actor(type="model", id="bench", head_version="zero-shot@1"),
                value=value,
                values=(value,),
                probability=p,
                tier=_tier(p),
            )
        )
    if i % 5 == 0:
        kept = rng.random() < 0.8
        value = events[0].value if kept else "cardigan"
        events.append(
            TagEvent(
                event_id=event_id(asset, 2, 0),
                asset_id=asset,
                attribute="category",
                kind="confirmed" if kept else "corrected",
                seq=2,
                at=(now - dt.timedelta(hours=rng.uniform(0, 48))).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                state="confirmed" if kept else "corrected",
                actor=Actor(type="human", id=f"reviewer{i % 3}"),
                value=value,
                values=(value,),
                shown_ms=int(rng.lognormvariate(8, 0.5)),
            )
        )
    return events


async def seed(assets: int, prefix: str) -> object:
    import msgspec

    from tagtrail.config import load_settings
    from tagtrail.domain.projection import projection_fields
    from tagtrail.embedded.node import EmbeddedNode
    from tagtrail.store import Store

    settings = load_settings(index_prefix=prefix, model="random-init:tiny")
    if settings.embedded:
        EmbeddedNode(settings).start()
    store = Store(settings)
    rng, now = random.Random(11), dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    try:
        await store.ensure_indices()
        for start in range(0, assets, BULK):
            docs: list[Any] = []
            decisions: list[Any] = []
            for i in range(start, min(start + BULK, assets)):
                events = _events(i, rng, now)
                doc = {
                    "asset_id": events[0].asset_id,
                    "brand": BRANDS[i % len(BRANDS)],
                    "season": "FW" if i % 2 else "SS",
                    "ingested_at": events[0].at,
                    "updated_at": events[-1].at,
                    **projection_fields(events),
                }
                docs += [{"index": {"_index": store.assets.index, "_id": doc["asset_id"]}}, doc]
                for e in events[4:]:
                    decisions += [{"index": {"_index": store.events.index, "_id": e.event_id}}]
                    decisions.append(msgspec.to_builtins(e))
            for body in (docs, decisions):
                if body:
                    result = await store.client.bulk(body=body)
                    assert not result["errors"], "bulk seeding failed"
        await store.refresh()
    finally:
        await store.close()
    print(f"seeded {assets} assets under {prefix} in {time.perf_counter() - started:.0f} s")
    return settings


@contextmanager
def target(assets: int) -> Iterator[str]:
    prefix = f"bench-quality-{uuid.uuid4().hex[:8]}"
    settings = asyncio.run(seed(assets, prefix))
    with serving(settings) as url:  # type: ignore[arg-type]
        yield url


def query_times(url: str, n: int) -> list[float]:
    out = []
    with httpx.Client(base_url=url, timeout=60) as http:
        for k in range(n + 1):  # the first warms the node's caches, not counted
            started = time.perf_counter()
            answer = http.post("/graphql", json={"query": REPORT}).json()
            took = (time.perf_counter() - started) * 1000
            assert answer["data"]["qualityReport"]["attributes"], answer
            if k:
                out.append(took)
    return out


def page_loads(url: str, n: int, chromium: str) -> list[dict[str, float]]:
    from playwright.sync_api import sync_playwright

    runs = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for k in range(n + 1):  # the first load warms the server, not counted
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.goto(f"{url}/quality")
            page.wait_for_function(READY, timeout=60_000)
            timing = page.evaluate(TIMING)
            context.close()
            if k:
                runs.append(timing)
        browser.close()
    return runs


def _spread(values: list[float]) -> str:
    values = sorted(values)
    return f"median {statistics.median(values):7.1f} ms (spread {values[0]:.1f}–{values[-1]:.1f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--assets", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=5)
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    add_common_arguments(ap)
    args = ap.parse_args()
    if args.smoke:
        args.assets, args.queries, args.loads = 500, 2, 2
    figures = Figures("quality_page")
    with target(args.assets) as url:
        queries = query_times(url, args.queries)
        loads = page_loads(url, args.loads, args.chromium)
    print(f"quality report over {args.assets} assets")
    print(f"  qualityReport over GraphQL       {_spread(queries)}")
    figures.add(
        "qualityReport (median of queries)", statistics.median(queries), "ms", better="lower"
    )
    labels = {"html": "HTML received", "dom": "DOMContentLoaded", "ready": "page ready (charts)"}
    for name, label in labels.items():
        values = [r[name] for r in loads]
        print(f"  {label:32s} {_spread(values)}")
        goal = 1000 if name == "ready" else None
        figures.add(
            f"{label} (median of loads)",
            statistics.median(values),
            "ms",
            better="lower",
            target=goal,
        )
    print(f"  chart marks drawn                {statistics.median(r['marks'] for r in loads):.0f}")
    ready = statistics.median(r["ready"] for r in loads)
    print(f"target page ready < 1000 ms: {'met' if ready < 1000 else 'NOT met'}")
    figures.write(args.figures)


if __name__ == "__main__":
    main()
