"""What the head use cases answer: a training, a promotion, a stored version, an evaluation."""

from __future__ import annotations

import msgspec

from tagtrail.learning.colour import CalibrationEvaluation
from tagtrail.learning.evaluate import GateDecision
from tagtrail.usecases.gate import StoredEvaluation


class TrainResult(msgspec.Struct, kw_only=True, frozen=True):
    attribute: str
    version: str
    created: bool  # False: this exact version was already stored (same decisions)
    n_examples: int
    skipped: dict[str, int]
    evaluation: StoredEvaluation | None  # None for a colour calibration (see ``calibration``)
    gate: GateDecision  # what promoting it now would say
    calibration: CalibrationEvaluation | None = None


class PromoteResult(msgspec.Struct, kw_only=True, frozen=True):
    attribute: str
    version: str
    promoted: bool
    forced: bool = False
    reasons: tuple[str, ...] = ()
    previous: str | None = None
    note: str | None = None


class HeadInfo(msgspec.Struct, kw_only=True, frozen=True):
    attribute: str
    version: str
    kind: str
    created_at: str | None
    created_by: str | None
    taxonomy_version: str | None
    encoder: str | None
    n_examples: int
    champion: bool
    challenger: bool
    evaluation: StoredEvaluation | None
    gate: GateDecision | None  # what promoting it now would say (None: no evaluation)
    calibration: CalibrationEvaluation | None = None  # kind "calibration" (colour)


class EvaluateResult(msgspec.Struct, kw_only=True, frozen=True):
    attribute: str
    version: str
    evaluation: StoredEvaluation | None
    gate: GateDecision
    champion: str | None  # the champion now
    calibration: CalibrationEvaluation | None = None
