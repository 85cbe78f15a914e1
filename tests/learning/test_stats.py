from __future__ import annotations

import pytest

from tagtrail.learning.stats import (
    assign_folds,
    macro_f1,
    unit_hash,
    wilson_interval,
    z_value,
)


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # Newcombe (1998), "Two-sided confidence intervals for the single proportion",
        # Table I, method 3 (Wilson score interval without continuity correction).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_published_values(successes: int, n: int, low: float, high: float) -> None:
    got = wilson_interval(successes, n)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_wilson_edges() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(10, 10)
    assert high == 1.0
    assert low == pytest.approx(10 / (10 + z_value(0.95) ** 2))  # n / (n + z²) with no errors
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)


def test_z_value() -> None:
    assert z_value(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert z_value(0.99) == pytest.approx(2.575829, abs=1e-6)


def test_macro_f1_over_true_labels() -> None:
    truth = ["a", "a", "b", "b", "c"]
    predicted = ["a", "b", "b", "b", "d"]
    # a: tp1 fp0 fn1 → 2/3; b: tp2 fp1 fn0 → 4/5; c: tp0 fn1 → 0. "d" is not a true label.
    assert macro_f1(truth, predicted) == pytest.approx((2 / 3 + 4 / 5 + 0) / 3)
    assert macro_f1(["x"], ["x"]) == 1.0
    assert macro_f1([], []) == 0.0


def test_hash_folds_are_stable_and_balanced() -> None:
    keys = [f"asset-{i}" for i in range(2003)]
    folds = assign_folds(keys, 5, "s")
    assert assign_folds(reversed(keys), 5, "s") == folds
    counts = sorted(list(folds.values()).count(f) for f in range(5))
    assert counts == [400, 400, 401, 401, 401]
    assert assign_folds(keys, 5, "other") != folds  # the salt matters
    assert sorted(assign_folds(["a", "b", "c"], 3).values()) == [0, 1, 2]  # none left empty
    assert all(0.0 <= unit_hash(k) < 1.0 for k in keys)
