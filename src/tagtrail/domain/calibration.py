"""A single score's calibration: the record the tagger applies and the learner fits.

Platt's p = σ(a·score + b) turns a raw confidence (the colour analyser's ΔE margin) into a
probability of being right, so the tier thresholds mean the same thing for every source.
Defined here, not in ``learning``, because the tagger applies it and must not depend on
the code that fits it.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import msgspec
import numpy as np
import numpy.typing as npt

Float64 = npt.NDArray[np.float64]


def sigmoid(x: Float64) -> Float64:
    out: Float64 = 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic
    return out


class Calibration(msgspec.Struct, kw_only=True, frozen=True):
    """Identity, or Platt's p = σ(a·score + b), with what it was fitted on."""

    kind: Literal["identity", "platt"] = "identity"
    a: float = 1.0
    b: float = 0.0
    n: int = 0  # decisions it was fitted on
    ece_before: float | None = None
    ece_after: float | None = None
    source: str = ""  # e.g. "shipped default: 1,200 generated photos" or "reviewer decisions"

    @property
    def version(self) -> str:
        """Content address of the mapping itself (kind, a, b)."""
        text = f"{self.kind}:{self.a!r}:{self.b!r}"
        return "cal-" + hashlib.sha256(text.encode()).hexdigest()[:12]

    def apply(self, scores: object) -> Float64:
        s = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
        if self.kind == "identity":
            return s
        return sigmoid(self.a * s + self.b)

    def apply_one(self, score: float) -> float:
        return float(self.apply(np.array([score]))[0])
