"""The gate's verdict on stored evaluations (no node needed): labels no head can learn are
refused by name, even where candidate and champion are equally bad."""

from __future__ import annotations

import msgspec

from tagtrail.config import Settings
from tagtrail.learning.evaluate import EvaluationReport, ScoredExample, evaluation_report
from tagtrail.learning.holdout_checks import audit_stream, holdout_stream, queue_stream
from tagtrail.usecases.gate import StoredEvaluation, decide, streams_of

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


def test_the_verdict_names_the_streams_it_was_scored_on() -> None:
    streams = (queue_stream(250, "holdout 20% (250 decisions)"), holdout_stream(40, 0.05))
    evaluation = StoredEvaluation(
        candidate=_report("tuned:category:x", 2),
        champion=_report("zero-shot", 10),
        holdout_candidate=_report("tuned:category:x", 2),
        holdout_champion=_report("zero-shot", 10),
        streams=(*streams, audit_stream(12)),
    )
    assert decide(Settings(), evaluation).evaluation_stream == (
        "review-queue decisions (scored out of sample: holdout 20% (250 decisions)) n=250"
        " + random hold-out (5% of assets, hash of the asset id) n=40"
        " + audit answers (hash of asset, attribute and round) n=12"
    )


def test_an_evaluation_stored_before_streams_were_named_still_reads() -> None:
    stored = msgspec.to_builtins(
        StoredEvaluation(
            candidate=_report("tuned:category:x", 2),
            champion=_report("zero-shot", 10),
            holdout_candidate=_report("tuned:category:x", 2),
            holdout_champion=_report("zero-shot", 10),
        )
    )
    stored.pop("streams", None)
    evaluation = msgspec.convert(stored, StoredEvaluation)
    assert evaluation.streams == ()
    # Read back from its reports; the hold-out's share was not recorded.
    assert [(s.stream, s.n, s.share) for s in streams_of(evaluation)] == [
        ("review_queue", 250, None),
        ("random_holdout", 250, None),
    ]
    assert decide(Settings(), evaluation).evaluation_stream == (
        "review-queue decisions (scored out of sample: holdout) n=250"
        " + random hold-out (share not recorded, hash of the asset id) n=250"
    )
