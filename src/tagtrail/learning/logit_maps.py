"""Calibration maps for heads, chosen by the ECE of out-of-fold predictions they never saw.

A map takes a head's logits to calibrated logits. Every candidate is linear in the logits,
z ↦ z · a / T + β (one temperature T, optionally a scale a and a bias β per label), so it
folds into a linear head's weights and is applied at prediction time exactly as fitted:

* ``identity``: T = 1, nothing changes;
* ``temperature_nll``: T minimising the NLL (the classic temperature scaling);
* ``temperature_top1``: T minimising the log loss of the top-1 confidence against right or
  wrong, a smooth proxy for ECE. NLL also pays for the mass on the wrong labels, so a few
  confidently wrong examples can push it to a T that leaves the rest under-confident;
* ``temperature_ece``: T on a grid with the lowest ECE;
* ``vector``: the NLL temperature, then a scale and a bias per label by penalised NLL
  (it can move the ranking, so it is chosen only where it costs no accuracy).

:func:`choose_logit_map` cross-fits every candidate (fitted on some folds of the out-of-fold
predictions, applied to the others), measures ECE on the pooled result and keeps the first
candidate, in the order above, that is not worse than the best by more than the noise. Below
:data:`MIN_MAP_DECISIONS` positive decisions it does not choose: the NLL temperature serves.
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec
import numpy as np
import numpy.typing as npt

from tagtrail.learning.calibrate import ece, fit_temperature, minimise_over_log_t
from tagtrail.learning.losses import loss_and_grad, softmax
from tagtrail.learning.optim import lbfgs

Float64 = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MapKind = Literal["identity", "temperature_nll", "temperature_top1", "temperature_ece", "vector"]
#: In order of preference: a later (more flexible) map is chosen only if it is clearly better.
MAP_KINDS: tuple[MapKind, ...] = (
    "identity",
    "temperature_nll",
    "temperature_top1",
    "temperature_ece",
    "vector",
)
#: L2 pull of vector scaling towards the identity (per label: log scale and bias).
VECTOR_STRENGTH = 1e-3
#: Below this many positive decisions no map is chosen: the NLL temperature is used, as it
#: was before maps were compared. ECE over a few dozen decisions is mostly noise (so the
#: comparison would pick at random between an over-confident identity and a temperature that
#: fixes it), and out-of-fold heads trained on a handful of decisions per value are far less
#: accurate than the head refitted on all of them, so maps fitted to their top label's right
#: or wrong flatten the final head. (The colour analyser's Platt scaling waits for as many.)
MIN_MAP_DECISIONS = 100
DEFAULT_MAP: MapKind = "temperature_nll"
#: An ECE difference this small changes no tier in practice: a simpler map within it of the
#: best is kept even when the difference is consistent (maps nearly alike differ consistently).
NEGLIGIBLE_ECE = 0.005


class LogitMap(msgspec.Struct, kw_only=True, frozen=True):
    """z ↦ z · class_scale / temperature + class_bias (per label); the identity by default.

    Empty ``class_scale`` / ``class_bias`` mean 1 and 0 for every label.
    """

    kind: MapKind = "identity"
    temperature: float = 1.0
    class_scale: tuple[float, ...] = ()
    class_bias: tuple[float, ...] = ()  # in logit units

    def factors(self, n_labels: int) -> tuple[Float64, Float64]:
        """(multiplier, offset) per label: z' = z · multiplier + offset."""
        scale = np.ones(n_labels) if not self.class_scale else np.asarray(self.class_scale)
        bias = np.zeros(n_labels) if not self.class_bias else np.asarray(self.class_bias)
        if scale.shape != (n_labels,) or bias.shape != (n_labels,):
            raise ValueError(f"a map for {max(scale.size, bias.size)} labels, not {n_labels}")
        return scale / self.temperature, bias

    def apply(self, logits: np.ndarray) -> Float64:
        z = np.asarray(logits, dtype=np.float64)
        multiplier, offset = self.factors(z.shape[1])
        out: Float64 = z * multiplier + offset
        return out


class MapScore(msgspec.Struct, kw_only=True, frozen=True):
    """A candidate map on out-of-fold predictions, each fold mapped by a fit without it."""

    kind: MapKind
    ece: float  # top-1 confidence, 15 bins, positive examples (as evaluations report it)
    selection_ece: float  # the same over ``selection_bins`` bins: what the choice compared
    selection_bins: int
    accuracy: float  # top-1 on positives (only ``vector`` can change it)
    temperature: float  # of the map fitted on all out-of-fold predictions


def top1(logits: np.ndarray, labels: np.ndarray) -> tuple[Float64, BoolArray]:
    """(confidence, right) of each row's top label."""
    p = softmax(logits)
    right: BoolArray = p.argmax(axis=1) == np.asarray(labels)
    return p.max(axis=1), right


