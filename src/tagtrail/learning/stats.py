"""Small statistics shared by evaluation, calibration and audits (pure functions, no I/O).

The Wilson score interval is used everywhere a proportion is reported: unlike the normal
("Wald") interval it stays inside [0, 1] and does not collapse to a zero-width interval when a
sample has no errors, which is exactly the case that matters for auto-applied tags.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from statistics import NormalDist

import numpy as np


def z_value(confidence: float) -> float:
    """Two-sided normal quantile: 1.959964 for 0.95."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for ``successes`` out of ``n`` (either may be fractional).

    Fractional counts let a weighted estimate use its effective sample size. ``n == 0``
    gives the uninformative (0, 1).
    """
    if n < 0 or successes < 0 or successes > n + 1e-9:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    z = z_value(confidence)
    p = min(successes / n, 1.0)
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z * math.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n)) / (1.0 + z2n)
    return max(0.0, centre - half), min(1.0, centre + half)


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Mean F1 over the labels present in ``truth`` (0.0 for an empty sample).

    Averaging over true labels only (not the union with predicted labels) keeps the label
    set identical for two heads scored on the same examples, so their scores compare.
    """
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted differ in length")
    if not truth:
        return 0.0
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for t, p in zip(truth, predicted, strict=True):
        if t == p:
            tp[t] += 1
        else:
            fp[p] += 1
            fn[t] += 1
    # tp + fn > 0 for every label present in truth, so no division by zero.
    scores = [2.0 * tp[x] / (2 * tp[x] + fp[x] + fn[x]) for x in sorted(set(truth))]
    return float(np.mean(scores))


def unit_hash(*parts: str) -> float:
    """A deterministic number in [0, 1) from ``parts`` (sha256; independent of PYTHONHASHSEED)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign_folds(keys: Iterable[str], folds: int, salt: str = "") -> dict[str, int]:
    """Balanced, deterministic folds: keys ordered by their hash, dealt out round-robin.

    No fold is left empty while there are at least ``folds`` keys (hashing each key to a
    fold independently can leave one empty), and the order keys arrive in does not matter.
    """
    if folds < 1:
        raise ValueError("folds must be at least 1")
    ordered = sorted(set(keys), key=lambda k: (unit_hash(salt, k), k))
    return {key: i % folds for i, key in enumerate(ordered)}
