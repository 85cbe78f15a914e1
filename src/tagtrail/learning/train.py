"""Train and calibrate one linear softmax head per attribute from reviewer decisions.

The head starts at the zero-shot text weights (see ``solver.py`` for the model and the
objective). Which regularisation to use is chosen by k-fold cross-validation (balanced
folds dealt by hashing asset ids, so an asset's examples stay together) on the out-of-fold
loss after temperature scaling (a paired one-standard-error rule, see :func:`choose`),
among:

* the zero-shot weights themselves (always a candidate, so with a handful of labels the
  result cannot be worse than zero-shot on the cross-validated loss);
* anchored heads, W = gain · text weights + Δ with λ‖Δ‖² for each λ in the grid: the
  zero-shot direction is kept except where the data contradicts it. The gain is free, so
  a head whose text weights are poor (an untrained encoder, a fashion term CLIP does not
  know) can drop them (gain → 0: a plain probe at the same λ). Plain probes as separate
  candidates (``priors=("zero_shot", "none")``) cost twice the time and, on the learning
  benchmark, scored within 0.001 of the anchored head at every λ.

The λ path stops one step past its best cross-validated loss, and each fit stops at
``max_iter`` iterations or a gradient below ``tol`` (further digits moved no prediction the
benchmark could see): together 1,192 category decisions train in a quarter of the time.

Ties, and differences within the noise, go to the earlier candidate in that order. The
winner's out-of-fold predictions then choose and fit the calibration map of the final head
(which is refitted on all examples): the identity, a temperature fitted by NLL, by the
top-label loss or by ECE, or vector scaling, the simplest whose ECE on folds its fit never
saw is within the noise of the lowest (:func:`~tagtrail.learning.logit_maps.choose_logit_map`).
The NLL temperature that ranks the candidates is not necessarily the best calibration: NLL
also pays for the mass on wrong labels, and a few confidently wrong examples can push it to a
temperature that leaves every other prediction under-confident.

Everything is deterministic: examples arrive in canonical order (``make_training_set``),
folds come from sha256, the optimiser uses no randomness, and the bootstrap that compares
calibration maps draws from a fixed seed.

The head also keeps a summary of its training vectors (``learning.novelty``: prototypes and
the 0.95 quantile of the rows' out-of-sample distance to them), so audits can tell the tags
of assets unlike anything it was trained on; it is not part of the head's version.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np
import numpy.typing as npt

from tagtrail.learning.calibrate import ece, fit_temperature
from tagtrail.learning.dataset import TrainingSet
from tagtrail.learning.head import CandidateScore, Prior, TrainingSummary, TunedHead
from tagtrail.learning.logit_maps import MAP_KINDS, LogitMap, MapKind, choose_logit_map
from tagtrail.learning.losses import example_losses, softmax
from tagtrail.learning.novelty import NoveltySummary, fit_novelty
from tagtrail.learning.solver import (
    Design,
    Fit,
    Problem,
    design_matrix,
    full_weights,
    make_problem,
    solve,
    start_fit,
)
from tagtrail.learning.stats import assign_folds
from tagtrail.tagging.heads import CLIP_LOGIT_SCALE, AnchorHead

Float64 = npt.NDArray[np.float64]
Float32 = npt.NDArray[np.float32]
Candidate = tuple[Prior, float | None]
ZERO_SHOT: Candidate = ("zero_shot", None)


class TrainOptions(msgspec.Struct, kw_only=True, frozen=True):
    #: λ grid, tried strongest first (each fit warm-starts the next, weaker one).
    strengths: tuple[float, ...] = (100.0, 10.0, 1.0, 0.1, 0.01, 0.001, 0.0001)
    priors: tuple[Prior, ...] = ("zero_shot",)
    folds: int = 5
    #: From this many assets on, 3 folds: each still trains on two thirds (hundreds of
    #: assets, enough to rank the candidates) and cross-validation costs 40 % less.
    large_n: int = 1000
    salt: str = "tagtrail/cv"  # fold assignment salt
    max_iter: int = 60
    tol: float = 1e-4
    scale: float = CLIP_LOGIT_SCALE
    #: Calibration maps to choose among, in order of preference (the first is the reference
    #: a map may not lose accuracy against: the identity unless told otherwise).
    calibration_maps: tuple[MapKind, ...] = MAP_KINDS
    #: λ steps tried past the best cross-validated loss before the path stops.
    patience: int = 0
    #: Quantile of the training rows' novelty distances that sets the novelty threshold
    #: (``learning.novelty``); None: keep no summary (heads that are only scored, as in
    #: cross-validation).
    novelty_quantile: float | None = 0.95

    def candidates(self) -> list[Candidate]:
        """In order of preference on a tie: zero-shot, then stronger before weaker."""
        ordered = sorted(self.strengths, reverse=True)
        return [ZERO_SHOT, *((prior, s) for prior in self.priors for s in ordered)]


def _logits(design: Design, theta: Float64, scale: float) -> Float64:
    out: Float64 = (design.x @ theta.T) * scale
    return out


def _path(
    problem: Problem, prior: Prior, options: TrainOptions, *, until: float = 0.0
) -> list[tuple[float, Fit]]:
    """Fits for every λ ≥ ``until``, strongest first, each warm-started from the previous.

    The final head is refitted along the same path as the cross-validated ones, so it is
    the same procedure (weak λ on separable data converges slowly: where it stops matters).
    """
    fit = start_fit(problem, 1.0 if prior == "zero_shot" else 0.0)
    out = []
    for strength in sorted(options.strengths, reverse=True):
        if strength < until:
            break
        fit = solve(
            problem,
            strength,
            fit,
            scale=options.scale,
            free_gain=prior == "zero_shot",
            max_iter=options.max_iter,
            tol=options.tol,
        )
        out.append((strength, fit))
    return out


def out_of_fold_logits(
    design: Design, anchor: Float64, options: TrainOptions, folds: npt.NDArray[np.int64]
) -> dict[Candidate, Float64]:
    """Logits of every candidate tried for every example, each from a fit that never saw it.

    The λ path of each prior is walked strongest first on every fold at once, and stops one
    step past its best cross-validated loss (after temperature scaling): the loss is U-shaped
    in λ, and the weak end, where fits are ill-conditioned and slowest, is where a head only
    overfits. Candidates not reached are left out (they cannot be chosen).
    """
    oof = {ZERO_SHOT: _logits(design, anchor, options.scale)}
    parts = range(int(folds.max()) + 1)
    problems = [make_problem(design.rows(folds != f), anchor) for f in parts]
    tests = [design.rows(folds == f) for f in parts]
    for prior in options.priors:
        fits = [start_fit(p, 1.0 if prior == "zero_shot" else 0.0) for p in problems]
        best, past_best = math.inf, 0
        for strength in sorted(options.strengths, reverse=True):
            logits = np.zeros((len(design.labels), anchor.shape[0]))
            for f in parts:
                fits[f] = solve(
                    problems[f],
                    strength,
                    fits[f],
                    scale=options.scale,
                    free_gain=prior == "zero_shot",
                    max_iter=options.max_iter,
                    tol=options.tol,
                )
                theta = full_weights(problems[f], fits[f])
                logits[folds == f] = _logits(tests[f], theta, options.scale)
            oof[(prior, strength)] = logits
            _, losses = candidate_losses(design, logits)
            loss = float(np.dot(design.weights, losses))
            best, past_best = (loss, 0) if loss < best else (best, past_best + 1)
            if past_best > options.patience:
                break
    return oof


def candidate_losses(design: Design, logits: Float64) -> tuple[float, Float64]:
    """The fitted temperature and each example's loss after it, for out-of-fold logits."""
    temperature = fit_temperature(logits, design.labels, design.positive)
    return temperature, example_losses(logits / temperature, design.labels, design.positive)