def _top_log_confidence(shifted: Float64, temperature: float) -> Float64:
    """log max softmax(z / T) per row, from ``shifted`` = z − max(z) (≤ 0: no overflow)."""
    out: Float64 = -np.log(np.exp(shifted / temperature).sum(axis=1))
    return out


def fit_temperature_top1(
    logits: np.ndarray, labels: np.ndarray, *, lo: float = 0.05, hi: float = 20.0
) -> float:
    """T minimising the log loss of the top-1 confidence against right (1) / wrong (0).

    Positive examples only: a negative says a label is wrong, not which one is right.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if len(y) == 0:
        return 1.0
    right = z.argmax(axis=1) == y  # the ranking does not depend on T
    shifted = z - z.max(axis=1, keepdims=True)

    def loss(log_t: float) -> float:
        log_top = _top_log_confidence(shifted, math.exp(log_t))
        # log(1 − p) from log p without cancellation, floored where p rounds to 1.
        log_rest = np.log(np.maximum(-np.expm1(log_top), 1e-300))
        return float(-np.where(right, log_top, log_rest).mean())

    return minimise_over_log_t(loss, lo, hi)


def fit_temperature_ece(
    logits: np.ndarray, labels: np.ndarray, *, lo: float = 0.1, hi: float = 10.0, steps: int = 47
) -> float:
    """T on a log grid over [lo, hi] with the lowest top-1 ECE (positives only).

    ECE is a step function of T, so a grid, not a descent; ties go to the T nearest 1 (the
    grid holds 1 exactly: ``steps`` odd and lo · hi = 1).
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if len(y) == 0:
        return 1.0
    right = z.argmax(axis=1) == y
    shifted = z - z.max(axis=1, keepdims=True)
    grid = np.exp(np.linspace(math.log(lo), math.log(hi), steps)).tolist()
    errors = [round(ece(np.exp(_top_log_confidence(shifted, t)), right), 12) for t in grid]
    return float(min(zip(errors, grid, strict=True), key=lambda e: (e[0], abs(math.log(e[1]))))[1])


def fit_vector_scaling(
    logits: np.ndarray,
    labels: np.ndarray,
    positive: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    *,
    strength: float = VECTOR_STRENGTH,
    max_iter: int = 200,
    temperature: float | None = None,
) -> LogitMap:
    """The NLL temperature, then a scale and a bias per label by NLL + strength/2·‖θ‖².

    θ is (log scale, bias) per label, so a scale stays positive (the map never turns a
    label's evidence around). Labels no example names keep scale 1 and bias 0: nothing says
    where to move them. They enter the softmax only through their log-sum-exp, one column, so
    a head with many labels and decisions on a few costs little to fit (exact, not pruned).
    ``temperature``: the NLL temperature of the same examples, when already fitted.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    n, n_labels = z.shape
    pos = np.ones(n, dtype=bool) if positive is None else np.asarray(positive, dtype=bool)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if n == 0:
        return LogitMap(kind="vector")
    if temperature is None:
        temperature = fit_temperature(z, y, pos)
    base = z / temperature
    named = np.zeros(n_labels, dtype=bool)
    named[y] = True
    k = int(named.sum())
    cols = base[:, named]
    if k < n_labels:  # the other labels, as one column that no parameter moves
        rest = base[:, ~named]
        top = rest.max(axis=1, keepdims=True)
        cols = np.concatenate(
            [cols, top + np.log(np.exp(rest - top).sum(axis=1, keepdims=True))], 1
        )
    target = (np.cumsum(named) - 1)[y]

    def objective(theta: Float64) -> tuple[float, Float64]:
        scale = np.exp(theta[:k])
        mapped = cols.copy()
        mapped[:, :k] = cols[:, :k] * scale + theta[k:]
        loss, g = loss_and_grad(mapped, target, pos, w)
        g_scale = (g[:, :k] * cols[:, :k]).sum(axis=0) * scale
        grad = np.concatenate([g_scale, g[:, :k].sum(axis=0)]) + strength * theta
        return loss + 0.5 * strength * float(theta @ theta), grad

    theta, _ = lbfgs(objective, np.zeros(2 * k), max_iter=max_iter, tol=1e-6)
    class_scale, class_bias = np.ones(n_labels), np.zeros(n_labels)
    class_scale[named], class_bias[named] = np.exp(theta[:k]), theta[k:]
    return LogitMap(
        kind="vector",
        temperature=temperature,
        class_scale=tuple(float(v) for v in class_scale),
        class_bias=tuple(float(v) for v in class_bias),
    )


def fit_logit_maps(
    kinds: tuple[MapKind, ...],
    logits: np.ndarray,
    labels: np.ndarray,
    positive: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> list[LogitMap]:
    """A map of each kind fitted on the same examples (the NLL temperature fitted once)."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    pos = np.ones(len(y), dtype=bool) if positive is None else np.asarray(positive, dtype=bool)
    nll = fit_temperature(z, y, pos) if {"temperature_nll", "vector"} & set(kinds) else 1.0
    out = []
    for kind in kinds:
        if kind == "identity":
            out.append(LogitMap())
        elif kind == "temperature_nll":
            out.append(LogitMap(kind=kind, temperature=nll))
        elif kind == "temperature_top1":
            out.append(LogitMap(kind=kind, temperature=fit_temperature_top1(z[pos], y[pos])))
        elif kind == "temperature_ece":
            out.append(LogitMap(kind=kind, temperature=fit_temperature_ece(z[pos], y[pos])))
        else:
            out.append(fit_vector_scaling(z, y, pos, weights, temperature=nll))
    return out


