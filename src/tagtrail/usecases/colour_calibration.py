"""Colour calibration from reviewer decisions: the colour analyser's "head" that learns.

``Heads.train("colour")`` lands here: every reviewer decision on an analyser colour
becomes an outcome, Platt scaling is fitted, measured out of fold beside the calibration in
force, stored as a head version of kind ``calibration`` (content-addressed, put-if-absent)
and pointed at by ``challenger``. ``promoteHead`` runs :func:`calibration_gate` on it; the
tagger then turns raw colour confidence into probability with it (``champions.install_champions``).
"""

from __future__ import annotations

import hashlib

import msgspec

from tagtrail.domain.calibration import Calibration
from tagtrail.domain.records import utc_now
from tagtrail.errors import InvalidInput
from tagtrail.learning.calibrate import MIN_PLATT_DECISIONS
from tagtrail.learning.colour import (
    COLOUR,
    CalibrationEvaluation,
    calibration_gate,
    colour_outcomes,
    fit_colour_calibration,
)
from tagtrail.learning.dataset import DECISION_KINDS, HUMAN_KINDS
from tagtrail.learning.evaluate import GateDecision
from tagtrail.store import HeadDocument, Store
from tagtrail.tagging.pipeline import Tagger
from tagtrail.usecases.champions import CALIBRATION, calibration_evaluation
from tagtrail.usecases.workers import Worker


class CalibrationTrained(msgspec.Struct, kw_only=True, frozen=True):
    version: str
    created: bool
    n_examples: int
    skipped: dict[str, int]
    evaluation: CalibrationEvaluation
    gate: GateDecision


def calibration_version(calibration: Calibration, fingerprint: str, taxonomy: str) -> str:
    text = f"{calibration.version}\n{fingerprint}\n{taxonomy}"
    return f"calibration:{COLOUR}:{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def gate_of(doc: HeadDocument) -> GateDecision:
    evaluation = calibration_evaluation(doc)
    return calibration_gate(
        evaluation, doc.version, evaluation.current.version, min_n=MIN_PLATT_DECISIONS
    )


def calibration_verdict(tagger: Tagger, doc: HeadDocument) -> tuple[bool, list[str]]:
    """Whether the gate lets this stored calibration become the champion, and why."""
    decision = gate_of(doc)
    reasons = list(decision.reasons)
    in_force = tagger.colour_calibration.version
    if decision.champion_version != in_force:
        reasons.insert(
            0,
            f"it was evaluated against {decision.champion_version}, but the calibration in "
            f"force is now {in_force}; train again",
        )
        return False, reasons
    return decision.promote, reasons


async def train_colour_calibration(
    store: Store, tagger: Tagger, training: Worker, *, actor: str
) -> CalibrationTrained:
    """Fit the colour calibration from reviewer decisions and store it as the challenger."""
    events = await store.events.decisions(COLOUR, ["model_tagged", *sorted(DECISION_KINDS)])
    n_human = sum(e.kind in HUMAN_KINDS for e in events)
    outcomes = colour_outcomes(events)
    if len(outcomes) < MIN_PLATT_DECISIONS:
        raise InvalidInput(
            f"{len(outcomes)} reviewer decisions on analyser colours; calibrating colour needs "
            f"at least {MIN_PLATT_DECISIONS} (until then the calibration in force stays: "
            f"{tagger.colour_calibration.source or tagger.colour_calibration.version})",
            field="attribute",
        )
    governance = tagger.taxonomy.attribute(COLOUR).governance
    current = tagger.colour_calibration
    fitted, evaluation = await training.run(
        fit_colour_calibration, outcomes, current, high=governance.high
    )
    taxonomy_version = tagger.taxonomy.attribute_version(COLOUR)
    version = calibration_version(fitted, evaluation.fingerprint, taxonomy_version)
    created = await store.heads.save(
        HeadDocument(
            attribute=COLOUR,
            version=version,
            kind=CALIBRATION,
            created_at=utc_now(),
            created_by=actor,
            taxonomy_version=taxonomy_version,
            encoder=tagger.colour.version,
            training_fingerprint=evaluation.fingerprint,
            n_examples=evaluation.n,
            record=msgspec.to_builtins(fitted),
            evaluation=msgspec.to_builtins(evaluation),
        )
    )
    unpaired = n_human - len(outcomes)  # e.g. a confirmation of another reviewer's correction
    skipped = {"not_judging_the_analyser": unpaired} if unpaired else {}
    return CalibrationTrained(
        version=version,
        created=created,
        n_examples=evaluation.n,
        skipped=skipped,
        evaluation=evaluation,
        gate=calibration_gate(evaluation, version, current.version),
    )
