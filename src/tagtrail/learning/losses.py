"""Softmax losses for positive and negative examples, and their gradients (numpy, float64).

A positive example says "the label is ``y``": loss −log p_y. A negative example says "the
label is not ``y``" and nothing else: loss −log(1 − p_y), which lowers p_y and spreads the
mass over the other labels in proportion to what they already hold. Both are computed from
log-sum-exps so a confident head (CLIP logits ×100) never overflows or takes log(0).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Float64 = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def log_softmax(logits: np.ndarray) -> Float64:
    z = np.asarray(logits, dtype=np.float64)
    shifted = z - z.max(axis=-1, keepdims=True)
    out: Float64 = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return out


def softmax(logits: np.ndarray) -> Float64:
    out: Float64 = np.exp(log_softmax(logits))
    return out


def _log_not(log_p: Float64, labels: IntArray) -> Float64:
    """log(1 − p_y) per row, as log Σ_{j≠y} p_j (exact even when p_y rounds to 1)."""
    masked = log_p.copy()
    masked[np.arange(len(labels)), labels] = -np.inf
    top = masked.max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)  # a single-label head: 1 − p_y = 0
    with np.errstate(divide="ignore"):
        out: Float64 = (top + np.log(np.exp(masked - top).sum(axis=1, keepdims=True)))[:, 0]
    return np.maximum(out, -700.0)  # cap the loss of a hopeless negative: keeps it finite


def example_losses(logits: np.ndarray, labels: IntArray, positive: BoolArray) -> Float64:
    """(n,) loss of each example: −log p_y (positive) or −log(1 − p_y) (negative)."""
    log_p = log_softmax(logits)
    rows = np.arange(len(labels))
    pos = -log_p[rows, labels]
    neg = -_log_not(log_p, labels)
    out: Float64 = np.where(positive, pos, neg)
    return out


def loss_and_grad(
    logits: np.ndarray, labels: IntArray, positive: BoolArray, weights: Float64
) -> tuple[float, Float64]:
    """Weighted mean loss and its gradient with respect to the logits, (n, labels).

    Positive: p − onehot(y). Negative: p_y on y and −p_j·p_y/(1 − p_y) elsewhere, i.e.
    d/dz of −log(1 − p_y).
    """
    log_p = log_softmax(logits)
    p = np.exp(log_p)
    rows = np.arange(len(labels))
    neg = ~positive
    # Most training sets are all positives: skip the masked log-sum-exp when it is unused.
    log_not = _log_not(log_p, labels) if neg.any() else np.zeros(len(labels))
    losses = np.where(positive, -log_p[rows, labels], -log_not)
    total = float(weights.sum())
    grad = p.copy()
    grad[rows[positive], labels[positive]] -= 1.0
    if neg.any():
        # p_j·p_y/(1 − p_y) = p_y · p_j/Σ_{k≠y} p_k, from logs: bounded by p_y, never inf.
        share = np.exp(np.minimum(log_p[neg] - log_not[neg][:, None], 0.0))
        g = -p[neg, labels[neg]][:, None] * share
        g[np.arange(int(neg.sum())), labels[neg]] = p[neg, labels[neg]]
        grad[neg] = g
    grad *= (weights / total)[:, None]
    return float(np.dot(weights, losses) / total), grad
