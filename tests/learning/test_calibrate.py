"""Temperature and Platt scaling, and expected calibration error."""

from __future__ import annotations

import numpy as np
import pytest

from tagtrail.domain.calibration import Calibration
from tagtrail.learning.calibrate import (
    ece,
    fit_platt,
    fit_temperature,
    platt_or_default,
    reliability_bins,
)
from tagtrail.learning.head import TunedHead
from tagtrail.learning.losses import softmax
from tagtrail.learning.train import train_head
from tests.learning.synthetic import make_world, training_set


def test_ece_on_hand_computed_bins() -> None:
    # Bin (0.8, 0.867]: two predictions at 0.85, one right → |0.5 − 0.85| · 2/4.
    # Bin (0.933, 1.0]: two at 1.0, both right → 0.
    assert ece([0.85, 0.85, 1.0, 1.0], [1, 0, 1, 1]) == pytest.approx(0.35 / 2)
    assert ece([0.3, 0.7], [0, 1], bins=1) == pytest.approx(abs(0.5 - 0.5))
    assert ece([], []) == 0.0
    bins = reliability_bins([0.85, 0.85, 1.0, 1.0], [1, 0, 1, 1])
    assert len(bins) == 15
    assert sum(b.n for b in bins) == 4
    full = [b for b in bins if b.n]
    assert [(b.n, b.accuracy, b.confidence) for b in full] == [(2, 0.5, 0.85), (2, 1.0, 1.0)]
    with pytest.raises(ValueError, match="outcomes"):
        ece([0.5], [1, 0])