def score_candidate(
    design: Design, logits: Float64, candidate: Candidate, temperature: float, losses: Float64
) -> CandidateScore:
    pos = design.positive
    hits = logits[pos].argmax(axis=1) == design.labels[pos]
    return CandidateScore(
        prior=candidate[0],
        strength=candidate[1],
        loss=float(np.dot(design.weights, losses) / design.weights.sum()),
        accuracy=float(hits.mean()) if pos.any() else 0.0,
        temperature=temperature,
    )


def choose(losses: list[Float64], weights: Float64) -> int:
    """The first candidate not significantly worse than the best (a paired one-SE rule).

    Candidates come in order of preference (zero-shot first), so with a handful of labels a
    trained head must beat zero-shot by more than the noise of cross-validation itself
    before it is chosen; with many labels the standard error shrinks and the best wins.
    """
    total = float(weights.sum())
    means = [float(np.dot(weights, loss)) / total for loss in losses]
    best = min(range(len(means)), key=lambda i: (means[i], i))
    for i, loss in enumerate(losses):
        diff = loss - losses[best]
        mean = float(np.dot(weights, diff)) / total
        se = float(np.sqrt(np.dot(weights**2, (diff - mean) ** 2))) / total
        if mean <= se:
            return i
    return best


def _top1_ece(design: Design, logits: Float64) -> float | None:
    pos = design.positive
    if not pos.any():
        return None
    probs = softmax(logits[pos])
    correct = probs.argmax(axis=1) == design.labels[pos]
    return ece(probs.max(axis=1), correct)


def _summary(
    training_set: TrainingSet, design: Design, base_version: str, taxonomy_version: str
) -> TrainingSummary:
    n_pos = int(design.positive.sum())
    return TrainingSummary(
        training_fingerprint=training_set.fingerprint,
        taxonomy_version=taxonomy_version,
        base_version=base_version,
        n_examples=len(design.labels),
        n_positive=n_pos,
        n_negative=len(design.labels) - n_pos,
        n_dropped=design.dropped,
    )