def fit_logit_map(
    kind: MapKind,
    logits: np.ndarray,
    labels: np.ndarray,
    positive: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> LogitMap:
    return fit_logit_maps((kind,), logits, labels, positive, weights)[0]


def cross_fitted(
    kinds: tuple[MapKind, ...],
    logits: Float64,
    labels: npt.NDArray[np.int64],
    positive: BoolArray,
    folds: npt.NDArray[np.int64],
    weights: Float64,
) -> list[Float64]:
    """Per kind: every fold's logits mapped by a map fitted on the other folds only."""
    mapped = [logits.copy() for _ in kinds]
    for f in np.unique(folds).tolist():
        inside = folds != f
        if not positive[inside].any():  # nothing to fit on: the fold stays as it is
            continue
        rows = (logits[inside], labels[inside], positive[inside], weights[inside])
        for out, fit in zip(mapped, fit_logit_maps(kinds, *rows), strict=True):
            out[~inside] = fit.apply(logits[~inside])
    return mapped


def selection_bins(n: int, most: int = 15) -> int:
    """Bins for comparing maps on ``n`` examples: about √n / 2, at least 2, at most ``most``.

    Each bin's accuracy has a standard error of about 1/(2·√(n / bins)); with 15 bins and 50
    examples that noise (~0.1 per bin) buries the miscalibration being measured, and a
    map would be kept or chosen by chance. With √n / 2 bins each holds about 2·√n examples.
    """
    return int(min(max(round(math.sqrt(n) / 2.0), 2), most))


def choose_logit_map(
    logits: np.ndarray,
    labels: np.ndarray,
    positive: np.ndarray,
    folds: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    kinds: tuple[MapKind, ...] = MAP_KINDS,
    replicates: int = 200,
    min_decisions: int = MIN_MAP_DECISIONS,
) -> tuple[LogitMap, tuple[MapScore, ...]]:
    """The chosen map, refitted on all of ``logits`` (out-of-fold predictions), and the scores.

    Each candidate is cross-fitted over ``folds`` (:func:`cross_fitted`), so a flexible map
    cannot win by fitting the examples it is scored on. Among the maps that cost no accuracy
    against the identity, the first in ``kinds`` order whose ECE exceeds the lowest by at
    most one standard error (a paired bootstrap over the examples), or by a negligible
    :data:`NEGLIGIBLE_ECE`, is chosen: the identity stays unless a map clearly helps, and a
    simpler map beats a more flexible one on a tie.
    With fewer than ``min_decisions`` positives, :data:`DEFAULT_MAP` is fitted and kept
    (when ``kinds`` holds it).
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    pos = np.asarray(positive, dtype=bool)
    if int(pos.sum()) < min_decisions and DEFAULT_MAP in kinds:
        kinds = (DEFAULT_MAP,)
    fold = np.asarray(folds, dtype=np.int64)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    results = [top1(m[pos], y[pos]) for m in cross_fitted(kinds, z, y, pos, fold, w)]
    fitted = fit_logit_maps(kinds, z, y, pos, w)
    bins = selection_bins(int(pos.sum()))
    scores = tuple(
        MapScore(
            kind=k,
            ece=ece(conf, right),
            selection_ece=ece(conf, right, bins),
            selection_bins=bins,
            accuracy=float(right.mean()) if right.size else 0.0,
            temperature=m.temperature,
        )
        for k, (conf, right), m in zip(kinds, results, fitted, strict=True)
    )
    return fitted[_one_se(results, scores, replicates)], scores


def _one_se(
    results: list[tuple[Float64, BoolArray]], scores: tuple[MapScore, ...], replicates: int
) -> int:
    n = results[0][0].size
    if n == 0:
        return 0
    bins = scores[0].selection_bins
    eligible = [i for i, s in enumerate(scores) if s.accuracy >= scores[0].accuracy]
    best = min(eligible, key=lambda i: (scores[i].selection_ece, i))
    rng = np.random.default_rng(0)  # a fixed stream: the same predictions, the same choice
    draws = [rng.integers(0, n, n) for _ in range(replicates)]

    def boot(i: int) -> Float64:
        conf, right = results[i]
        return np.array([ece(conf[d], right[d], bins) for d in draws])

    at_best = boot(best)
    for i in eligible:
        excess = scores[i].selection_ece - scores[best].selection_ece
        if i == best or excess <= max(float(np.std(boot(i) - at_best)), NEGLIGIBLE_ECE):
            return i
    return best
