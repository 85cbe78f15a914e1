"""Training heads on synthetic clusters with known labels (small, so each test is fast)."""

from __future__ import annotations

import random

import msgspec
import numpy as np
import pytest

from tagtrail.learning.dataset import TrainingExample, make_training_set
from tagtrail.learning.stats import macro_f1
from tagtrail.learning.train import TrainOptions, train_head
from tests.learning.synthetic import ATTRIBUTE, accuracy, make_world, training_set


def _f1(probabilities: np.ndarray, y: np.ndarray) -> float:
    return macro_f1([str(v) for v in y], [str(v) for v in probabilities.argmax(axis=1)])


def test_trained_head_beats_a_weak_zero_shot_init() -> None:
    world = make_world(text_noise=3.0, noise=1.8, seed=1)  # text weights barely informative
    rng = np.random.default_rng(11)
    x, y = world.draw(30 * 6, rng)  # 30 decisions per label
    test_x, test_y = world.draw(600, rng)
    zero_shot = world.zero_shot()
    head = train_head(zero_shot, training_set(world, x, y, prefix="t"), taxonomy_version="tx1")
    before = accuracy(zero_shot.probabilities(test_x), test_y)
    after = accuracy(head.probabilities(test_x), test_y)
    assert before < 0.5
    assert after > 0.85
    assert after - before > 0.3
    assert head.training.n_positive == 180
    assert head.training.strength is not None


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_five_labels_per_value_never_make_a_good_zero_shot_head_worse(seed: int) -> None:
    world = make_world(text_noise=0.5, noise=1.8, seed=seed)  # zero-shot already ~0.9
    rng = np.random.default_rng(100 + seed)
    x, y = world.draw(5 * 6, rng)
    test_x, test_y = world.draw(600, rng)
    zero_shot = world.zero_shot()
    head = train_head(zero_shot, training_set(world, x, y, prefix="k5"), taxonomy_version="t")
    zs_f1 = _f1(zero_shot.probabilities(test_x), test_y)
    assert zs_f1 > 0.8
    assert _f1(head.probabilities(test_x), test_y) >= zs_f1


def test_training_is_deterministic_and_content_addressed() -> None:
    world = make_world(text_noise=1.0, noise=1.8, seed=4)
    x, y = world.draw(40, np.random.default_rng(4))
    ts = training_set(world, x, y, prefix="d")
    shuffled = list(ts.examples)
    random.Random(1).shuffle(shuffled)
    again = make_training_set(
        ATTRIBUTE, shuffled, {e.asset_id: ts.vectors[e.row] for e in reversed(shuffled)}
    )
    grid = TrainOptions(strengths=(1.0, 0.01))  # a short grid: determinism is the point here
    one = train_head(world.zero_shot(), ts, taxonomy_version="tx1", options=grid)
    two = train_head(world.zero_shot(), again, taxonomy_version="tx1", options=grid)
    assert one.version == two.version
    assert one.version.startswith(f"tuned:{ATTRIBUTE}:")
    assert len(one.version) == 6 + 9 + 12
    assert one.weights.tobytes() == two.weights.tobytes()
    assert one.bias.tobytes() == two.bias.tobytes()
    assert one.training == two.training
    # The taxonomy version is part of the address even when the weights are the same.
    other = train_head(world.zero_shot(), ts, taxonomy_version="tx2", options=grid)
    assert other.version != one.version
    assert other.weights.tobytes() == one.weights.tobytes()


def _negatives(world_vectors: np.ndarray, label: str, prefix: str) -> list[TrainingExample]:
    return [
        TrainingExample(
            example_id=f"{prefix}-{i:04d}:-{label}",
            asset_id=f"{prefix}-{i:04d}",
            attribute=ATTRIBUTE,
            value=label,
            label=label,
            polarity="negative",
            row=0,
        )
        for i in range(len(world_vectors))
    ]