def _head(
    base: AnchorHead,
    theta: Float64,
    scale: float,
    summary: TrainingSummary,
    novelty: NoveltySummary | None,
    logit_map: LogitMap | None = None,
) -> TunedHead:
    """Fold the calibration map into the weights: logits' = logits · (a / T) + β per label.

    T goes into the scale (so a temperature-only map leaves the weights as fitted), each
    label's a into its row of W, and the bias column, turned into logit units, gets a / T
    and then β.
    """
    fitted = logit_map or LogitMap()
    multiplier, offset = fitted.factors(theta.shape[0])
    class_scale = multiplier * fitted.temperature
    effective = scale / fitted.temperature
    weights = theta[:, :-1] * class_scale[:, None]  # × 1 exactly for a temperature
    return TunedHead(
        attribute=base.attribute,
        labels=tuple(base.labels),
        weights=weights.astype(np.float32),
        bias=(theta[:, -1] * scale * multiplier + offset).astype(np.float32),
        scale=effective,
        training=msgspec.structs.replace(
            summary,
            calibration_map=fitted.kind,
            temperature=fitted.temperature,
            class_scale=fitted.class_scale,
            class_bias=fitted.class_bias,
        ),
        novelty=novelty,
    )


def _novelty(training_set: TrainingSet, options: TrainOptions) -> NoveltySummary | None:
    if options.novelty_quantile is None or not training_set.examples:
        return None
    return fit_novelty(training_set.vectors, quantile=options.novelty_quantile)


def _refit(
    design: Design, anchor: Float64, candidate: Candidate, options: TrainOptions
) -> tuple[Float64, float]:
    """The chosen candidate on all examples: (weights, gain)."""
    prior, strength = candidate
    if strength is None:
        return anchor, 1.0
    problem = make_problem(design, anchor)
    _, fit = _path(problem, prior, options, until=strength)[-1]
    return full_weights(problem, fit), float(fit.gain)


def train_head(
    base: AnchorHead,
    training_set: TrainingSet,
    *,
    taxonomy_version: str,
    options: TrainOptions | None = None,
) -> TunedHead:
    """Train and calibrate a head for ``base.attribute`` from ``training_set``.

    With no usable examples (or fewer than two assets, too few to cross-validate) the head
    keeps the zero-shot weights and temperature 1, and says so in ``training.note``.
    """
    options = options or TrainOptions()
    if training_set.attribute != base.attribute:
        raise ValueError(f"training set is for {training_set.attribute}, head {base.attribute}")
    matrix = np.asarray(base.label_matrix, dtype=np.float64)
    anchor = np.concatenate([matrix, np.zeros((matrix.shape[0], 1))], axis=1)
    design = design_matrix(training_set, tuple(base.labels))
    groups = sorted(set(design.groups))
    k = options.folds if len(groups) < options.large_n else min(options.folds, 3)
    n_folds = min(k, len(groups))
    if n_folds < 2:
        note = "no reviewer decisions" if not groups else "too few assets to cross-validate"
        summary = _summary(training_set, design, base.version, taxonomy_version)
        summary = msgspec.structs.replace(summary, note=note)
        return _head(base, anchor, options.scale, summary, _novelty(training_set, options))
    fold_by_group = assign_folds(groups, n_folds, options.salt)
    folds = np.array([fold_by_group[g] for g in design.groups], dtype=np.int64)
    oof = out_of_fold_logits(design, anchor, options, folds)
    candidates = [c for c in options.candidates() if c in oof]
    fitted = [candidate_losses(design, oof[c]) for c in candidates]
    scores = [
        score_candidate(design, oof[c], c, t, loss)
        for c, (t, loss) in zip(candidates, fitted, strict=True)
    ]
    chosen = scores[choose([loss for _, loss in fitted], design.weights)]
    theta, gain = _refit(design, anchor, (chosen.prior, chosen.strength), options)
    logits = oof[(chosen.prior, chosen.strength)]
    # The same folds again: each fold's predictions came from a head that never saw them,
    # and are now mapped by a calibration map fitted without them.
    logit_map, map_scores = choose_logit_map(
        logits,
        design.labels,
        design.positive,
        folds,
        design.weights,
        kinds=options.calibration_maps,
    )
    summary = msgspec.structs.replace(
        _summary(training_set, design, base.version, taxonomy_version),
        prior=chosen.prior,
        strength=chosen.strength,
        gain=gain,
        ece_before=_top1_ece(design, logits),
        ece_after=_top1_ece(design, logit_map.apply(logits)),
        cv=tuple(scores),
        calibration_candidates=map_scores,
    )
    return _head(base, theta, options.scale, summary, _novelty(training_set, options), logit_map)
