"""Calibrating the colour analyser from reviewer decisions (pure computation).

Each reviewer decision on a colour the analyser proposed is one outcome: confirmed → the
measured colour was right, corrected or rejected → it was wrong. The score is the analyser's
raw ΔE-margin confidence in the model event the reviewer judged. Platt scaling is fitted on
all outcomes; its quality is measured out of fold (5 folds by asset), beside the calibration
in force on the same outcomes, and the gate promotes only a calibration that is no worse.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import msgspec
import numpy as np

from tagtrail.domain.calibration import Calibration
from tagtrail.domain.evidence import colour_evidence
from tagtrail.domain.records import TagEvent
from tagtrail.learning.calibrate import MIN_PLATT_DECISIONS, ece, fit_platt
from tagtrail.learning.evaluate import GateDecision
from tagtrail.learning.shadow import judged_pairs
from tagtrail.learning.stats import assign_folds

FOLDS = 5
COLOUR = "colour"


class ColourOutcome(msgspec.Struct, kw_only=True, frozen=True):
    asset_id: str
    decision_event_id: str
    confidence: float  # the analyser's raw confidence in the value the reviewer judged
    right: bool


class TierOutcome(msgspec.Struct, kw_only=True, frozen=True):
    """What a calibration does on the outcomes: ECE and the auto tier."""

    version: str
    ece: float
    auto_share: float
    auto_precision: float | None


class CalibrationEvaluation(msgspec.Struct, kw_only=True, frozen=True):
    method: str
    n: int
    n_right: int
    fingerprint: str  # of the outcomes: the same decisions give the same fingerprint
    current: TierOutcome  # the calibration in force (shipped default or a champion)
    candidate: TierOutcome  # the new one, out of fold


def raw_confidence(event: TagEvent) -> float | None:
    """The analyser's uncalibrated confidence of a colour model event, on the scale the
    analyser uses now (an older analyser's is read back from its stored margins)."""
    evidence = colour_evidence(event.evidence)
    return evidence.margin_confidence if evidence is not None else None


def colour_outcomes(events: Iterable[TagEvent]) -> list[ColourOutcome]:
    """One outcome per human decision that judged an analyser proposal directly."""
    out: list[ColourOutcome] = []
    for model, human in judged_pairs(events, COLOUR):
        confidence = raw_confidence(model)
        if confidence is None:
            continue
        out.append(
            ColourOutcome(
                asset_id=human.asset_id,
                decision_event_id=human.event_id,
                confidence=confidence,
                right=human.kind == "confirmed",
            )
        )
    return out


def _tiers(version: str, probabilities: np.ndarray, right: np.ndarray, high: float) -> TierOutcome:
    auto = probabilities >= high
    return TierOutcome(
        version=version,
        ece=round(ece(probabilities, right), 4),
        auto_share=round(float(auto.mean()), 4),
        auto_precision=round(float(right[auto].mean()), 4) if auto.any() else None,
    )


def fit_colour_calibration(
    outcomes: list[ColourOutcome], current: Calibration, *, high: float
) -> tuple[Calibration, CalibrationEvaluation]:
    """Platt scaling on every outcome, and its out-of-fold quality beside ``current``'s."""
    if not outcomes:
        raise ValueError("no colour outcomes to calibrate from")
    outcomes = sorted(outcomes, key=lambda o: o.decision_event_id)  # order-free, bit for bit
    scores = np.array([o.confidence for o in outcomes])
    right = np.array([float(o.right) for o in outcomes])
    folds = assign_folds(sorted({o.asset_id for o in outcomes}), FOLDS, salt="colour")
    fold_of = np.array([folds[o.asset_id] for o in outcomes])
    out_of_fold = np.empty_like(scores)
    for f in range(FOLDS):
        inside = fold_of == f
        if inside.any():
            out_of_fold[inside] = fit_platt(scores[~inside], right[~inside]).apply(scores[inside])
    fitted = msgspec.structs.replace(
        fit_platt(scores, right), source=f"reviewer decisions: {len(outcomes)}"
    )
    digest = hashlib.sha256()
    for o in outcomes:
        digest.update(f"{o.decision_event_id}:{o.confidence!r}:{o.right}\n".encode())
    evaluation = CalibrationEvaluation(
        method=f"out of fold, {FOLDS} folds by asset",
        n=len(outcomes),
        n_right=int(right.sum()),
        fingerprint=digest.hexdigest()[:16],
        current=_tiers(current.version, current.apply(scores), right, high),
        candidate=_tiers(fitted.version, out_of_fold, right, high),
    )
    return fitted, evaluation


def calibration_gate(
    evaluation: CalibrationEvaluation,
    candidate_version: str,
    current_version: str,
    *,
    min_n: int = MIN_PLATT_DECISIONS,
) -> GateDecision:
    """Promote when there are enough decisions and the out-of-fold ECE is no worse."""
    new, old = evaluation.candidate, evaluation.current
    reasons: list[str] = []
    if evaluation.n < min_n:
        reasons.append(
            f"only {evaluation.n} reviewer decisions on colour; a calibration needs {min_n}"
        )
    if new.ece > old.ece:
        reasons.append(f"overall: ECE {old.ece:.4f} → {new.ece:.4f} (n={evaluation.n}) got worse")
    promote = not reasons
    if promote:
        reasons.append(
            f"overall: ECE {old.ece:.4f} → {new.ece:.4f} (n={evaluation.n}, {evaluation.method})"
        )
    return GateDecision(
        promote=promote,
        attribute=COLOUR,
        candidate_version=candidate_version,
        champion_version=current_version,
        reasons=tuple(reasons),
    )