def test_negatives_push_the_rejected_label_down() -> None:
    world = make_world(text_noise=0.5, noise=1.8, seed=5)
    rng = np.random.default_rng(5)
    x, y = world.draw(60, rng)
    keep = y != 0  # positives for every label but label0
    positives = training_set(world, x[keep], y[keep], prefix="p")
    # Reviewers rejected "label0" on 30 photos that look like label0.
    rejected = world.centres[0] + world.noise * rng.standard_normal((30, 32)) / np.sqrt(32)
    rejected /= np.linalg.norm(rejected, axis=1, keepdims=True)
    vectors = {e.asset_id: positives.vectors[e.row] for e in positives.examples}
    vectors |= {f"n-{i:04d}": rejected[i] for i in range(30)}
    with_negatives = make_training_set(
        ATTRIBUTE, [*positives.examples, *_negatives(rejected, "label0", "n")], vectors
    )
    plain = train_head(world.zero_shot(), positives, taxonomy_version="t")
    taught = train_head(world.zero_shot(), with_negatives, taxonomy_version="t")
    assert taught.training.n_negative == 30
    probe = world.centres[0] + world.noise * rng.standard_normal((200, 32)) / np.sqrt(32)
    probe /= np.linalg.norm(probe, axis=1, keepdims=True)
    p_plain = float(plain.probabilities(probe)[:, 0].mean())
    p_taught = float(taught.probabilities(probe)[:, 0].mean())
    assert p_plain > 0.5
    assert p_taught < p_plain / 2


def test_no_decisions_keeps_the_zero_shot_weights() -> None:
    world = make_world(seed=6)
    empty = make_training_set(ATTRIBUTE, [], {})
    zero_shot = world.zero_shot()
    head = train_head(zero_shot, empty, taxonomy_version="t")
    x, _ = world.draw(20, np.random.default_rng(6))
    assert head.probabilities(x) == pytest.approx(zero_shot.probabilities(x), abs=1e-5)
    assert head.training.note == "no reviewer decisions"
    assert head.training.strength is None
    assert head.training.temperature == 1.0
    assert [p.label for p in head.predict(x)] == [p.label for p in zero_shot.predict(x)]


def test_examples_for_labels_the_head_lacks_are_dropped() -> None:
    world = make_world(seed=7)
    x, y = world.draw(12, np.random.default_rng(7))
    ts = training_set(world, x, y, prefix="a")
    stray = msgspec.structs.replace(
        ts.examples[0], example_id="zz:+brand-only", label="brand-only label"
    )
    vectors = {e.asset_id: ts.vectors[e.row] for e in ts.examples}
    head = train_head(
        world.zero_shot(),
        make_training_set(ATTRIBUTE, [*ts.examples, stray], vectors),
        taxonomy_version="t",
        options=TrainOptions(strengths=(1.0,), priors=("zero_shot",)),
    )
    assert head.training.n_dropped == 1
    assert head.training.n_examples == 12
    with pytest.raises(ValueError, match="training set is for"):
        train_head(world.zero_shot(), make_training_set("pattern", [], {}), taxonomy_version="t")


def test_very_few_assets() -> None:
    world = make_world(seed=8)
    x, y = world.draw(3, np.random.default_rng(8))
    three = training_set(world, x, y, prefix="few")
    head = train_head(world.zero_shot(), three, taxonomy_version="t")
    assert np.all(np.isfinite(head.weights))
    assert np.all(np.isfinite(head.probabilities(x)))
    # Zero-shot, then the λ path strongest first, stopped one step past its best loss.
    tried = [c.strength for c in head.training.cv]
    grid = sorted(TrainOptions().strengths, reverse=True)
    assert len(tried) >= 3
    assert tried == [None, *grid[: len(tried) - 1]]
    one = three.subset(lambda e: e.asset_id == three.examples[0].asset_id)
    lone = train_head(world.zero_shot(), one, taxonomy_version="t")
    assert lone.training.note == "too few assets to cross-validate"
    assert lone.training.n_examples == 1
