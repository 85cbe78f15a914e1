"""Calibration maps: chosen by out-of-fold ECE, folded into the head, stored and read back."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import numpy as np
import pytest

from tagtrail.learning.calibrate import ece
from tagtrail.learning.head import TrainingSummary, TunedHead, TunedHeadRecord
from tagtrail.learning.logit_maps import LogitMap, choose_logit_map, fit_logit_map, top1
from tagtrail.learning.losses import softmax
from tagtrail.learning.train import TrainOptions, train_head
from tests.learning.synthetic import World, make_world, training_set

Distortion = Callable[[np.ndarray], np.ndarray]


def _draw(n: int, rng: np.random.Generator, distort: Distortion) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z); the model reports distort(z)."""
    z = rng.standard_normal((n, 5)) * 1.5
    p = softmax(z)
    labels = np.array([rng.choice(5, p=row) for row in p])
    return distort(z), labels


def _choose(distort: Distortion, seed: int) -> tuple[LogitMap, float, float]:
    """(chosen map, held-out ECE of the identity, held-out ECE of the chosen map)."""
    rng = np.random.default_rng(seed)
    logits, labels = _draw(1500, rng, distort)  # stands for out-of-fold predictions
    folds = np.arange(len(labels)) % 5
    chosen, scores = choose_logit_map(logits, labels, np.ones(len(labels), dtype=bool), folds)
    assert scores[0].kind == "identity"
    test_logits, test_labels = _draw(3000, rng, distort)
    identity = ece(*top1(test_logits, test_labels))
    return chosen, identity, ece(*top1(chosen.apply(test_logits), test_labels))


@pytest.mark.parametrize("seed", [0, 1])
def test_an_overconfident_model_gets_a_temperature_above_one(seed: int) -> None:
    chosen, identity, after = _choose(lambda z: 4.0 * z, seed)
    assert chosen.kind != "identity"
    assert chosen.temperature == pytest.approx(4.0, rel=0.15)
    assert identity > 0.2
    assert after <= identity
    assert after <= 0.05


@pytest.mark.parametrize("seed", [0, 1])
def test_an_underconfident_model_gets_a_temperature_below_one(seed: int) -> None:
    chosen, identity, after = _choose(lambda z: z / 3.0, seed)
    assert chosen.kind != "identity"
    assert chosen.temperature == pytest.approx(1 / 3.0, rel=0.15)
    assert identity > 0.2
    assert after <= identity
    assert after <= 0.05


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_calibrated_model_keeps_the_identity(seed: int) -> None:
    chosen, identity, after = _choose(lambda z: z, seed)
    assert chosen == LogitMap()
    assert after == identity


def test_below_a_hundred_decisions_the_nll_temperature_serves_without_a_choice() -> None:
    # ECE over 60 decisions is mostly noise: no comparison, the NLL temperature as before.
    rng = np.random.default_rng(9)
    logits, labels = _draw(60, rng, lambda z: 4.0 * z)
    chosen, scores = choose_logit_map(logits, labels, np.ones(60, dtype=bool), np.arange(60) % 5)
    assert [s.kind for s in scores] == ["temperature_nll"]
    assert chosen.kind == "temperature_nll"
    assert chosen.temperature > 2.0


def test_vector_scaling_undoes_a_per_label_shift_and_leaves_unnamed_labels_alone() -> None:
    # Five labels carry the data; three more are never named (their logits sit far below).
    # The model over-rates label 0 by 1.5 in logit units: no temperature undoes that.
    rng = np.random.default_rng(11)
    logits, labels = _draw(2000, rng, lambda z: z + np.array([1.5, 0.0, 0.0, 0.0, 0.0]))
    logits = np.concatenate([logits, np.full((2000, 3), -4.0)], axis=1)
    fitted = fit_logit_map("vector", logits, labels)
    assert fitted.class_scale[5:] == (1.0, 1.0, 1.0)
    assert fitted.class_bias[5:] == (0.0, 0.0, 0.0)
    shift = fitted.class_bias[0] - float(np.mean(fitted.class_bias[1:5]))
    assert shift == pytest.approx(-1.5, abs=0.3)
    test_logits, test_labels = _draw(3000, rng, lambda z: z + np.array([1.5, 0, 0, 0, 0]))
    test_logits = np.concatenate([test_logits, np.full((3000, 3), -4.0)], axis=1)
    before, after = top1(test_logits, test_labels), top1(fitted.apply(test_logits), test_labels)
    assert after[1].mean() > before[1].mean() + 0.05  # the ranking is repaired
    assert ece(*after) <= 0.05


