"""The gate's verdict on stored evaluations (no node needed): labels no head can learn are
refused by name, even where candidate and champion are equally bad."""

from __future__ import annotations

from tagtrail.config import Settings
from tagtrail.learning.evaluate import EvaluationReport, ScoredExample, evaluation_report
from tagtrail.usecases.gate import StoredEvaluation, decide

LABELS = ("a", "b", "c", "d", "e")


def _report(head: str, right_every: int) -> EvaluationReport:
    """250 decisions over 5 balanced labels; every ``right_every``-th prediction right."""
    rows = [
        ScoredExample(
            example_id=f"x{i}",
            asset_id=f"x{i}",
            label=LABELS[i % 5],
            predicted=LABELS[i % 5] if i % right_every == 0 else LABELS[(i + 1) % 5],
            probability=0.6,
            segments={"brand": "Kobo"},
        )
        for i in range(250)
    ]
    return evaluation_report(rows, attribute="category", head_version=head)


def test_labels_no_better_than_chance_are_refused_even_without_a_rest() -> None:
    # Every decision of the one brand is random: the candidate (0.20) beats the zero-shot
    # champion (0.10) on those very labels, and there is no other brand to compare with.
    evaluation = StoredEvaluation(
        candidate=_report("tuned:category:x", 5),
        champion=_report("zero-shot", 10),
        majority_share=0.2,
    )
    decision = decide(Settings(), evaluation)
    assert not decision.promote, decision.reasons
    assert decision.reasons[0].startswith("overall: labels cannot be learned: held-out accuracy ")
    assert "always answering its most common label" in decision.reasons[0]
    honest = StoredEvaluation(
        candidate=_report("tuned:category:x", 2),  # 0.50 against a 0.20 majority share
        champion=_report("zero-shot", 10),
        majority_share=0.2,
    )
    assert decide(Settings(), honest).promote
