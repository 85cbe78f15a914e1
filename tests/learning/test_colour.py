"""Colour calibration from reviewer decisions: outcomes, out-of-fold fit and its gate."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from tagtrail.domain.calibration import Calibration
from tagtrail.domain.evidence import (
    ColourAlternative,
    ColourAnalysis,
    ColourFinding,
    margin_confidence,
)
from tagtrail.domain.records import Actor, TagEvent
from tagtrail.learning.colour import (
    calibration_gate,
    colour_outcomes,
    fit_colour_calibration,
    raw_confidence,
)

ANALYSER = Actor(type="analyser", id="colour-analyser/1", analyser="colour-analyser/1")
HUMAN = Actor(type="human", id="ana")


def _model(asset: str, seq: int, value: str, confidence: float, *, old: bool = False) -> TagEvent:
    """An analyser event; ``old``: written before calibration (no ``raw_confidence``)."""
    finding = ColourFinding(
        name=value,
        label=value,
        family=value,
        hex="#000000",
        measured_hex="#010101",
        lab=(1.0, 0.0, 0.0),
        coverage=0.9,
        delta_e=1.0,
        alternatives=(),
        confidence=confidence,
    )
    analysis = ColourAnalysis(
        analyser=ANALYSER.id, findings=(finding,), foreground_share=0.5, background_hex="#FFFFFF"
    )
    evidence = msgspec.to_builtins(analysis) | ({} if old else {"raw_confidence": confidence})
    return TagEvent(
        event_id=f"{asset}:{seq}",
        asset_id=asset,
        attribute="colour",
        kind="model_tagged",
        seq=seq,
        at=f"2026-01-01T00:00:0{seq}Z",
        state="suggested",
        actor=ANALYSER,
        value=value,
        evidence=evidence,
    )


def _human(asset: str, seq: int, kind: str, previous: str, value: str) -> TagEvent:
    return TagEvent(
        event_id=f"{asset}:{seq}:h",
        asset_id=asset,
        attribute="colour",
        kind=kind,  # type: ignore[arg-type]
        seq=seq,
        at=f"2026-01-01T00:00:0{seq}Z",
        state=kind,
        actor=HUMAN,  # type: ignore[arg-type]
        value=value,
        previous_value=previous,
    )


def test_outcomes_pair_each_decision_with_the_analyser_proposal_it_judged() -> None:
    events = [
        _model("a", 1, "navy", 0.8),
        _human("a", 2, "confirmed", "navy", "navy"),
        _model("b", 1, "navy", 0.3, old=True),  # written before calibration existed
        _human("b", 2, "corrected", "navy", "black"),
        _human("b", 3, "confirmed", "black", "black"),  # judges a human, not the analyser
        _model("c", 1, "ivory", 0.5),
        _human("c", 2, "rejected", "ivory", "ivory"),
        _model("d", 1, "red", 0.9),  # never reviewed
    ]
    outcomes = colour_outcomes(reversed(events))
    assert [(o.asset_id, o.confidence, o.right) for o in outcomes] == [
        ("a", 0.8, True),
        ("b", 0.3, False),
        ("c", 0.5, False),
    ]
    assert raw_confidence(events[2]) == 0.3
    assert raw_confidence(_human("x", 1, "confirmed", "a", "a")) is None


def _outcome_events(n: int, seed: int) -> list[TagEvent]:
    rng = np.random.default_rng(seed)
    events = []
    for i in range(n):
        c = float(rng.uniform(0, 1))
        right = rng.random() < 1 / (1 + np.exp(-8 * (c - 0.55)))
        events.append(_model(f"a{i}", 1, "navy", c))
        kind = "confirmed" if right else "corrected"
        events.append(_human(f"a{i}", 2, kind, "navy", "navy" if right else "black"))
    return events


def test_fit_beats_an_over_confident_default_out_of_fold_and_passes_the_gate() -> None:
    outcomes = colour_outcomes(_outcome_events(400, 1))
    default = Calibration(kind="platt", a=8.0, b=-0.6, source="shipped")
    fitted, evaluation = fit_colour_calibration(outcomes, default, high=0.95)
    assert fitted.kind == "platt"
    assert fitted.source == "reviewer decisions: 400"  # an over-confident default: no prior
    assert evaluation.n == 400
    assert evaluation.current.version == default.version
    assert evaluation.candidate.version == fitted.version
    assert evaluation.current.ece > 0.2
    assert evaluation.candidate.ece < 0.08
    # Deterministic: the same decisions give the same calibration and fingerprint.
    again = fit_colour_calibration(list(reversed(outcomes)), default, high=0.95)
    assert again[0].version == fitted.version
    assert again[1].fingerprint == evaluation.fingerprint
    decision = calibration_gate(evaluation, "cal-new", default.version)
    assert decision.promote
    assert decision.reasons[0].startswith("overall: ECE ")


def test_gate_refuses_too_few_decisions_and_a_worse_calibration() -> None:
    outcomes = colour_outcomes(_outcome_events(40, 2))
    _fitted, evaluation = fit_colour_calibration(outcomes, Calibration(), high=0.95)
    few = calibration_gate(evaluation, "v", "cur", min_n=100)
    assert not few.promote
    assert few.reasons[0] == "only 40 reviewer decisions on colour; a calibration needs 100"
    worse = msgspec.structs.replace(
        evaluation, candidate=msgspec.structs.replace(evaluation.current, ece=0.3, version="v")
    )
    worse = msgspec.structs.replace(
        worse, n=200, current=msgspec.structs.replace(evaluation.current, ece=0.1)
    )
    refused = calibration_gate(worse, "v", "cur")
    assert not refused.promote
    assert refused.reasons == ("overall: ECE 0.1000 → 0.3000 (n=200) got worse",)
    truth = Calibration(kind="platt", a=8.0, b=-4.4)
    with pytest.raises(ValueError, match="no colour outcomes"):
        fit_colour_calibration([], truth, high=0.95)


def test_an_older_analysers_confidence_is_read_back_on_todays_scale() -> None:
    """Analyser 1.x recorded the ratio (ΔE₂ − ΔE₁)/(ΔE₂ + ΔE₁); reviewer decisions on its
    proposals still calibrate today's analyser, from the margins it stored."""
    finding = ColourFinding(
        name="navy",
        label="Navy",
        family="blue",
        hex="#000080",
        measured_hex="#010180",
        lab=(20.0, 10.0, -40.0),
        coverage=0.9,
        delta_e=8.0,
        alternatives=(ColourAlternative(name="indigo", family="blue", delta_e=11.0),),
        confidence=3.0 / 19.0,  # the ratio: unsure, though 3 ΔE clear
    )

    def event(analyser: str, recorded: float) -> TagEvent:
        analysis = ColourAnalysis(
            analyser=analyser, findings=(finding,), foreground_share=0.5, background_hex="#FFFFFF"
        )
        evidence = msgspec.to_builtins(analysis) | {"raw_confidence": recorded}
        return msgspec.structs.replace(_model("n", 1, "navy", 0.5), evidence=evidence)

    old = raw_confidence(event("tagtrail.colour/1.0.0", 3.0 / 19.0))
    assert old == pytest.approx(margin_confidence(8.0, 11.0))
    assert old == pytest.approx(1 - math.exp(-1.0))
    # Today's analyser recorded it on today's scale: taken as recorded.
    assert raw_confidence(event("tagtrail.colour/2.0.0", 0.61)) == 0.61
