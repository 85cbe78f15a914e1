"""Novelty summaries of a head's training vectors: prototypes, threshold, judgements."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagtrail.learning.head import TunedHead, TunedHeadRecord
from tagtrail.learning.novelty import (
    MAX_PROTOTYPES,
    NoveltySummary,
    fit_novelty,
)
from tagtrail.learning.train import TrainOptions, train_head
from tests.learning.synthetic import make_world, training_set, unit


def _cloud(n: int, dim: int = 24, seed: int = 0) -> np.ndarray:
    """Vectors around a few centres in the first half of the dimensions."""
    rng = np.random.default_rng(seed)
    centres = np.zeros((4, dim))
    centres[:, : dim // 2] = rng.standard_normal((4, dim // 2))
    noise = np.zeros((n, dim))
    noise[:, : dim // 2] = 0.4 * rng.standard_normal((n, dim // 2))
    out: np.ndarray = unit(centres[rng.integers(0, 4, n)] + noise).astype(np.float32)
    return out


def _far(n: int, dim: int = 24, seed: int = 1) -> np.ndarray:
    """Vectors in the other half of the dimensions: orthogonal to every training vector."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, dim))
    x[:, dim // 2 :] = rng.standard_normal((n, dim - dim // 2))
    out: np.ndarray = unit(x).astype(np.float32)
    return out


def test_few_rows_are_their_own_prototypes_and_too_few_give_none() -> None:
    x = _cloud(40)
    summary = fit_novelty(x)
    assert summary is not None
    assert summary.method == "rows"
    assert summary.prototypes.shape == (40, 24)
    assert summary.n_rows == 40
    assert summary.quantile == 0.95
    # Each row is its own prototype: distance 0 to itself.
    assert np.allclose(summary.distances(x), 0.0, atol=1e-5)
    # The threshold is the 0.95 quantile of the distance to the nearest *other* row.
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    loo = 1.0 - sims.max(axis=1)
    assert summary.threshold == pytest.approx(np.quantile(loo, 0.95, method="higher"), abs=1e-5)
    assert fit_novelty(x[:19]) is None
    assert fit_novelty(np.zeros((0, 24), dtype=np.float32)) is None


def test_many_rows_give_k_means_prototypes_deterministically() -> None:
    x = _cloud(600)
    summary = fit_novelty(x)
    assert summary is not None
    assert summary.method == "kmeans"
    assert summary.prototypes.shape == (MAX_PROTOTYPES, 24)
    assert np.allclose(np.linalg.norm(summary.prototypes, axis=1), 1.0, atol=1e-5)
    again = fit_novelty(x.copy())
    assert again is not None
    assert np.array_equal(summary.prototypes, again.prototypes)
    assert summary.threshold == again.threshold
    # The cross-fitted threshold is above the in-sample quantile (in-sample is optimistic).
    in_sample = np.quantile(summary.distances(x), 0.95, method="higher")
    assert summary.threshold >= in_sample
    with pytest.raises(ValueError, match="quantile"):
        fit_novelty(x, quantile=1.0)
    with pytest.raises(ValueError, match="shape"):
        summary.distances(np.ones((2, 5), dtype=np.float32))


def test_large_sets_fit_on_a_spread_of_rows() -> None:
    x = _cloud(900)
    summary = fit_novelty(x, max_fit_rows=300)
    assert summary is not None
    assert summary.n_rows == 900
    novel = summary.novel(x)
    assert 0.85 <= 1.0 - novel.mean() <= 1.0
    assert summary.novel(_far(50)).all()


def test_the_record_round_trips_and_refuses_a_wrong_shape() -> None:
    summary = fit_novelty(_cloud(200))
    assert summary is not None
    record = msgspec.json.decode(
        msgspec.json.encode(summary.to_record()), type=type(summary.to_record())
    )
    back = NoveltySummary.from_record(record)
    assert np.array_equal(back.prototypes, summary.prototypes)
    assert (back.threshold, back.quantile, back.n_rows) == (
        summary.threshold,
        summary.quantile,
        summary.n_rows,
    )
    with pytest.raises(ValueError, match="prototypes"):
        NoveltySummary.from_record(msgspec.structs.replace(record, count=record.count + 1))


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(80, 400),
    quantile=st.sampled_from([0.8, 0.9, 0.95]),
)
def test_fresh_draws_are_familiar_at_about_the_quantile_and_far_ones_novel(
    seed: int, n: int, quantile: float
) -> None:
    rng = np.random.default_rng(seed)
    world = make_world(dim=16, noise=0.8, n_labels=4, seed=seed % 50)
    train, _ = world.draw(n, rng)
    summary = fit_novelty(train, quantile=quantile)
    assert summary is not None
    # Training rows themselves: familiar at least at about the quantile's rate (their
    # in-sample distances are smaller than the out-of-sample ones of the threshold).
    assert (~summary.novel(train)).mean() >= quantile - 0.02
    # Fresh draws from the same distribution: familiar at roughly the quantile's rate (the
    # threshold is a sample quantile of n distances: its own error is about √(q(1−q)/n)).
    fresh, _ = world.draw(4000, rng)
    familiar = float((~summary.novel(fresh)).mean())
    tolerance = 3.5 * np.sqrt(quantile * (1 - quantile) / n) + 0.03
    assert abs(familiar - quantile) <= tolerance
    # Vectors pointing away from every training vector: novel.
    away = unit(-world.centres.mean(axis=0, keepdims=True) - 0.5 * world.centres).astype(np.float32)
    outliers = unit(away + 0.05 * rng.standard_normal(away.shape)).astype(np.float32)
    far = outliers[summary.distances(outliers) > 0]  # (all of them, in practice)
    assert summary.novel(far).mean() >= 0.75


def test_a_trained_head_keeps_its_summary_outside_its_version() -> None:
    world = make_world(dim=16, n_labels=4)
    x, y = world.draw(120, np.random.default_rng(3))
    data = training_set(world, x, y, prefix="nv")
    head = train_head(world.zero_shot(), data, taxonomy_version="t1")
    assert head.novelty is not None
    assert head.novelty.n_rows == 120
    plain = train_head(
        world.zero_shot(),
        data,
        taxonomy_version="t1",
        options=TrainOptions(novelty_quantile=None),
    )
    assert plain.novelty is None
    assert plain.version == head.version  # the summary does not change the version

    record = msgspec.json.decode(msgspec.json.encode(head.to_record()), type=TunedHeadRecord)
    back = TunedHead.from_record(record)
    assert back.novelty is not None
    assert np.array_equal(back.novelty.prototypes, head.novelty.prototypes)
    # A head stored before heads kept a summary still loads, without one.
    old = msgspec.to_builtins(head.to_record())
    del old["novelty"]
    legacy = TunedHead.from_record(msgspec.convert(old, TunedHeadRecord))
    assert legacy.novelty is None
    assert legacy.version == head.version
