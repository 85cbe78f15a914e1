"""Segment checks that reviewers' own labels cannot fool: labels that cannot be learned, and
decisions that disagree with audit answers, named by segment."""

from __future__ import annotations

from tagtrail.learning.evaluate import EvaluationReport, ScoredExample, evaluation_report
from tagtrail.learning.segment_checks import audit_disagreements, unlearnable_segments


def _report(right: dict[str, tuple[int, int]], method: str = "holdout") -> EvaluationReport:
    """brand → (right, n): a report whose accuracy per brand is right / n."""
    rows = [
        ScoredExample(
            example_id=f"{brand}{i}",
            asset_id=f"{brand}{i}",
            label="a",
            predicted="a" if i < ok else "b",
            probability=0.9,
            segments={"brand": brand},
        )
        for brand, (ok, n) in right.items()
        for i in range(n)
    ]
    return evaluation_report(rows, attribute="category", head_version="h", method=method)


def test_a_segment_far_below_the_rest_cannot_be_learned() -> None:
    report = _report({"Kobo": (15, 100), "Aster": (70, 75), "Moss": (72, 75)})
    (flag,) = unlearnable_segments(report, min_n=30, gap=0.2)
    assert (flag.segment, flag.n, flag.reference_n) == ("brand=Kobo", 100, 150)
    assert flag.reference == (70 + 72) / 150
    assert flag.reason().startswith("brand=Kobo: labels cannot be learned: held-out accuracy 0.15")


def test_honest_spread_and_small_segments_are_not_flagged() -> None:
    # A harder brand (0.80 vs 0.95) is within the gap; a small bad one has too few decisions.
    assert unlearnable_segments(_report({"Kobo": (80, 100), "Aster": (95, 100)})) == ()
    assert unlearnable_segments(_report({"Kobo": (2, 20), "Aster": (95, 100)})) == ()


def test_decisions_that_disagree_with_audits_are_named() -> None:
    held_out = _report({"Kobo": (15, 100), "Aster": (70, 75)})
    audits = _report({"Kobo": (19, 20), "Aster": (19, 20)}, method="audit answers")
    (flag,) = audit_disagreements(held_out, audits, min_n=30, min_audits=10, gap=0.2)
    assert (flag.segment, flag.check, flag.reference, flag.reference_n) == (
        "brand=Kobo",
        "disagrees with audits",
        0.95,
        20,
    )
    few = _report({"Kobo": (5, 5), "Aster": (5, 5)}, method="audit answers")
    assert audit_disagreements(held_out, few, min_n=30, min_audits=10) == ()
