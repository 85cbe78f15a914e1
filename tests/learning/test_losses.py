"""Loss gradients against finite differences, and the optimiser on known problems."""

from __future__ import annotations

import numpy as np
import pytest

from tagtrail.learning.losses import example_losses, loss_and_grad, softmax
from tagtrail.learning.optim import lbfgs


def _case() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((7, 4)) * 3
    labels = np.array([0, 1, 2, 3, 0, 1, 2])
    positive = np.array([True, False, True, False, True, False, False])
    weights = np.array([1.0, 2.0, 1.0, 0.5, 1.0, 1.0, 3.0])
    return logits, labels, positive, weights


def test_losses_match_their_definitions() -> None:
    logits, labels, positive, _ = _case()
    p = softmax(logits)
    py = p[np.arange(7), labels]
    expected = np.where(positive, -np.log(py), -np.log(1 - py))
    assert example_losses(logits, labels, positive) == pytest.approx(expected, rel=1e-10)


def test_gradient_matches_finite_differences() -> None:
    logits, labels, positive, weights = _case()
    _, grad = loss_and_grad(logits, labels, positive, weights)
    eps = 1e-6
    numeric = np.zeros_like(logits)
    for i, j in np.ndindex(*logits.shape):
        up, down = logits.copy(), logits.copy()
        up[i, j] += eps
        down[i, j] -= eps
        numeric[i, j] = (
            loss_and_grad(up, labels, positive, weights)[0]
            - loss_and_grad(down, labels, positive, weights)[0]
        ) / (2 * eps)
    assert grad == pytest.approx(numeric, abs=1e-7)


def test_a_hopeless_negative_stays_finite() -> None:
    logits = np.array([[1000.0, 0.0, 0.0]])  # p_0 rounds to exactly 1 in float64
    loss, grad = loss_and_grad(logits, np.array([0]), np.array([False]), np.array([1.0]))
    assert np.isfinite(loss)
    assert loss > 100
    assert np.all(np.isfinite(grad))
    assert grad[0, 0] > 0.99  # pushes the rejected label down


def test_lbfgs_minimises_a_quadratic_and_rosenbrock() -> None:
    a = np.diag([1.0, 10.0, 100.0])
    b = np.array([1.0, -2.0, 3.0])

    def quadratic(x: np.ndarray) -> tuple[float, np.ndarray]:
        return float(0.5 * x @ a @ x - b @ x), a @ x - b

    x, result = lbfgs(quadratic, np.zeros(3), tol=1e-8, ftol=0.0)
    assert x == pytest.approx(np.linalg.solve(a, b), abs=1e-8)
    assert result.converged

    def rosenbrock(x: np.ndarray) -> tuple[float, np.ndarray]:
        f = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        g = np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2), 200 * (x[1] - x[0] ** 2)])
        return float(f), g

    x, _ = lbfgs(rosenbrock, np.array([-1.2, 1.0]), max_iter=500, tol=1e-9, ftol=0.0)
    assert x == pytest.approx([1.0, 1.0], abs=1e-5)