def _overconfident(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z); the model reports 4·z (far too sure of itself)."""
    z = rng.standard_normal((n, 5)) * 1.5
    p = softmax(z)
    labels = np.array([rng.choice(5, p=row) for row in p])
    return 4.0 * z, labels


def _top1(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs = softmax(logits)
    return probs.max(axis=1), probs.argmax(axis=1) == labels


def test_temperature_scaling_fixes_an_overconfident_model() -> None:
    rng = np.random.default_rng(0)
    fit_logits, fit_labels = _overconfident(2000, rng)
    test_logits, test_labels = _overconfident(1000, rng)
    temperature = fit_temperature(fit_logits, fit_labels)
    assert temperature == pytest.approx(4.0, rel=0.1)
    before = ece(*_top1(test_logits, test_labels))
    after = ece(*_top1(test_logits / temperature, test_labels))
    assert before > 0.15
    assert after < before / 3
    assert after <= 0.05


def test_a_trained_head_is_calibrated_on_held_out_photos() -> None:
    world = make_world(text_noise=1.0, noise=2.4, seed=8)  # ~75 % accurate: room to be wrong
    rng = np.random.default_rng(8)
    x, y = world.draw(300, rng)
    head = train_head(
        world.zero_shot(), training_set(world, x, y, prefix="c"), taxonomy_version="t"
    )
    test_x, test_y = world.draw(1000, rng)  # ≥ 200 held-out decisions
    zero_shot = world.zero_shot().probabilities(test_x)  # CLIP's scale 100: over-confident
    tuned = head.probabilities(test_x)
    before = ece(zero_shot.max(axis=1), zero_shot.argmax(axis=1) == test_y)
    after = ece(tuned.max(axis=1), tuned.argmax(axis=1) == test_y)
    assert before > 0.2
    assert after <= 0.05
    # Folding the temperature out again changes confidence, never the ranking.
    t = head.training.temperature
    raw = TunedHead(
        attribute=head.attribute,
        labels=head.labels,
        weights=head.weights,
        bias=head.bias * t,
        scale=head.scale * t,
        training=head.training,
    )
    assert (raw.probabilities(test_x).argmax(axis=1) == tuned.argmax(axis=1)).all()


def test_platt_scaling_of_a_single_confidence() -> None:
    rng = np.random.default_rng(3)
    conf = rng.uniform(0.3, 1.0, 3000)
    truth = 1 / (1 + np.exp(-(8 * conf - 5)))  # the real P(right | confidence)
    right = rng.uniform(size=3000) < truth
    calibration = fit_platt(conf, right)
    assert calibration.kind == "platt"
    assert calibration.n == 3000
    assert calibration.a == pytest.approx(8, rel=0.15)
    assert calibration.b == pytest.approx(-5, rel=0.15)
    assert calibration.ece_after is not None
    assert calibration.ece_before is not None
    assert calibration.ece_after < calibration.ece_before
    assert calibration.apply_one(0.9) == pytest.approx(1 / (1 + np.exp(-(8 * 0.9 - 5))), abs=0.03)


def test_platt_stays_finite_when_every_decision_was_right() -> None:
    calibration = fit_platt(np.linspace(0.5, 1.0, 150), np.ones(150))
    p = calibration.apply(np.array([0.5, 1.0]))
    assert np.all(np.isfinite([calibration.a, calibration.b]))
    assert 0.95 < p[1] < 1.0  # sure, but not certain after 150 cases
    assert p[0] <= p[1]


def test_the_shipped_default_serves_until_there_are_enough_decisions() -> None:
    default = Calibration(kind="platt", a=10.0, b=-6.0)
    few = platt_or_default([0.9, 0.8], [1, 0], default, min_n=100)
    assert few is default
    many = platt_or_default(np.full(100, 0.9), np.ones(100), default, min_n=100)
    assert many is not default
    assert many.n == 100
    assert Calibration().apply_one(0.42) == 0.42  # identity


@pytest.mark.parametrize("seed", [0, 1])
def test_few_decisions_in_clip_like_geometry_stay_calibrated(seed: int) -> None:
    # Fewer decisions (50) than dimensions (128), image and text vectors in two cones: the
    # weakest anchoring wins and the final head must be fitted exactly like the
    # cross-validated ones, or its confidence no longer matches the fitted temperature.
    world = make_world(
        n_labels=10, dim=128, text_noise=1.0, noise=1.0, shared=3.0, gap=2.0, seed=seed
    )
    rng = np.random.default_rng(seed)
    x, y = world.draw(50, rng)
    head = train_head(
        world.zero_shot(), training_set(world, x, y, prefix="g"), taxonomy_version="t"
    )
    test_x, test_y = world.draw(1000, rng)
    p = head.probabilities(test_x)
    right = p.argmax(axis=1) == test_y
    assert (head.training.strength or 1.0) <= 0.001  # weak anchoring wins
    assert (
        right.mean()
        > (world.zero_shot().probabilities(test_x).argmax(axis=1) == test_y).mean() + 0.1
    )
    assert abs(float(p.max(axis=1).mean()) - float(right.mean())) < 0.05
    assert ece(p.max(axis=1), right) <= 0.05


def test_a_prior_calibration_counts_as_decisions_on_the_same_scores() -> None:
    rng = np.random.default_rng(3)
    prior = Calibration(kind="platt", a=7.0, b=-0.2)
    few = rng.uniform(0, 1, 40)
    right = rng.random(40) < prior.apply(few)
    alone = fit_platt(few, right)
    steadied = fit_platt(few, right, prior=prior, prior_n=100)
    assert fit_platt(few, right, prior=prior, prior_n=0) == alone
    # 40 decisions against 100 pseudo-decisions: the fit stays nearer the prior.
    assert abs(steadied.a - prior.a) < abs(alone.a - prior.a)
    many = rng.uniform(0, 1, 4000)
    truth = Calibration(kind="platt", a=3.0, b=0.5)
    outcome = rng.random(4000) < truth.apply(many)
    outweighed = fit_platt(many, outcome, prior=prior, prior_n=100)
    assert abs(outweighed.a - truth.a) < 0.5  # thousands of decisions outweigh it
