"""Per-segment evaluation and the promotion gate."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tagtrail.domain.governance import Governance
from tagtrail.learning.dataset import TrainingSet
from tagtrail.learning.evaluate import (
    ScoredExample,
    compare,
    cross_validated_scores,
    evaluate_head,
    evaluation_report,
    gate,
    split_holdout,
)
from tagtrail.learning.head import TunedHead
from tagtrail.learning.train import TrainOptions, train_head
from tests.learning.synthetic import World, make_world, training_set

BRANDS = ("Kobo", "Aster", "Linden")


def scored(i: int, label: str, predicted: str, p: float, brand: str) -> ScoredExample:
    return ScoredExample(
        example_id=f"e{i:03d}",
        asset_id=f"a{i:03d}",
        label=label,
        predicted=predicted,
        probability=p,
        segments={"brand": brand},
    )


def test_report_metrics_by_hand() -> None:
    rows = [
        scored(0, "coat", "coat", 0.99, "Kobo"),
        scored(1, "coat", "coat", 0.97, "Kobo"),
        scored(2, "dress", "coat", 0.96, "Kobo"),  # wrong, and auto-applied
        scored(3, "dress", "dress", 0.80, "Aster"),  # right, flagged tier
    ]
    report = evaluation_report(rows, attribute="category", head_version="h1")
    overall = report.overall
    assert (overall.n, overall.accuracy) == (4, 0.75)
    # coat: tp2 fp1 fn0 → 0.8; dress: tp1 fp0 fn1 → 2/3.
    assert overall.macro_f1 == pytest.approx((0.8 + 2 / 3) / 2)
    assert (overall.auto_n, overall.auto_coverage) == (3, 0.75)
    assert overall.auto_precision == pytest.approx(2 / 3)
    assert (overall.auto_low, overall.auto_high) == pytest.approx((0.2077, 0.9385), abs=1e-4)
    kobo = report.segment("brand=Kobo")
    assert kobo is not None
    assert (kobo.n, kobo.auto_n) == (3, 3)
    assert [s.segment for s in report.segments] == ["overall", "brand=Aster", "brand=Kobo"]
    capped = evaluation_report(
        rows,
        attribute="category",
        head_version="h1",
        governance=Governance(cap="flagged"),
    )
    assert capped.overall.auto_n == 0
    assert capped.overall.auto_precision is None


class Data:
    def __init__(self, world: World, rng: np.random.Generator) -> None:
        self.world, self.rng = world, rng

    def draw(
        self, per_brand: int, prefix: str, wrong: Callable[[str, int], int] | None = None
    ) -> TrainingSet:
        xs, ys, brands = [], [], []
        for brand in BRANDS:
            x, y = self.world.draw(per_brand, self.rng, brand=brand)
            xs.append(x)
            ys.append(y)
            brands += [brand] * per_brand
        return training_set(
            self.world,
            np.concatenate(xs),
            np.concatenate(ys),
            prefix=prefix,
            segments=lambda i: {"brand": brands[i]},
            label_of=(lambda i, y: wrong(brands[i], y)) if wrong else None,
        )


@pytest.fixture(scope="module")
def data() -> Data:
    # Weak text weights; each brand has its own photographic style (a shared direction).
    world = make_world(text_noise=3.0, noise=1.8, brands=BRANDS, style=1.5, seed=9)
    return Data(world, np.random.default_rng(9))


@pytest.fixture(scope="module")
def held_out(data: Data) -> TrainingSet:
    return data.draw(100, "held")


@pytest.fixture(scope="module")
def champion(data: Data) -> TunedHead:
    return train_head(data.world.zero_shot(), data.draw(80, "clean"), taxonomy_version="t")


def test_gate_refuses_a_candidate_trained_on_one_brands_wrong_labels(
    data: Data, held_out: TrainingSet, champion: TunedHead
) -> None:
    # A careless reviewer confirmed "label0" on every Kobo photo.
    rogue = data.draw(80, "rogue", wrong=lambda brand, y: 0 if brand == "Kobo" else y)
    candidate = train_head(data.world.zero_shot(), rogue, taxonomy_version="t")
    new, old = evaluate_head(candidate, held_out), evaluate_head(champion, held_out)
    decision = gate(new, old, min_n=30, margin=0.05)
    assert not decision.promote
    kobo = [r for r in decision.reasons if r.startswith("brand=Kobo: macro-F1 ")]
    assert len(kobo) == 1
    assert "n=100) worse than margin 0.05" in kobo[0]
    drops = {s.segment: old.segment(s.segment).macro_f1 - s.macro_f1 for s in new.segments}  # type: ignore[union-attr]
    assert max(drops, key=lambda k: drops[k]) == "brand=Kobo"
    assert drops["brand=Kobo"] > 0.5
    # With a wider margin only Kobo is named among the segments.
    wide = gate(new, old, min_n=30, margin=0.3)
    assert [r.split(":")[0] for r in wide.reasons if r.startswith("brand=")] == ["brand=Kobo"]
    # Segments below min_n are not gated; the overall drop still refuses.
    small = gate(new, old, min_n=150, margin=0.05)
    assert not small.promote
    assert small.reasons[0].startswith("overall: macro-F1 ")
    assert "dropped" in small.reasons[0]
    assert not any(r.startswith("brand=") for r in small.reasons)


def test_gate_promotes_a_candidate_better_everywhere(
    data: Data, held_out: TrainingSet, champion: TunedHead
) -> None:
    zero_shot = data.world.zero_shot()
    new, old = evaluate_head(champion, held_out), evaluate_head(zero_shot, held_out)
    for segment in new.segments:
        assert segment.macro_f1 > old.segment(segment.segment).macro_f1  # type: ignore[union-attr]
    decision = gate(new, old, min_n=30, margin=0.05)
    assert decision.promote
    assert decision.candidate_version == champion.version
    assert decision.champion_version == zero_shot.version
    assert decision.reasons[0].startswith("overall: macro-F1 ")
    assert "3 segments with n ≥ 30 checked" in decision.reasons[1]
    other = evaluate_head(champion, data.draw(10, "elsewhere"))
    with pytest.raises(ValueError, match="different examples"):
        gate(other, old)


def test_holdout_and_cross_validation_split_by_asset(data: Data) -> None:
    ts = data.draw(20, "cv")
    train, held = split_holdout(ts, fraction=0.25)
    assert {e.asset_id for e in train.examples}.isdisjoint(e.asset_id for e in held.examples)
    assert len(train.examples) + len(held.examples) == 60
    assert 5 <= len(held.examples) <= 25
    assert split_holdout(ts, fraction=0.25)[1].fingerprint == held.fingerprint
    quick = TrainOptions(strengths=(1.0,), priors=("zero_shot",), folds=3)
    rows = cross_validated_scores(
        data.world.zero_shot(), ts, taxonomy_version="t", folds=3, options=quick
    )
    assert sorted(r.example_id for r in rows) == sorted(e.example_id for e in ts.positives)
    report = evaluation_report(
        rows, attribute="category", head_version="cv", method="cross-validated, 3 folds"
    )
    assert report.overall.n == 60
    assert report.method == "cross-validated, 3 folds"


def test_compare_uses_a_holdout_when_there_is_enough_data(data: Data) -> None:
    ts = data.draw(40, "cmp")
    quick = TrainOptions(strengths=(1.0, 0.01), folds=3)
    zero_shot = data.world.zero_shot()
    held = compare(zero_shot, zero_shot, ts, taxonomy_version="t", options=quick, min_holdout=10)
    assert held.candidate_report.method.startswith("holdout 20% (")
    assert held.candidate_report.examples_fingerprint == held.champion_report.examples_fingerprint
    assert held.candidate_report.head_version == held.candidate.version
    assert held.candidate_report.overall.n < 60  # only the held-out assets
    assert held.candidate.training.n_examples == 120 - held.candidate_report.overall.n
    cv = compare(zero_shot, zero_shot, ts, taxonomy_version="t", options=quick, folds=3)
    assert cv.candidate_report.method == "cross-validated, 3 folds"
    assert cv.candidate_report.overall.n == 120
    assert cv.candidate.training.n_examples == 120
    assert gate(cv.candidate_report, cv.champion_report).promote