def test_candidates_are_scored_on_folds_their_fit_never_saw() -> None:
    # Pure noise: nothing predicts the label. A per-label map fitted and scored on the same
    # examples would look better than the identity; cross-fitted, it does not.
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((300, 4))
    labels = rng.integers(0, 4, 300)
    folds = np.arange(300) % 5
    chosen, scores = choose_logit_map(logits, labels, np.ones(300, dtype=bool), folds)
    vector = next(s for s in scores if s.kind == "vector")
    in_sample = fit_logit_map("vector", logits, labels)
    assert ece(*top1(in_sample.apply(logits), labels)) < vector.ece - 0.02
    assert chosen.kind != "vector"


@pytest.fixture(scope="module")
def world() -> World:
    return make_world(n_labels=7, text_noise=1.0, noise=1.8, seed=21)


@pytest.fixture(scope="module")
def vector_head(world: World) -> TunedHead:
    x, y = world.draw(120, np.random.default_rng(21))
    return train_head(
        world.zero_shot(),
        training_set(world, x, y, prefix="v"),
        taxonomy_version="t",
        options=TrainOptions(calibration_maps=("vector",)),
    )


def test_the_map_is_folded_into_the_weights_exactly(world: World, vector_head: TunedHead) -> None:
    t = vector_head.training
    assert t.calibration_map == "vector"
    assert len(t.class_scale) == len(t.class_bias) == len(vector_head.labels)
    assert [c.kind for c in t.calibration_candidates] == ["vector"]
    x, _ = world.draw(50, np.random.default_rng(3))
    raw = vector_head.uncalibrated()
    assert raw.training.calibration_map == "identity"
    expected = softmax(t.logit_map.apply(raw.logits(x)))
    assert vector_head.probabilities(x) == pytest.approx(expected, abs=1e-5)
    assert not np.allclose(raw.probabilities(x), vector_head.probabilities(x), atol=1e-3)


def test_a_head_with_a_map_round_trips_through_its_record(
    world: World, vector_head: TunedHead
) -> None:
    wire = msgspec.json.encode(vector_head.to_record())
    restored = TunedHead.from_record(msgspec.json.decode(wire, type=TunedHeadRecord))
    assert restored.version == vector_head.version
    assert restored.training == vector_head.training
    x, _ = world.draw(20, np.random.default_rng(4))
    assert np.array_equal(restored.probabilities(x), vector_head.probabilities(x))


def test_records_stored_before_the_map_choice_still_load_and_predict_as_before(
    world: World,
) -> None:
    # A head of the old shape: NLL temperature folded into scale and bias, and a summary
    # without the fields that came with the choice of map.
    rng = np.random.default_rng(6)
    weights = world.text + 0.1 * rng.standard_normal(world.text.shape).astype(np.float32)
    bias = rng.standard_normal(len(world.labels)).astype(np.float32)
    summary = TrainingSummary(
        training_fingerprint="f",
        taxonomy_version="t",
        base_version=world.zero_shot().version,
        n_examples=10,
        n_positive=10,
        n_negative=0,
        temperature=2.5,
    )
    head = TunedHead(
        attribute="category",
        labels=world.labels,
        weights=weights,
        bias=bias,
        scale=100.0 / 2.5,
        training=summary,
    )
    stored = msgspec.to_builtins(head.to_record())
    for field in ("calibration_map", "class_scale", "class_bias", "calibration_candidates"):
        del stored["training"][field]
    loaded = TunedHead.from_record(msgspec.convert(stored, TunedHeadRecord))
    assert loaded.version == head.version
    assert loaded.training.calibration_map == "temperature_nll"
    assert loaded.training.class_scale == ()
    x, _ = world.draw(30, np.random.default_rng(7))
    by_hand = softmax((x @ weights.T) * np.float32(40.0) + bias)  # the map is not applied again
    assert loaded.probabilities(x) == pytest.approx(by_hand, abs=1e-6)
    # Folding the old temperature out gives the head's raw logits back.
    assert loaded.uncalibrated().logits(x) == pytest.approx(
        (x @ weights.T) * 100.0 + bias * 2.5, rel=1e-4, abs=1e-3
    )
