"""A small deterministic L-BFGS minimiser (numpy only; no scipy in the package).

Full-batch and free of randomness: the same start and the same objective give bit-identical
iterates, which is what content-addressed head versions need. Backtracking (Armijo) line
search; the two-loop recursion with the usual γ = sᵀy / yᵀy initial scaling.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import numpy as np
import numpy.typing as npt

Float64 = npt.NDArray[np.float64]
Objective = Callable[[Float64], tuple[float, Float64]]


class OptimResult(msgspec.Struct, kw_only=True, frozen=True):
    iterations: int
    evaluations: int
    loss: float
    grad_norm: float
    converged: bool


def _direction(grad: Float64, history: list[tuple[Float64, Float64, float]]) -> Float64:
    q = grad.copy()
    alphas = []
    for s, y, rho in reversed(history):
        a = rho * float(s @ q)
        alphas.append(a)
        q -= a * y
    if history:
        s, y, _ = history[-1]
        q *= float(s @ y) / float(y @ y)
    for (s, y, rho), a in zip(history, reversed(alphas), strict=True):
        b = rho * float(y @ q)
        q += (a - b) * s
    return -q


def lbfgs(
    objective: Objective,
    x0: Float64,
    *,
    max_iter: int = 200,
    tol: float = 1e-6,
    ftol: float = 1e-10,
    memory: int = 10,
) -> tuple[Float64, OptimResult]:
    """Minimise ``objective`` (returns loss and gradient) from ``x0`` (a flat float64 vector).

    Stops when the gradient's max-norm is below ``tol``, or an iteration improves the loss by
    less than ``ftol`` relative (further digits would not change a prediction), or the line
    search cannot improve it at all.
    """
    x = np.array(x0, dtype=np.float64)
    f, g = objective(x)
    evaluations, iterations = 1, 0
    history: list[tuple[Float64, Float64, float]] = []
    while iterations < max_iter and float(np.abs(g).max(initial=0.0)) >= tol:
        iterations += 1
        d = _direction(g, history)
        slope = float(g @ d)
        if slope >= 0.0:  # not a descent direction (curvature went bad): restart
            history.clear()
            d, slope = -g, -float(g @ g)
        # The first step has no curvature estimate: a unit step in max-norm is a safe start.
        step = 1.0 if history else min(1.0, 1.0 / max(float(np.abs(g).max()), 1e-12))
        for _ in range(30):
            x_new = x + step * d
            f_new, g_new = objective(x_new)
            evaluations += 1
            if f_new <= f + 1e-4 * step * slope:
                break
            step *= 0.5
        if not f_new < f:  # no progress possible at float precision
            break
        small = f - f_new <= ftol * max(abs(f), abs(f_new), 1.0)
        s, y = x_new - x, g_new - g
        sy = float(s @ y)
        if sy > 1e-12:  # keep only pairs with positive curvature (negatives are nonconvex)
            history.append((s, y, 1.0 / sy))
            del history[:-memory]
        x, f, g = x_new, f_new, g_new
        if small:
            break
    grad_norm = float(np.abs(g).max(initial=0.0))
    return x, OptimResult(
        iterations=iterations,
        evaluations=evaluations,
        loss=f,
        grad_norm=grad_norm,
        converged=grad_norm < tol,
    )
