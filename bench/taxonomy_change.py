"""Preview and apply of a taxonomy change over many stored assets, on the real node.

    python bench/taxonomy_change.py [--n 20000] [--runs 1] [--humans 0.01] [--keep] [--smoke]
        [--figures F]

Stores ``n`` assets the way ingest writes them (random unit vectors tagged by the real
tagger, bulk-written with ``create_many``: that is the bulk-index rate), confirms the
category of a share of them as a reviewer would, then previews and applies a taxonomy change
that moves ``cardigan`` under outerwear, renames ``coatigan`` and splits ``jumper`` (every
category is re-decided by the model, on the stored vectors). Each of the ``runs`` previews
and applies on its own copy of the stored indices (OpenSearch's ``_clone``: hard-linked
segments, so every run starts from the same catalogue without storing it again). Prints
seconds and assets/s of each step per run, their median and spread, apply's rate relative
to the bulk-index rate, and checks that apply changed exactly what the preview said. Uses its
own indices (deleted afterwards unless ``--keep``).

The defaults (20,000 assets, one preview and apply) keep one invocation to a few minutes on
two cores, so ``bench/run.py`` can repeat it three times, each run with its own bulk-index
measurement. ``--n 100000 --runs 3`` is the deep run, outside the runner (it stores the
catalogue once, then previews and applies on three clones; over an hour on two cores).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from figures import Figures, add_common_arguments

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import msgspec
import numpy as np
import yaml

from tagtrail.config import load_settings
from tagtrail.domain.metadata import AssetMetadata
from tagtrail.domain.records import Actor, TagEvent, event_id, utc_now
from tagtrail.store import NewAsset
from tagtrail.tagging.pipeline import TaggedImage, Tagger
from tagtrail.usecases.ingest import model_event
from tagtrail.usecases.runtime import Runtime

BRANDS = ("Northwind", "Kobo", "Aster", "Linen & Loom")


def _new_taxonomy(current: Path, out: Path) -> Path:
    shutil.copytree(current, out)
    path = out / "taxonomy.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    category = data["attributes"]["category"]
    for v in category["values"]:
        v["parent"] = "outerwear" if v["id"] == "cardigan" else v.get("parent")
        v["id"] = "longline_coat" if v["id"] == "coatigan" else v["id"]
        if v.get("parent") is None:
            v.pop("parent")
    at = next(i for i, v in enumerate(category["values"]) if v["id"] == "jumper")
    category["values"][at : at + 1] = [
        {"id": "sweater", "label": "Sweater", "parent": "knitwear"},
        {"id": "pullover", "label": "Pullover", "parent": "knitwear"},
    ]
    for entry in category["vocabulary"]:
        if entry.get("maps_to") == "jumper":
            entry["maps_to"] = "sweater"
    for rule in category["rules"]:
        if rule.get("then") == "coatigan":
            rule["then"] = "longline_coat"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    steps = [
        {
            "id": "longline",
            "attribute": "category",
            "rename": {"from": "coatigan", "to": "longline_coat"},
        },
        {
            "id": "knit",
            "attribute": "category",
            "split": {"from": "jumper", "to": ["sweater", "pullover"]},
        },
    ]
    (out / "migrations.yaml").write_text(yaml.safe_dump({"migrations": steps}), encoding="utf-8")
    return out


def stored_asset(
    asset_id: str, tagger: Tagger, result: TaggedImage, at: str, brand: str | None = None
) -> NewAsset:
    """An asset as ingest stores it (document and model events), from a tagged vector."""
    document: dict[str, Any] = {
        "asset_id": asset_id,
        "content_hash": asset_id,
        "ingested_at": at,
        "updated_at": at,
        "format": "JPEG",
        "width": 512,
        "height": 512,
        "byte_size": 1,
        "model_fingerprint": tagger.model_fingerprint,
        "model_untrained": True,
        "taxonomy_version": tagger.taxonomy.version,
        "vector": result.vector,
        "revision": 0,
    }
    if brand is not None:
        document["brand"] = brand
    events = tuple(model_event(asset_id, k, d, at, seq=1) for k, d in enumerate(result.decisions))
    return NewAsset(asset_id=asset_id, document=document, events=events)


async def _store(runtime: Runtime, n: int, batch: int) -> float:
    """Write n assets as ingest does; returns the seconds the bulk writes took."""
    tagger = await runtime.tagging.tagger()
    rng = np.random.default_rng(0)
    spent = 0.0
    for start in range(0, n, batch):
        size = min(batch, n - start)
        vectors = rng.standard_normal((size, 512)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        metas = [AssetMetadata(brand=BRANDS[(start + i) % len(BRANDS)]) for i in range(size)]
        tagged = tagger.tag_vectors(vectors, metas, [None] * size)
        at = utc_now()
        new = []
        for i, (meta, result) in enumerate(zip(metas, tagged, strict=True)):
            new.append(stored_asset(f"bench-{start + i:07d}", tagger, result, at, meta.brand))
        t = time.perf_counter()
        writes = await runtime.store.assets.create_many(new)
        spent += time.perf_counter() - t
        bad = [w for w in writes if w.status != "created"]
        if bad:
            raise SystemExit(f"bulk write failed: {bad[0]}")
        print(f"\r  stored {start + size}/{n}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return spent


async def _confirm(runtime: Runtime, ids: list[str]) -> None:
    """A reviewer confirms the category of these assets (ordinary decisions)."""

    def build(stored: Any) -> list[TagEvent]:
        tag = next(t for t in stored.source["tags"] if t["attribute"] == "category")
        return [
            TagEvent(
                event_id=event_id(stored.asset_id, stored.revision + 1, 0),
                asset_id=stored.asset_id,
                attribute="category",
                kind="confirmed",
                seq=stored.revision + 1,
                at=utc_now(),
                state="confirmed",
                actor=Actor(type="human", id="bench"),
                value=tag["value"],
                label=tag.get("label"),
                values=tuple(tag.get("values") or ()),
                previous_value=tag["value"],
                taxonomy_version=tag.get("taxonomy_version"),
            )
        ]

    for asset_id in ids:
        await runtime.store.assets.apply(asset_id, None, build)


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--humans", type=float, default=0.01, help="share of assets reviewed")
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--runs", type=int, default=1, help="preview+apply runs, each on a clone")
    p.add_argument("--keep", action="store_true", help="keep the bench indices")
    add_common_arguments(p)
    args = p.parse_args()
    model = os.environ.get("TAGTRAIL_MODEL", "random-init")
    if args.smoke:
        args.n, args.humans, args.batch, args.runs, model = 60, 0.1, 30, 1, "random-init:tiny"
    # The bench's own indices: no server follows them, so apply has nobody to wait for.
    settings = load_settings(
        index_prefix=f"bench-tx-{uuid.uuid4().hex[:8]}", model=model, taxonomy_apply_wait_s=0.0
    )
    figures = Figures("taxonomy_change")
    runtime = Runtime(settings)
    clones: list[str] = []
    try:
        await runtime.admin.init_indices()
        spent = await _store(runtime, args.n, args.batch)
        bulk_rate = args.n / spent
        print(f"bulk index   {args.n} assets in {spent:.1f} s: {bulk_rate:.0f} assets/s")
        ids = [f"bench-{i:07d}" for i in range(0, args.n, max(1, round(1 / args.humans)))]
        await runtime.store.refresh()
        await _confirm(runtime, ids)
        await runtime.store.refresh()
        times: list[tuple[float, float]] = []
        with tempfile.TemporaryDirectory() as tmp:
            new = _new_taxonomy(Path(settings.taxonomy_dir), Path(tmp) / "v2")
            for run in range(1, args.runs + 1):
                copy = await _clone(runtime, f"{settings.index_prefix}-run{run}")
                clones.append(copy.settings.index_prefix)
                try:
                    times.append(await _one_run(copy, new, args.n, bulk_rate, run))
                finally:
                    await copy.close()
        _summary(times, args.n, bulk_rate, figures)
        figures.write(args.figures)
    finally:
        if not args.keep:
            for prefix in clones:
                await runtime.store.client.indices.delete(index=f"{prefix}-*")
            await runtime.store.drop_indices()
        await runtime.close()


async def _clone(runtime: Runtime, prefix: str) -> Runtime:
    """Runtime over a copy of the stored assets and events under ``prefix``."""
    client = runtime.store.client
    for logical in ("assets", "tag_events"):
        source = runtime.settings.index_name(logical) + "-v1"
        await client.indices.put_settings(index=source, body={"index.blocks.write": True})
        target = f"{prefix}-{logical}-v1"
        await client.indices.clone(
            index=source, target=target, params={"wait_for_active_shards": "1"}
        )
        await client.indices.put_settings(index=target, body={"index.blocks.write": False})
        await client.indices.put_settings(index=source, body={"index.blocks.write": False})
    copy = Runtime(msgspec.structs.replace(runtime.settings, index_prefix=prefix))
    await copy.admin.init_indices()  # aliases onto the clones; the small indices created
    return copy


async def _one_run(
    runtime: Runtime, new: Path, n: int, bulk_rate: float, run: int
) -> tuple[float, float]:
    t = time.perf_counter()
    preview = await runtime.taxonomy_changes.preview(new, page=500)
    took_preview = time.perf_counter() - t
    print(
        f"run {run}: preview {took_preview:.1f} s: {n / took_preview:.0f} assets/s; "
        f"{preview.assets_changed} assets would change, {preview.events} events, "
        f"{preview.human_decisions_touched} human decisions touched"
    )
    t = time.perf_counter()
    applied = await runtime.taxonomy_changes.apply(new, page=500)
    took_apply = time.perf_counter() - t
    rate = n / took_apply
    print(
        f"run {run}: apply   {took_apply:.1f} s: {rate:.0f} assets/s "
        f"({applied.assets_changed} changed, {applied.conflicts} conflicts); "
        f"apply / bulk-index rate {rate / bulk_rate:.2f}"
    )
    same = [msgspec.to_builtins(r) for r in preview.rows] == [
        msgspec.to_builtins(r) for r in applied.rows
    ]
    same = same and preview.events == applied.events
    print(f"run {run}: preview == apply: {same}")
    if not same:
        raise SystemExit("apply did not change what its preview said")
    return took_preview, took_apply


def _summary(times: list[tuple[float, float]], n: int, bulk_rate: float, figures: Figures) -> None:
    figures.add("bulk index", bulk_rate, "assets/s", better="higher")
    for name, values in (("preview", [t[0] for t in times]), ("apply", [t[1] for t in times])):
        rates = sorted(n / v for v in values)
        median = statistics.median(rates)
        figures.add(name, median, "assets/s", better="higher")
        print(
            f"{name:8s} median {statistics.median(values):.1f} s "
            f"(spread {min(values):.1f}–{max(values):.1f}); "
            f"{median:.0f} assets/s ({rates[0]:.0f}–{rates[-1]:.0f})"
        )
    ratios = sorted(n / t[1] / bulk_rate for t in times)
    print(
        f"apply / bulk-index rate median {statistics.median(ratios):.2f} "
        f"(spread {ratios[0]:.2f}–{ratios[-1]:.2f}; one bulk-index measurement)"
    )
    figures.add("apply/bulk-index rate", statistics.median(ratios), "", better="higher", ratio=True)


if __name__ == "__main__":
    asyncio.run(main())
