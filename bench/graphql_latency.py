"""GraphQL overhead and filtered k-NN recall on a generated catalogue.

    python bench/graphql_latency.py [--n 100000] [--runs 200] [--keep] [--smoke] [--figures F]

1. Indexes ``--n`` generated asset documents (metadata, five tags each folded through the
   real projection, a 512-d vector) into the prefix ``tt-bench-<n>``; with ``--keep`` the
   indices stay and a later run with the same ``--n`` reuses them.
   Vectors are clustered (seeded numpy): unit noise around 500 "product" centres, so the
   neighbourhoods look like CLIP's rather than like uniform noise, where nothing is near.
2. Starts ``tagtrail.app:create_app`` under uvicorn in a subprocess (its own interpreter,
   as in production) and measures, interleaved over ``--runs`` runs:
   (a) a faceted search, four filters and five facets, and (b) a filtered k-NN (k=10),
   each through GraphQL over HTTP vs the same OpenSearch body sent directly with
   opensearch-py — p50/p95 and the GraphQL/direct ratio (target ≤ 1.5).
3. recall@10 of the filtered k-NN answers (taken from the GraphQL responses) against exact
   brute force in numpy over the same filtered subset (target ≥ 0.95).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import numpy as np
from figures import Figures, add_common_arguments
from serving import start_server

from tagtrail.config import Settings, load_settings
from tagtrail.domain.projection import projection_fields
from tagtrail.domain.records import Actor, TagEvent, TagState, event_id
from tagtrail.store import queries as q
from tagtrail.store.client import make_client
from tagtrail.store.indices import drop_indices, ensure_indices
from tagtrail.usecases.search import EF_SEARCH

DIM = 512
CENTRES = 500
BATCH = 1000
CATEGORIES = (
    "peacoat",
    "trench_coat",
    "puffer_jacket",
    "overcoat",
    "parka",
    "blazer",
    "bomber_jacket",
    "cardigan",
    "jumper",
    "dress",
    "t_shirt",
    "shirt",
    "trousers",
    "jeans",
    "skirt",
    "sneakers",
    "boots",
    "tote_bag",
    "scarf",
    "hat",
)
COLOURS = (
    "black",
    "navy",
    "charcoal",
    "camel",
    "ivory",
    "burgundy",
    "forest_green",
    "cobalt",
    "tan",
    "light_grey",
    "olive",
    "cherry",
    "sand",
    "teal",
    "blush",
)
MATERIALS = ("wool", "cotton", "linen", "silk", "denim", "leather", "polyester", "cashmere")
PATTERNS = ("solid", "stripe", "check", "dot", "floral")
BRANDS = ("Northwind", "Atelier Sud", "Kobo", "Maison Lark", "Fjell & Co")
PHOTOGRAPHERS = ("A. Moreau", "K. Tanaka", "L. Okafor", "S. Lindqvist")

SEARCH_GQL = """query($filter: AssetFilterInput) { searchAssets(filter: $filter, first: 20,
  sort: NEWEST, facets: [{attribute: "colour"}, {attribute: "material"},
  {attribute: "category"}, {field: BRAND}, {tagState: TIER}]) {
  ... on AssetSearch { totalCount edges { node { id sku brand } }
                       facets { name values { value count } } } } }"""
KNN_GQL = """query($id: ID!, $filter: AssetFilterInput) {
  similarAssets(by: {assetId: $id}, filter: $filter, k: 10) {
  ... on SimilarAssets { hits { score asset { id sku } } } } }"""
SEARCH_FILTER = {
    "tags": [{"attribute": "category", "values": ["outerwear"]}],
    "season": ["FW"],
    "seasonYear": {"gte": 2024, "lte": 2026},
    "brand": ["Northwind", "Kobo"],
}
KNN_FILTER = {
    "tags": [{"attribute": "colour", "values": ["black", "navy", "charcoal"]}],
    "season": ["FW"],
}


class Catalogue:
    """Deterministic columns of the generated assets (kept for brute force)."""

    def __init__(self, n: int, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.n = n
        self.category = rng.integers(0, len(CATEGORIES), n)
        self.colour = rng.integers(0, len(COLOURS), n)
        self.material = rng.integers(0, len(MATERIALS), n)
        self.pattern = rng.integers(0, len(PATTERNS), n)
        self.brand = rng.integers(0, len(BRANDS), n)
        self.season = rng.integers(0, 2, n)  # 0 SS, 1 FW
        self.year = rng.integers(2019, 2027, n)
        self.probability = np.clip(rng.beta(8, 1.5, (n, 5)), 0.3, 0.999)
        centres = rng.standard_normal((CENTRES, DIM)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        self.vectors = np.empty((n, DIM), dtype=np.float32)
        for start in range(0, n, BATCH):  # batches keep the temporaries small
            stop = min(n, start + BATCH)
            pick = rng.integers(0, CENTRES, stop - start)
            v = centres[pick] + 0.06 * rng.standard_normal((stop - start, DIM)).astype(np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            self.vectors[start:stop] = np.round(v, 6)

    def asset_id(self, i: int) -> str:
        return f"bench-{i:07d}"

    def document(self, i: int, taxonomy: Any) -> dict[str, Any]:
        aid, brand = self.asset_id(i), BRANDS[self.brand[i]]
        season, year = ("SS", "FW")[self.season[i]], int(self.year[i])
        at = f"{year}-0{1 + i % 9}-1{i % 10}T10:00:00.000000Z"
        chosen = (
            ("category", CATEGORIES[self.category[i]]),
            ("colour", COLOURS[self.colour[i]]),
            ("material", MATERIALS[self.material[i]]),
            ("pattern", PATTERNS[self.pattern[i]]),
            ("shot_type", "flat_lay"),
        )
        events = []
        for n, (attr, value) in enumerate(chosen):
            p = float(self.probability[i, n])
            tier: TagState = (
                "auto_applied" if p >= 0.95 else "flagged" if p >= 0.75 else "suggested"
            )
            events.append(
                TagEvent(
                    event_id=event_id(aid, 1, n),
                    asset_id=aid,
                    attribute=attr,
                    kind="model_tagged",
                    seq=1,
                    at=at,
                    actor=Actor(type="model", id="bench", model_fingerprint="bench@1"),
                    state=tier,
                    tier=tier,
                    value=value,
                    probability=round(p, 4),
                    values=taxonomy.ancestors(attr, value, brand),
                    terms=taxonomy.search_terms(attr, value, brand),
                )
            )
        doc = {
            "asset_id": aid,
            "sku": f"SKU-{i:07d}",
            "brand": brand,
            "season": season,
            "season_year": year,
            "collection": f"{season}{year % 100}",
            "photographer": PHOTOGRAPHERS[i % 4],
            "shoot_date": at[:10],
            "ingested_at": at,
            "vector": self.vectors[i].tolist(),
            **projection_fields(events),
        }
        return doc

    def knn_mask(self) -> np.ndarray:
        """Applied dark colours in FW (a colour below the medium threshold is not applied)."""
        dark = np.isin(self.colour, [COLOURS.index(c) for c in ("black", "navy", "charcoal")])
        mask: np.ndarray = dark & (self.season == 1) & (self.probability[:, 1] >= 0.75)
        return mask


async def index_catalogue(settings: Settings, cat: Catalogue, keep: bool) -> None:
    from tagtrail.tagging.taxonomy_files import load_taxonomy

    client = make_client(settings.with_changes(opensearch_timeout_s=300.0))
    try:
        alias = settings.index_name("assets")
        if keep and await client.indices.exists(index=alias):
            count = (await client.count(index=alias))["count"]
            if count == cat.n:
                print(f"reusing {count} documents in {alias}")
                return
        await drop_indices(client, settings)
        await ensure_indices(client, settings)
        await client.indices.put_settings(index=alias, body={"index": {"refresh_interval": "-1"}})
        from pathlib import Path

        taxonomy = load_taxonomy(Path(settings.taxonomy_dir))
        started = time.perf_counter()
        for start in range(0, cat.n, BATCH):
            body: list[Any] = []
            for i in range(start, min(cat.n, start + BATCH)):
                body += [
                    {"index": {"_index": alias, "_id": cat.asset_id(i)}},
                    cat.document(i, taxonomy),
                ]
            result = await client.bulk(body=body)
            if result["errors"]:
                raise SystemExit(f"bulk failed: {result['items'][0]}")
            done = min(cat.n, start + BATCH)
            rate = done / (time.perf_counter() - started)
            print(f"\rindexed {done}/{cat.n} ({rate:.0f}/s)", end="", flush=True)
        print()
        await client.indices.put_settings(index=alias, body={"index": {"refresh_interval": "1s"}})
        await client.indices.refresh(index=alias)
        print(f"indexing took {time.perf_counter() - started:.0f}s")
    finally:
        await client.close()


def _stats(samples: list[float]) -> tuple[float, float]:
    arr = np.array(samples) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


async def timed(fn: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = await fn()
    return time.perf_counter() - start, result


def query_ids(cat: Catalogue, runs: int) -> Iterator[int]:
    rng = np.random.default_rng(11)
    pool = np.flatnonzero(cat.knn_mask())
    while True:
        yield from (int(i) for i in rng.choice(pool, size=runs, replace=False))


async def measure(
    settings: Settings, cat: Catalogue, url: str, runs: int, figures: Figures
) -> None:
    client = make_client(settings)
    # aiohttp for GraphQL too: the HTTP library opensearch-py's async transport uses.
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
    alias = settings.index_name("assets")
    search_filter = q.AssetFilter(
        attributes=(q.AttributeFilter(attribute="category", values=("outerwear",)),),
        season=("FW",),
        season_year=q.IntRange(gte=2024, lte=2026),
        brand=("Northwind", "Kobo"),
    )
    specs = [
        q.FacetSpec(kind="attribute", name="colour"),
        q.FacetSpec(kind="attribute", name="material"),
        q.FacetSpec(kind="attribute", name="category"),
        q.FacetSpec(kind="field", name="brand"),
        q.FacetSpec(kind="tag_state", name="tier"),
    ]
    search_body = q.search_body(search_filter, facets=specs, size=21, sort="newest")
    knn_filter = q.AssetFilter(
        attributes=(q.AttributeFilter(attribute="colour", values=("black", "navy", "charcoal")),),
        season=("FW",),
    )
    mask = cat.knn_mask()
    times: dict[str, list[float]] = {
        k: [] for k in ("gql_search", "os_search", "gql_knn", "os_knn")
    }
    recalls: list[float] = []
    ids = query_ids(cat, runs)
    warm_up = min(20, runs)

    async def gql(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        async with http.post(url, json={"query": query, "variables": variables}) as r:
            body: dict[str, Any] = await r.json()
        if body.get("errors"):
            raise SystemExit(f"GraphQL error: {body['errors']}")
        return body

    try:
        for run in range(runs + warm_up):  # warm-up runs first, not recorded
            qid = next(ids)
            vec = cat.vectors[qid].tolist()
            aid = cat.asset_id(qid)
            kbody = q.knn_body(vec, 10, msgspec_replace(knn_filter, qid, cat), ef_search=EF_SEARCH)

            async def os_knn(aid: str = aid, kbody: dict[str, Any] = kbody) -> Any:
                # The same two requests the server makes: the query asset's vector, the k-NN.
                await client.get(index=alias, id=aid, _source_includes=["vector"])
                return await client.search(index=alias, body=kbody)

            gql_vars = {"id": aid, "filter": KNN_FILTER}
            pairs: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                ("gql_search", lambda: gql(SEARCH_GQL, {"filter": SEARCH_FILTER})),
                ("os_search", lambda: client.search(index=alias, body=search_body)),
                ("gql_knn", lambda v=gql_vars: gql(KNN_GQL, v)),  # type: ignore[misc]
                ("os_knn", os_knn),
            ]
            if run % 2:
                pairs.reverse()  # alternate the order so neither side always goes first
            results: dict[str, Any] = {}
            for name, fn in pairs:
                elapsed, results[name] = await timed(fn)
                if run >= warm_up:
                    times[name].append(elapsed)
            hits = results["gql_knn"]["data"]["similarAssets"]["hits"]
            got = {h["asset"]["id"] for h in hits}
            subset = np.flatnonzero(mask)
            subset = subset[subset != qid]
            sims = cat.vectors[subset] @ cat.vectors[qid]
            truth = {cat.asset_id(int(i)) for i in subset[np.argsort(-sims)[:10]]}
            recalls.append(len(got & truth) / 10)
        total = results["gql_search"]["data"]["searchAssets"]["totalCount"]
        print(
            f"\nn={cat.n} runs={runs}  search matches {total}; "
            f"k-NN filter subset {int(mask.sum())} assets"
        )
        for kind in ("search", "knn"):
            g50, g95 = _stats(times[f"gql_{kind}"])
            o50, o95 = _stats(times[f"os_{kind}"])
            print(
                f"{kind:6s} GraphQL p50 {g50:7.2f} ms p95 {g95:7.2f} ms | direct p50 "
                f"{o50:7.2f} ms p95 {o95:7.2f} ms | ratio p50 {g50 / o50:.2f} "
                f"p95 {g95 / o95:.2f}"
            )
            figures.add(f"{kind} GraphQL p50", g50, "ms", better="lower")
            figures.add(f"{kind} direct p50", o50, "ms", better="lower")
            figures.add(f"{kind} GraphQL/direct p50", g50 / o50, "×", better="lower", ratio=True)
            figures.add(f"{kind} GraphQL/direct p95", g95 / o95, "×", better="lower", ratio=True)
        print(
            f"recall@10 of filtered k-NN vs brute force: {np.mean(recalls):.4f} "
            f"(min {np.min(recalls):.2f}, ef_search {EF_SEARCH})"
        )
        figures.add(
            "filtered k-NN recall@10",
            float(np.mean(recalls)),
            "",
            better="higher",
            ratio=True,
            target=0.95,
        )
    finally:
        await http.close()
        await client.close()


def msgspec_replace(f: q.AssetFilter, qid: int, cat: Catalogue) -> q.AssetFilter:
    """The filter similarAssets sends for a query asset: the same, excluding the asset."""
    import msgspec

    return msgspec.structs.replace(f, exclude_ids=(cat.asset_id(qid),))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the indices")
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.smoke:
        args.n, args.runs, args.keep = 400, 10, False
    prefix = f"tt-bench-{args.n}" if args.keep else f"tt-bench-{args.n}-{os.getpid()}"
    settings = load_settings(index_prefix=prefix, dev=True)
    cat = Catalogue(args.n)
    asyncio.run(index_catalogue(settings, cat, args.keep))
    proc, base = start_server(settings)
    url = f"{base}/graphql"
    figures = Figures("graphql_latency")
    try:
        asyncio.run(measure(settings, cat, url, args.runs, figures))
        figures.write(args.figures)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if not args.keep:

            async def drop() -> None:
                client = make_client(settings)
                await drop_indices(client, settings)
                await client.close()

            asyncio.run(drop())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
