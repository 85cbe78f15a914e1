"""Calibration: make "0.95" mean right 95 % of the time, so the tiers mean what they say.

* Temperature scaling for heads: one scalar T divides the logits; it keeps the ranking (so
  accuracy is unchanged) and is fitted on out-of-fold predictions, never on the training
  fit itself (those are over-confident by construction). It is one of the calibration maps
  that ``logit_maps`` chooses among.
* Platt scaling for a single confidence score (the colour analyser's): p = σ(a·s + b),
  fitted from right/wrong decisions with Platt's smoothed targets, so a perfectly separated
  sample (every colour right) still gives finite a, b and a probability below 1.
* Expected calibration error over 15 equal-width bins, and the bins themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import msgspec
import numpy as np
import numpy.typing as npt

from tagtrail.domain.calibration import Calibration, sigmoid
from tagtrail.learning.losses import example_losses

Float64 = npt.NDArray[np.float64]
DEFAULT_BINS = 15
#: Below this many decisions a fitted Platt scaling is noisier than the shipped default.
MIN_PLATT_DECISIONS = 100


def _bin_index(probabilities: Float64, bins: int) -> npt.NDArray[np.int64]:
    # Bins are (lo, hi]: 0.95 lands in the bin that ends at 0.95, 0 lands in the first one.
    idx = np.ceil(probabilities * bins).astype(np.int64) - 1
    out: npt.NDArray[np.int64] = np.clip(idx, 0, bins - 1)
    return out


class ReliabilityBin(msgspec.Struct, kw_only=True, frozen=True):
    lo: float
    hi: float
    n: int
    confidence: float | None  # mean predicted probability in the bin
    accuracy: float | None  # fraction correct in the bin


def _as_arrays(probabilities: object, correct: object) -> tuple[Float64, Float64]:
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    c = np.asarray(correct, dtype=np.float64).reshape(-1)
    if p.shape != c.shape:
        raise ValueError(f"{p.shape[0]} probabilities but {c.shape[0]} outcomes")
    if p.size and (p.min() < 0.0 or p.max() > 1.0):
        raise ValueError("probabilities must lie in [0, 1]")
    return p, c


def reliability_bins(
    probabilities: object, correct: object, bins: int = DEFAULT_BINS
) -> list[ReliabilityBin]:
    """Per equal-width bin: count, mean confidence and accuracy (None in an empty bin)."""
    p, c = _as_arrays(probabilities, correct)
    idx = _bin_index(p, bins)
    out = []
    for b in range(bins):
        mask = idx == b
        n = int(mask.sum())
        out.append(
            ReliabilityBin(
                lo=b / bins,
                hi=(b + 1) / bins,
                n=n,
                confidence=float(p[mask].mean()) if n else None,
                accuracy=float(c[mask].mean()) if n else None,
            )
        )
    return out


def ece(probabilities: object, correct: object, bins: int = DEFAULT_BINS) -> float:
    """Expected calibration error: Σ_bins (n_b / n)·|accuracy_b − confidence_b|."""
    p, c = _as_arrays(probabilities, correct)
    if p.size == 0:
        return 0.0
    idx = _bin_index(p, bins)
    conf = np.bincount(idx, weights=p, minlength=bins)
    acc = np.bincount(idx, weights=c, minlength=bins)
    return float(np.abs(acc - conf).sum() / p.size)  # = Σ n_b/n · |acc_b/n_b − conf_b/n_b|


def minimise_over_log_t(loss: Callable[[float], float], lo: float, hi: float) -> float:
    """argmin over T in [lo, hi] of loss(log T), by deterministic golden-section search."""
    a, b = math.log(lo), math.log(hi)
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = loss(c), loss(d)
    while b - a > 1e-6:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = loss(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = loss(d)
    return math.exp((a + b) / 2.0)


def fit_temperature(
    logits: np.ndarray,
    labels: np.ndarray,
    positive: np.ndarray | None = None,
    *,
    lo: float = 0.01,
    hi: float = 100.0,
) -> float:
    """The temperature T in [lo, hi] minimising the mean loss of softmax(logits / T).

    Negative examples count with their −log(1 − p) loss. Golden-section search on log T:
    the loss is unimodal in log T for positives, and the search is deterministic.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    pos = np.ones(len(y), dtype=bool) if positive is None else np.asarray(positive, dtype=bool)
    if len(y) == 0:
        return 1.0

    def loss(log_t: float) -> float:
        return float(example_losses(z / math.exp(log_t), y, pos).mean())

    return minimise_over_log_t(loss, lo, hi)


def fit_platt(
    scores: object,
    correct: object,
    *,
    prior: Calibration | None = None,
    prior_n: float = 0.0,
) -> Calibration:
    """Fit σ(a·score + b) to right (1) / wrong (0) outcomes by Newton's method.

    Platt's targets (n₊+1)/(n₊+2) and 1/(n₋+2) instead of 1 and 0 keep the fit finite on a
    separable sample and encode "we have seen n cases, not infinitely many".

    With a ``prior`` calibration, it counts as ``prior_n`` decisions more on the same scores,
    each with the probability the prior gives it as its target: a hundred decisions then
    move the prior only where they disagree with it, and a thousand outweigh it.
    """
    s, c = _as_arrays(np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0), correct)
    n_pos, n_neg = float(c.sum()), float(len(c) - c.sum())
    if len(c) == 0:
        return Calibration()
    t = np.where(c > 0.5, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    w = np.ones_like(t)
    x = s
    if prior is not None and prior_n > 0:
        x = np.concatenate([s, s])
        t = np.concatenate([t, prior.apply(s)])
        w = np.concatenate([w, np.full_like(s, prior_n / len(s))])
    params = np.array([0.0, math.log((n_pos + 1.0) / (n_neg + 1.0))])
    design = np.stack([x, np.ones_like(x)], axis=1)

    def nll(v: Float64) -> float:
        z = design @ v
        # −[t log σ(z) + (1−t) log σ(−z)] = softplus(z) − t·z, written without overflow.
        return float((w * (np.logaddexp(0.0, z) - t * z)).sum())

    for _ in range(100):
        p = sigmoid(design @ params)
        grad = design.T @ (w * (p - t))
        hess = design.T @ (design * (w * p * (1.0 - p))[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        scale, current = 1.0, nll(params)
        while nll(params - scale * step) > current and scale > 1e-10:
            scale *= 0.5
        params = params - scale * step
        if float(np.abs(scale * step).max()) < 1e-10:
            break
    fitted = Calibration(kind="platt", a=float(params[0]), b=float(params[1]), n=len(c))
    return msgspec.structs.replace(fitted, ece_before=ece(s, c), ece_after=ece(fitted.apply(s), c))


def platt_or_default(
    scores: object,
    correct: object,
    default: Calibration,
    *,
    min_n: int = MIN_PLATT_DECISIONS,
) -> Calibration:
    """Fit from decisions when there are at least ``min_n``; the shipped default until then."""
    n = int(np.asarray(correct).size)
    return fit_platt(scores, correct) if n >= min_n else default
