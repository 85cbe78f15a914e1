"""The numeric core of head training: a design matrix and a preconditioned L-BFGS fit.

The model is logits = s · (x̃ @ Wᵀ) with x̃ = [x, 1] (the last column of W is the bias, in
the same cosine units as the weights) and W = gain · A + Δ, where A is the zero-shot text
weights with a zero bias column. The objective is

    mean_i w_i·ℓ_i  +  λ/2 · ‖Δ‖²

with ℓ = −log p_y for a positive example and −log(1 − p_y) for a negative one. With the
gain free and starting at 1 this is "anchored to zero-shot": a large λ keeps the head on
the zero-shot direction (the gain then acts like a temperature); with the gain fixed at 0
it is a plain L2-regularised probe. Training (``train.py``) lets cross-validation choose.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np
import numpy.typing as npt

from tagtrail.learning.dataset import TrainingSet
from tagtrail.learning.losses import loss_and_grad
from tagtrail.learning.optim import lbfgs

Float64 = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class Design(msgspec.Struct, kw_only=True, frozen=True, eq=False):
    """The numeric view of a training set: one row per example."""

    x: Float64  # (n, d + 1): the vector and a constant 1 for the bias
    labels: npt.NDArray[np.int64]
    positive: BoolArray
    weights: Float64
    groups: tuple[str, ...]  # asset id per row (the fold key)
    dropped: int  # examples whose label the head does not have

    def rows(self, mask: BoolArray) -> Design:
        return Design(
            x=self.x[mask],
            labels=self.labels[mask],
            positive=self.positive[mask],
            weights=self.weights[mask],
            groups=tuple(g for g, m in zip(self.groups, mask.tolist(), strict=True) if m),
            dropped=0,
        )


def design_matrix(training_set: TrainingSet, labels: tuple[str, ...]) -> Design:
    """Examples whose label the head has; the rest are counted in ``dropped``."""
    index = {label: i for i, label in enumerate(labels)}
    kept = [e for e in training_set.examples if e.label in index]
    n = len(kept)
    d = training_set.vectors.shape[1] if n else 0
    x = np.ones((n, d + 1), dtype=np.float64)
    if n:
        x[:, :d] = training_set.vectors[[e.row for e in kept]]
    return Design(
        x=x,
        labels=np.array([index[e.label] for e in kept], dtype=np.int64),
        positive=np.array([e.polarity == "positive" for e in kept], dtype=bool),
        weights=np.array([e.weight for e in kept], dtype=np.float64),
        groups=tuple(e.asset_id for e in kept),
        dropped=len(training_set.examples) - n,
    )


class Problem(msgspec.Struct, kw_only=True, frozen=True, eq=False):
    """A design rotated into the eigenbasis of its (weighted) Gram matrix x̃ᵀWx̃ / Σw.

    In that basis the curvature of the loss is roughly diagonal, so a per-column step size
    (a diagonal preconditioner) makes L-BFGS converge in tens of iterations even for weak
    regularisation, where the raw problem is ill-conditioned (a logit scale of 100 against
    λ = 0.0001). Δ has no data gradient outside the span of the vectors (when n < d), so it
    is optimised only inside it: fewer unknowns, same optimum.
    """

    design: Design
    basis: Float64  # (d + 1, r) orthonormal columns spanning the data
    energy: Float64  # (r,) eigenvalues of the Gram matrix
    rotated: Float64  # (n, r) = x̃ @ basis
    anchor: Float64  # (labels, d + 1): the zero-shot weights and a zero bias column
    anchor_logits: Float64  # (n, labels) = x̃ @ anchorᵀ (without the scale)


class Fit(msgspec.Struct, kw_only=True, frozen=True, eq=False):
    """W = gain · anchor + Δ, with Δ expressed in the problem's basis."""

    gain: float
    delta: Float64  # (labels, r)


def make_problem(design: Design, anchor: Float64) -> Problem:
    w = design.weights / max(float(design.weights.sum()), 1e-12)
    gram = design.x.T @ (design.x * w[:, None])
    energy, vectors = np.linalg.eigh(gram)
    keep = energy > 1e-10 * max(float(energy.max(initial=0.0)), 1e-12)
    basis = np.ascontiguousarray(vectors[:, keep])
    return Problem(
        design=design,
        basis=basis,
        energy=energy[keep],
        rotated=design.x @ basis,
        anchor=anchor,
        anchor_logits=design.x @ anchor.T,
    )


def start_fit(problem: Problem, gain: float) -> Fit:
    """Δ = 0: the zero-shot weights (gain 1) or all-zero weights (gain 0)."""
    return Fit(gain=gain, delta=np.zeros((problem.anchor.shape[0], problem.basis.shape[1])))


def full_weights(problem: Problem, fit: Fit) -> Float64:
    """(labels, d + 1) weights of a fit, in the original coordinates."""
    out: Float64 = fit.gain * problem.anchor + fit.delta @ problem.basis.T
    return out


def solve(
    problem: Problem,
    strength: float,
    start: Fit,
    *,
    scale: float,
    free_gain: bool = True,
    max_iter: int = 150,
    tol: float = 1e-5,
) -> Fit:
    """Minimise mean loss + strength/2·‖Δ‖² from ``start`` (gain fixed unless ``free_gain``)."""
    design, x, base = problem.design, problem.rotated, problem.anchor_logits
    n_labels, rank = start.delta.shape
    # Inverse square roots of the approximate curvature per unknown: the softmax Hessian is
    # about 1/labels per example at a flat start, times scale² times the direction's energy.
    spread = scale * scale / n_labels
    precondition = 1.0 / np.sqrt(spread * problem.energy + strength)
    gain_scale = 1.0 / math.sqrt(spread * float((base * base).sum(axis=1).mean()) + 1e-12)
    offset = 1 if free_gain else 0

    def unpack(flat: Float64) -> tuple[float, Float64]:
        gain = float(flat[0]) * gain_scale if free_gain else start.gain
        return gain, flat[offset:].reshape(n_labels, rank) * precondition

    # The two products with the (n, r) design run in float32: they are most of the time,
    # and float32 products agree with float64 to ~1e-6 relative, far below ``tol``.
    x32 = x.astype(np.float32)

    def objective(flat: Float64) -> tuple[float, Float64]:
        gain, delta = unpack(flat)
        logits = scale * (gain * base + (x32 @ delta.T.astype(np.float32)))
        loss, g_logits = loss_and_grad(logits, design.labels, design.positive, design.weights)
        g_data = (g_logits.T.astype(np.float32) @ x32).astype(np.float64)
        g_delta = (scale * g_data + strength * delta) * precondition
        parts = [g_delta.reshape(-1)]
        if free_gain:
            parts.insert(0, np.array([scale * float((g_logits * base).sum()) * gain_scale]))
        return loss + 0.5 * strength * float((delta * delta).sum()), np.concatenate(parts)

    flat0 = (start.delta / precondition).reshape(-1)
    if free_gain:
        flat0 = np.concatenate([[start.gain / gain_scale], flat0])
    flat, _ = lbfgs(objective, flat0, max_iter=max_iter, tol=tol)
    gain, delta = unpack(flat)
    return Fit(gain=gain, delta=delta)
