"""Heads that learn from reviewers: zero-shot vs trained on held-out generated photos.

    python bench/learning_loop.py [--photos 2000] [--ks 0,5,20,100] [--model random-init]
        [--smoke] [--figures F]

A generated catalogue with ground truth is encoded once; 30 % of the photos (by hash) are
held out. Simulated reviewers confirm k photos per true value (k = 0, 5, 20, 100) from the
rest; a head is trained from each attribute's zero-shot head on those decisions and both are
scored on the held-out photos: macro-F1, ECE (15 bins) of the zero-shot and the trained head
on the held-out photos, the trained head's out-of-fold ECE before → after its calibration
map, auto-tier precision and coverage, training seconds. At the largest k: the calibration
map chosen and every candidate's out-of-fold ECE, the held-out ECE without → with the map,
and the held-out reliability table (per bin: n, mean confidence, accuracy). With
scikit-learn installed, a reference probe
(logistic regression, C by cross-validation) on the largest k's decisions is shown. Colour:
the analyser's tiers on the held-out photos with the shipped calibration (auto-tier share
and precision; targets ≥ 80 % and ≥ 0.98).

The encoder is ``TAGTRAIL_MODEL`` or ``--model``: ``random-init`` (ViT-B/32 with random
weights: its vectors carry little, so gains are small) unless a real CLIP directory is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np
from figures import Figures, add_common_arguments
from threadpoolctl import threadpool_limits

from tagtrail.demo.catalogue import generate_catalogue
from tagtrail.domain.taxonomy.mapping import AssetContext
from tagtrail.learning.calibrate import ece, reliability_bins
from tagtrail.learning.dataset import TrainingExample, TrainingSet, make_training_set
from tagtrail.learning.evaluate import evaluate_head, score_head
from tagtrail.learning.head import TunedHead
from tagtrail.learning.stats import macro_f1, unit_hash
from tagtrail.learning.train import train_head
from tagtrail.tagging.pipeline import build_tagger
from tagtrail.tagging.taxonomy_files import load_taxonomy
from tagtrail.vision.encode import load_encoder

ATTRIBUTES = ("category", "pattern", "shot_type")
HELD_OUT = 0.3


def _label_of(taxonomy, attribute, value, context):  # type: ignore[no-untyped-def]
    from tagtrail.domain.records import Actor, TagEvent
    from tagtrail.learning.dataset import labels_from_taxonomy

    event = TagEvent(
        event_id="x",
        asset_id="a",
        attribute=attribute,
        kind="confirmed",
        seq=1,
        at="",
        state="confirmed",
        actor=Actor(type="human", id="bench"),
        value=value,
    )
    return labels_from_taxonomy(taxonomy, {"a": context})(event, value)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--photos", type=int, default=2000)
    p.add_argument("--ks", default="0,5,20,100")
    p.add_argument("--model", default=os.environ.get("TAGTRAIL_MODEL", "random-init"))
    p.add_argument("--seed", type=int, default=3)
    add_common_arguments(p)
    args = p.parse_args()
    if args.smoke:
        args.photos, args.ks, args.model = 48, "0,2", "random-init:tiny"
    ks = [int(k) for k in args.ks.split(",")]
    figures = Figures("learning_loop")
    root = Path(__file__).resolve().parents[1]
    taxonomy = load_taxonomy(root / "taxonomy" / "default")
    encoder = load_encoder(args.model, batch_size=32)
    tagger = build_tagger(taxonomy, encoder)
    print(f"encoder: {encoder.fingerprint}; {args.photos} generated photos, seed {args.seed}")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        items = generate_catalogue(
            args.photos, Path(tmp), palette=taxonomy.palette, seed=args.seed, size=224
        )
        from PIL import Image

        _colour(tagger, taxonomy, items, Path(tmp), figures)
        vectors = np.concatenate(
            [
                encoder.encode_images(
                    [Image.open(Path(tmp) / it.filename).convert("RGB") for it in items[i : i + 32]]
                )
                for i in range(0, len(items), 32)
            ]
        )
        print(f"generated and encoded in {time.perf_counter() - start:.0f} s")
    held = [unit_hash("bench/held", it.filename) < HELD_OUT for it in items]
    for attribute in ATTRIBUTES:
        base = tagger.zero_shot_heads[attribute]
        examples: list[TrainingExample] = []
        for i, it in enumerate(items):
            value = getattr(it, attribute)
            context = AssetContext(brand=it.brand, season=it.season, collection=it.collection)
            label = _label_of(taxonomy, attribute, value, context)
            if label is None:
                continue
            examples.append(
                TrainingExample(
                    example_id=f"{i:05d}:+{value}",
                    asset_id=str(i),
                    attribute=attribute,
                    value=value,
                    label=label,
                    polarity="positive",
                    segments={"brand": it.brand},
                )
            )
        vecs = {str(i): vectors[i] for i in range(len(items))}
        test = make_training_set(attribute, [e for e in examples if held[int(e.asset_id)]], vecs)
        pool = [e for e in examples if not held[int(e.asset_id)]]
        zero = evaluate_head(base, test).overall
        print(
            f"\n{attribute}: {len(test.positives)} held-out photos, "
            f"{len({e.value for e in examples})} values"
        )
        print(
            f"  {'k':>4} {'n train':>8} {'macro-F1':>9} {'ECE':>6} {'auto cov':>9} "
            f"{'auto prec':>10} {'train s':>8} {'oof ECE before→after':>21}"
        )
        row = "  {:>4} {:>8} {:>9.3f} {:>6.3f} {:>9.3f} {:>10} {:>8} {:>21}"
        prec = "–" if zero.auto_precision is None else f"{zero.auto_precision:.3f}"
        print(row.format("zs", 0, zero.macro_f1, zero.ece, zero.auto_coverage, prec, "–", "–"))
        figures.add(f"{attribute} zero-shot macro-F1", zero.macro_f1, "", better="higher")
        chosen = []
        for k in ks:
            per: dict[str, int] = {}
            chosen = []
            for e in pool:
                if per.get(e.value, 0) < k:
                    per[e.value] = per.get(e.value, 0) + 1
                    chosen.append(e)
            train = make_training_set(attribute, chosen, vecs)
            start = time.perf_counter()
            # One BLAS thread, as the server trains: with two cores shared, spinning BLAS
            # threads slow the small solves by orders of magnitude.
            with threadpool_limits(limits=1):
                head = train_head(base, train, taxonomy_version=taxonomy.version)
            took = time.perf_counter() - start
            m = evaluate_head(head, test).overall
            prec = "–" if m.auto_precision is None else f"{m.auto_precision:.3f}"
            t = head.training
            oof = (
                "–"
                if t.ece_before is None or t.ece_after is None
                else (f"{t.ece_before:.3f} → {t.ece_after:.3f}")
            )
            print(
                row.format(
                    k, len(chosen), m.macro_f1, m.ece, m.auto_coverage, prec, f"{took:.1f}", oof
                )
            )
        figures.add(f"{attribute} macro-F1 k={ks[-1]}", m.macro_f1, "", better="higher")
        figures.add(f"{attribute} held-out ECE k={ks[-1]}", m.ece, "", better="lower", target=0.05)
        figures.add(f"{attribute} training k={ks[-1]}", took, "s", better="lower")
        _calibration(head, test)
        figures.add(
            f"{attribute} macro-F1 k={ks[-1]} − zero-shot",
            m.macro_f1 - zero.macro_f1,
            "",
            better="higher",
            ratio=True,
        )
        _probe(chosen, test, vectors)
    figures.write(args.figures)


def _calibration(head: TunedHead, test: TrainingSet) -> None:
    """The chosen map, held-out ECE without → with it, and the held-out reliability table."""
    t = head.training
    if not t.calibration_candidates:
        print(f"  calibration: none fitted ({t.note or 'no candidates'})")
        return
    candidates = ", ".join(
        f"{c.kind} {c.ece:.3f}/{c.selection_ece:.3f}"
        + ("" if c.kind == "identity" else f" (T {c.temperature:.2f})")
        for c in t.calibration_candidates
    )
    bins = t.calibration_candidates[0].selection_bins
    print(f"  calibration map: {t.calibration_map}, T {t.temperature:.3f}")
    print(f"    out-of-fold ECE per candidate (15 bins / {bins}, compared): {candidates}")

    def top1(h: TunedHead) -> tuple[np.ndarray, np.ndarray]:
        rows = score_head(h, test)
        return (
            np.array([r.probability for r in rows]),
            np.array([r.predicted == r.label for r in rows]),
        )

    before, after = top1(head.uncalibrated()), top1(head)
    print(f"    held-out ECE without → with the map: {ece(*before):.3f} → {ece(*after):.3f}")
    print(f"    {'bin':>11} {'n':>5} {'confidence':>11} {'accuracy':>9}")
    for b in reliability_bins(*after):
        if b.n:
            print(f"    ({b.lo:.2f}, {b.hi:.2f}] {b.n:>5} {b.confidence:>11.3f} {b.accuracy:>9.3f}")


def _colour(tagger, taxonomy, items, folder, figures) -> None:  # type: ignore[no-untyped-def]
    """Colour tiers on the held-out photos, decided exactly as the tagger decides them."""
    from tagtrail.domain.governance import decide_tier
    from tagtrail.vision.decode import decode_image

    governance = taxonomy.attribute("colour").governance
    tiers: dict[str, int] = {}
    auto_right = right = n = 0
    for it in items:
        if unit_hash("bench/held", it.filename) >= HELD_OUT:
            continue
        image = decode_image((folder / it.filename).read_bytes(), name=it.filename).image
        top = tagger.colour.analyse(image).findings[0]
        tier = decide_tier(tagger.colour_calibration.apply_one(top.confidence), governance).tier
        tiers[tier] = tiers.get(tier, 0) + 1
        n += 1
        right += top.name == it.colour
        auto_right += tier == "auto_applied" and top.name == it.colour
    auto = tiers.get("auto_applied", 0)
    version = tagger.colour_calibration.version
    print(
        f"colour ({n} held-out photos, {version}): right {right / n:.3f}; "
        f"auto tier {auto / n:.1%} (target ≥ 80 %), precision {auto_right / max(auto, 1):.3f} "
        f"(target ≥ 0.98); tiers {dict(sorted(tiers.items()))}"
    )
    figures.add("colour auto tier share", auto / n, "", better="higher", ratio=True, target=0.8)
    figures.add(
        "colour auto tier precision",
        auto_right / max(auto, 1),
        "",
        better="higher",
        ratio=True,
        target=0.98,
    )


def _probe(chosen, test, vectors) -> None:  # type: ignore[no-untyped-def]
    try:
        from sklearn.linear_model import LogisticRegressionCV
    except ImportError:
        print("  (reference probe skipped: scikit-learn is not installed)")
        return
    labels = [e.label for e in chosen]
    if len(set(labels)) < 2 or min(labels.count(label) for label in set(labels)) < 3:
        print("  (reference probe skipped: fewer than 3 decisions of some value for its 3 folds)")
        return
    x = np.stack([vectors[int(e.asset_id)] for e in chosen])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's FutureWarnings about its own defaults
        probe = LogisticRegressionCV(Cs=8, cv=3, max_iter=2000).fit(x, labels)
    predicted = probe.predict(test.vectors[[e.row for e in test.positives]])
    truth = [e.label for e in test.positives]
    print(
        f"  reference probe (sklearn, largest k): macro-F1 {macro_f1(truth, list(predicted)):.3f}"
    )


if __name__ == "__main__":
    main()
