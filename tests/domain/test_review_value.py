"""The review queue's measures (issue 19, part 4): a decision's margin, kept on its tag by
the fold, and the expected value of reviewing a pending tag (pure; no OpenSearch needed).

Before, a tag carried only its probability: a head split 0.48 / 0.47 between two labels
looked as sure as one at 0.48 against a field of small ones, and the queue could only be
ordered by age or probability."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from tagtrail.domain.projection import fold_tags, projection_fields
from tagtrail.domain.records import Actor, LabelScore, Tag, TagEvent, event_id
from tagtrail.domain.review_value import (
    head_margin,
    margin_of,
    missing_cost,
    review_value,
)
from tests.domain.test_projection import NEWER, human, model

ANALYSER = Actor(type="analyser", id="tagtrail.colour/2.0.0", analyser="tagtrail.colour/2.0.0")


def scores(*values: float) -> tuple[LabelScore, ...]:
    return tuple(LabelScore(label=f"l{i}", score=v) for i, v in enumerate(values))


def with_top_k(event: TagEvent, *values: float) -> TagEvent:
    return msgspec.structs.replace(event, top_k=scores(*values))


def colour(analyser: str, finding: dict[str, Any], **extra: Any) -> TagEvent:
    actor = Actor(type="analyser", id=analyser, analyser=analyser)
    evidence = {
        "kind": "colour",
        "analyser": analyser,
        "foreground_share": 0.5,
        "background_hex": "#FFFFFF",
        "findings": [finding],
        **extra,
    }
    return TagEvent(
        event_id=event_id("a", 1, 0),
        asset_id="a",
        attribute="colour",
        kind="model_tagged",
        seq=1,
        at="2026-01-01T00:00:00.000000Z",
        actor=actor,
        state="flagged",
        value="navy",
        probability=0.8,
        tier="flagged",
        # ΔE distances, lower is nearer: never read as probabilities.
        top_k=scores(1.2, 2.0),
        evidence=evidence,
    )


def finding(delta_e: float, runner_up: float | None, confidence: float) -> dict[str, Any]:
    alternatives = (
        [] if runner_up is None else [{"name": "black", "family": "black", "delta_e": runner_up}]
    )
    return {
        "name": "navy",
        "label": "Navy",
        "family": "blue",
        "hex": "#1B2541",
        "measured_hex": "#1C2643",
        "lab": (15.0, 3.0, -18.0),
        "coverage": 0.8,
        "delta_e": delta_e,
        "confidence": confidence,
        "alternatives": alternatives,
    }


# -- margin --------------------------------------------------------------------------------
def test_a_heads_margin_is_its_top_two_probabilities_apart() -> None:
    assert head_margin(scores(0.48, 0.47, 0.05)) == pytest.approx(0.01)
    assert head_margin(scores(0.48, 0.1, 0.1, 0.1)) == pytest.approx(0.38)
    assert head_margin(scores(0.2, 0.7, 0.1)) == pytest.approx(0.5)  # best first or not
    assert head_margin(scores(0.5, 0.5)) == 0.0
    assert head_margin(scores(0.9)) is None  # no runner-up recorded: unknown
    assert head_margin(()) is None


def test_the_margin_of_a_model_decision_comes_from_its_top_k() -> None:
    event = with_top_k(model(1, "peacoat", "flagged", 0.8), 0.8, 0.15, 0.05)
    assert margin_of(event) == pytest.approx(0.65)
    assert margin_of(model(1, "peacoat", "flagged", 0.8)) is None  # no top_k stored


def test_the_colour_analysers_margin_is_its_delta_e_margin_confidence() -> None:
    # Analyser 2.x records its ΔE-margin confidence; the calibrated probability is another
    # number, and the ΔE distances in top_k are not probabilities.
    event = colour("tagtrail.colour/2.0.0", finding(1.2, 2.0, 0.2), raw_confidence=0.234)
    assert margin_of(event) == pytest.approx(0.234)
    # Analyser 1.x recorded a ratio: its margin is read back from the stored ΔE.
    old = colour("tagtrail.colour/1.3.0", finding(1.0, 4.0, 0.6))
    assert margin_of(old) == pytest.approx(0.632121, abs=1e-6)  # 1 − e^(−3/3)
    alone = colour("tagtrail.colour/1.3.0", finding(1.0, None, 0.6))
    assert margin_of(alone) == 1.0  # no runner-up in the palette
    # Another analyser without colour evidence: no margin rather than a ΔE difference.
    other = msgspec.structs.replace(event, evidence=None)
    assert margin_of(other) is None


# -- the fold ------------------------------------------------------------------------------
def test_the_fold_keeps_the_margin_on_the_tag_and_the_document() -> None:
    first = with_top_k(model(1, "peacoat", "flagged", 0.5), 0.5, 0.45, 0.05)
    tag = fold_tags([first])["category"]
    assert tag.margin == pytest.approx(0.05)
    stored = projection_fields([first])["tags"][0]
    assert stored["margin"] == pytest.approx(0.05)
    # A newer model event replaces it with its own.
    second = with_top_k(model(2, "peacoat", "auto_applied", 0.97, actor=NEWER), 0.97, 0.02)
    assert fold_tags([first, second])["category"].margin == pytest.approx(0.95)


def test_a_confirmation_keeps_the_machines_margin_and_a_correction_drops_it() -> None:
    first = with_top_k(model(1, "peacoat", "flagged", 0.8), 0.8, 0.2)
    confirmed = fold_tags([first, human(2, "confirmed", "peacoat")])["category"]
    assert confirmed.margin == pytest.approx(0.6)
    assert confirmed.probability == 0.8  # kept alike
    corrected = fold_tags([first, human(2, "corrected", "trench_coat")])["category"]
    assert corrected.margin is None
    assert corrected.probability is None


def test_a_proposal_beside_a_human_decision_carries_its_own_margin() -> None:
    events = [
        with_top_k(model(1, "peacoat", "flagged", 0.8), 0.8, 0.2),
        human(2, "corrected", "trench_coat"),
        with_top_k(model(3, "puffer_jacket", "flagged", 0.7, actor=NEWER), 0.7, 0.25),
    ]
    tag = fold_tags(events)["category"]
    assert tag.margin is None  # the value in force is the reviewer's
    assert tag.proposed_margin == pytest.approx(0.45)
    assert tag.proposed_probability == 0.7


def test_a_migration_drops_the_proposals_margin_with_the_proposal() -> None:
    events = [
        with_top_k(model(1, "peacoat", "flagged", 0.8), 0.8, 0.2),
        human(2, "corrected", "trench_coat"),
        with_top_k(model(3, "puffer_jacket", "flagged", 0.7, actor=NEWER), 0.7, 0.25),
        msgspec.structs.replace(
            human(4, "migrated", "trench"),
            actor=Actor(type="migration", id="taxonomy"),
            state="corrected",
            previous_value="trench_coat",
            taxonomy_version="t2",
        ),
    ]
    tag = fold_tags(events)["category"]
    assert tag.value == "trench"
    assert tag.proposed_value is None
    assert tag.proposed_margin is None


def test_documents_projected_before_margins_still_read() -> None:
    old = projection_fields([model(1, "peacoat", "flagged", 0.8)])["tags"][0]
    assert "margin" not in old  # omitted, not null
    assert msgspec.convert(old, Tag).margin is None


# -- expected value ------------------------------------------------------------------------
def test_the_value_of_a_review_is_the_expected_cost_it_removes() -> None:
    assert missing_cost(0.75) == pytest.approx(1 / 3)
    # Flagged (applied): worth the chance it is wrong.
    assert review_value("flagged", 0.8, 0.75) == pytest.approx(0.2)
    # Suggested (not applied): worth the chance it is right, at the cost of a missing value.
    assert review_value("suggested", 0.6, 0.75) == pytest.approx(0.2)
    assert review_value("suggested", 0.3, 0.75) == pytest.approx(0.1)
    # Continuous at the medium threshold, largest there.
    assert review_value("flagged", 0.75, 0.75) == pytest.approx(
        review_value("suggested", 0.75, 0.75)
    )
    assert review_value("flagged", 0.9, 0.75) < review_value("flagged", 0.76, 0.75)
    # A suggestion capped below its tier (material): surer is worth more.
    assert review_value("suggested", 0.99, 0.75) == pytest.approx(0.33)
    # No probability, or nothing pending: no estimate.
    assert review_value("flagged", None, 0.75) == 0.0
    assert review_value("confirmed", 0.5, 0.75) == 0.0
    # A medium threshold of 0 is clamped (a missing value is not infinitely costly).
    assert missing_cost(0.0) == pytest.approx(99.0)
    assert missing_cost(1.0) == 0.0
