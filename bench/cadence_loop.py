"""The retraining cadence end to end on the real node: decisions arrive, a challenger trains,
shadows new photos, is judged and promoted, with no admin.

    python bench/cadence_loop.py [--rounds 8] [--arrivals 150] [--decisions 60]
        [--every 100] [--shadow 20] [--keep] [--smoke] [--figures F]

A catalogue of vectors clustered by true shot type (stored the way ingest stores them,
tagged by the real tagger: the champion decides, a challenger shadows) grows by
``arrivals`` photos a round; simulated reviewers decide ``decisions`` of the newest pending
photos a round (confirm when the tag is right, else correct it); then the server's cadence
ticks once (policy: every ``every`` decisions, ``shadow`` judgements before the verdict,
auto promotion). Per round: decisions so far, the head events the tick added, the tick's
seconds (training included) and the champion's accuracy on 400 held-out photos (tagged
through the same tagger, never stored). Figures: the decisions and rounds until the first
promotion, held-out accuracy before and after, and the slowest tick. Uses its own indices
(deleted afterwards unless ``--keep``). The encoder is ``TAGTRAIL_MODEL`` (default
``random-init``: only the text side matters, the vectors are generated).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

from figures import Figures, add_common_arguments
from taxonomy_change import stored_asset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np

from tagtrail.config import load_settings
from tagtrail.domain.decisions import Decision
from tagtrail.domain.metadata import AssetMetadata
from tagtrail.domain.records import utc_now
from tagtrail.tagging.pipeline import Tagger
from tagtrail.usecases.champions import CHAMPION
from tagtrail.usecases.runtime import Runtime

ATTRIBUTE = "shot_type"
HELD_OUT = 400


class World:
    """Vectors clustered by true value: the centre of the value plus noise, unit length."""

    def __init__(self, values: list[str], dim: int, seed: int) -> None:
        self.values = values
        self.rng = np.random.default_rng(seed)
        centres = self.rng.standard_normal((len(values), dim))
        self.centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)

    def draw(self, n: int) -> tuple[np.ndarray, list[str]]:
        truth = self.rng.integers(0, len(self.values), n)
        dim = self.centres.shape[1]
        x = 0.35 * self.centres[truth] + self.rng.standard_normal((n, dim)) / np.sqrt(dim)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x.astype(np.float32), [self.values[t] for t in truth]


def _values(tagger: Tagger, vectors: np.ndarray) -> list[str | None]:
    tagged = tagger.tag_vectors(vectors, [AssetMetadata()] * len(vectors), [None] * len(vectors))
    out: list[str | None] = []
    for result in tagged:
        found = [d.value for d in result.decisions if d.attribute == ATTRIBUTE]
        out.append(found[0] if found else None)
    return out


async def _arrive(runtime: Runtime, world: World, n: int, start: int) -> dict[str, str]:
    """Store ``n`` new photos as ingest does (champion decides, challenger shadows)."""
    tagger = await runtime.tagging.tagger()
    vectors, truth = world.draw(n)
    tagged = tagger.tag_vectors(vectors, [AssetMetadata()] * n, [None] * n)
    at = utc_now()
    new = [stored_asset(f"cad-{start + i:06d}", tagger, r, at) for i, r in enumerate(tagged)]
    writes = await runtime.store.assets.create_many(new)
    bad = [w for w in writes if w.status != "created"]
    if bad:
        raise SystemExit(f"bulk write failed: {bad[0]}")
    return {f"cad-{start + i:06d}": t for i, t in enumerate(truth)}


async def _review(runtime: Runtime, truth: dict[str, str], ids: list[str]) -> int:
    """A reviewer decides the shot type of these photos; returns how many were corrected."""
    corrected = 0
    for asset in await runtime.store.assets.get_many(ids):
        if asset is None:
            continue
        tag = next((t for t in asset.tags if t.attribute == ATTRIBUTE and t.slot is None), None)
        if tag is None:
            continue
        right = truth[asset.asset_id]
        if tag.value == right:
            decision = Decision(kind="confirmed", attribute=ATTRIBUTE)
        else:
            decision = Decision(kind="corrected", attribute=ATTRIBUTE, value=right)
            corrected += 1
        await runtime.review.decide(asset.asset_id, asset.revision, decision, "bench-reviewer")
    return corrected


async def _accuracy(runtime: Runtime, vectors: np.ndarray, truth: list[str]) -> float:
    tagger = await runtime.tagging.tagger()
    got = _values(tagger, vectors)
    return float(np.mean([g == t for g, t in zip(got, truth, strict=True)]))


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--arrivals", type=int, default=150, help="new photos a round")
    p.add_argument("--decisions", type=int, default=60, help="reviewer decisions a round")
    p.add_argument("--every", type=int, default=100, help="TAGTRAIL_RETRAIN_EVERY")
    p.add_argument("--shadow", type=int, default=20, help="TAGTRAIL_RETRAIN_SHADOW_DECISIONS")
    p.add_argument("--keep", action="store_true", help="keep the bench indices")
    add_common_arguments(p)
    args = p.parse_args()
    model = os.environ.get("TAGTRAIL_MODEL", "random-init")
    if args.smoke:
        args.rounds, args.arrivals, args.decisions, model = 3, 40, 30, "random-init:tiny"
        args.every, args.shadow = 30, 5
    settings = load_settings(
        index_prefix=f"bench-cad-{uuid.uuid4().hex[:8]}",
        model=model,
        retrain_every=f"{ATTRIBUTE}={args.every}",
        retrain_promotion="auto",
        retrain_shadow_decisions=args.shadow,
    )
    figures = Figures("cadence_loop")
    runtime = Runtime(settings)
    try:
        await runtime.admin.init_indices()
        tagger = await runtime.tagging.tagger()
        values = sorted(v.id for v in tagger.taxonomy.attribute(ATTRIBUTE).values)
        dim = int(np.asarray(tagger.zero_shot_heads[ATTRIBUTE].label_matrix).shape[1])
        world = World(values, dim, seed=5)
        held_vectors, held_truth = world.draw(HELD_OUT)
        before = await _accuracy(runtime, held_vectors, held_truth)
        print(f"encoder {tagger.model_fingerprint}; {ATTRIBUTE}: {len(values)} values")
        print(f"policy: {settings.retrain_policy(ATTRIBUTE).describe()}")
        print(f"round 0: held-out accuracy {before:.3f} (zero-shot)")
        truth: dict[str, str] = {}
        decided = 0
        first: tuple[int, int] | None = None
        slowest = 0.0
        for r in range(1, args.rounds + 1):
            arrived = await _arrive(runtime, world, args.arrivals, len(truth))
            truth |= arrived
            await runtime.store.refresh()
            corrected = await _review(runtime, truth, list(arrived)[: args.decisions])
            decided += min(args.decisions, len(arrived))
            t = time.perf_counter()
            events = await runtime.cadence.tick()
            took = time.perf_counter() - t
            slowest = max(slowest, took)
            accuracy = await _accuracy(runtime, held_vectors, held_truth)
            steps = ", ".join(f"{e.step} {e.version}" for e in events) or "–"
            print(
                f"round {r}: {decided} decisions ({corrected} corrected this round); tick "
                f"{took:.1f} s: {steps}; held-out accuracy {accuracy:.3f}"
            )
            if first is None and any(e.step == "promoted" for e in events):
                first = (r, decided)
        champion = (await runtime.store.heads.alias(CHAMPION, ATTRIBUTE)).version
        after = await _accuracy(runtime, held_vectors, held_truth)
        print(f"champion {champion or 'zero-shot'}: held-out accuracy {before:.3f} → {after:.3f}")
        for event in (await runtime.head_history.events(first=50, attribute=ATTRIBUTE)).events:
            print(f"  {event.at} {event.explanation()}")
        if first is None:
            print("no promotion within the rounds")
        else:
            print(f"first promotion after round {first[0]}, {first[1]} decisions")
            figures.add("decisions to the first promotion", first[1], "", better="lower")
        figures.add("held-out accuracy zero-shot", before, "", better="higher")
        figures.add("held-out accuracy after the cadence", after, "", better="higher")
        figures.add(
            "held-out accuracy after / zero-shot",
            after / max(before, 1e-9),
            "",
            better="higher",
            ratio=True,
        )
        # A tick reads the decisions, trains, evaluates and stores: the training target.
        figures.add("slowest cadence tick", slowest, "s", better="lower", target=5.0)
        figures.write(args.figures)
    finally:
        if not args.keep:
            await runtime.store.drop_indices()
        await runtime.close()


if __name__ == "__main__":
    asyncio.run(main())
