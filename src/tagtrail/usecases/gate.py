"""The promotion gate's evidence: reviewers' decisions and an independent audit stream.

Scoring a candidate only on the decisions it learns from lets wrong decisions pass: a
brand whose labels were shuffled is as bad for the champion as for the candidate, so
nothing "gets worse". So, besides the candidate-vs-champion comparison on held-out
decisions (``learning.evaluate``), the gate

* keeps assets whose tag was answered in a sample audit (a random, stratified draw, see
  ``usecases.audits``) out of training and scores both heads on those answers as well: the
  same no-segment-worse rule applies to this stream;
* keeps the random hold-out (``domain.holdout``: assets the review queue serves only in
  their own, model-blind order) out of training and scores both heads on its decisions the
  same way; a segment far worse there than on the queue's decisions is named
  (``learning.holdout_checks``);
* refuses when a segment's labels cannot be learned (out-of-sample accuracy far below the
  rest, or no better than always answering its most common label) or when its decisions
  disagree with the audit answers (``learning.segment_checks``), naming the segment.
"""

from __future__ import annotations

import msgspec

from tagtrail.config import Settings
from tagtrail.domain.governance import Governance
from tagtrail.errors import InvalidInput
from tagtrail.learning.dataset import TrainingSet
from tagtrail.learning.evaluate import (
    Comparison,
    EvaluationReport,
    GateDecision,
    compare,
    evaluate_head,
    gate,
)
from tagtrail.learning.holdout_checks import (
    EvaluationStream,
    KeptOut,
    audit_stream,
    describe_streams,
    holdout_gaps,
    holdout_stream,
    queue_stream,
)
from tagtrail.learning.segment_checks import (
    SegmentFlag,
    audit_disagreements,
    majority_share,
    near_chance,
    unlearnable_segments,
)
from tagtrail.tagging.heads import AnchorHead, Head

# A segment this far (accuracy) below the rest, beyond its 95 % interval, is refused: wider
# than the spread between honest segments of one attribute, narrower than random labels.
LABEL_GAP = 0.2
AUDIT_METHOD = "audit answers"
HOLDOUT_METHOD = "random hold-out"


class StoredEvaluation(msgspec.Struct, kw_only=True, frozen=True):
    """What is stored with a head version: both reports on the same decisions, and both
    reports on the audit answers kept out of training (None: no audit was answered)."""

    candidate: EvaluationReport
    champion: EvaluationReport
    skipped: dict[str, int] = {}
    audit_candidate: EvaluationReport | None = None
    audit_champion: EvaluationReport | None = None
    # Both heads on the decisions of the random hold-out, kept out of training (None: none).
    holdout_candidate: EvaluationReport | None = None
    holdout_champion: EvaluationReport | None = None
    # The share of the most common label among the decisions the head learnt from.
    majority_share: float | None = None
    # The streams scored above, with how each was drawn (empty: stored before they were
    # named; ``streams_of`` reads them back from the reports).
    streams: tuple[EvaluationStream, ...] = ()


def streams_of(evaluation: StoredEvaluation) -> tuple[EvaluationStream, ...]:
    """The streams an evaluation was scored on (read back from its reports when it was
    stored before streams were named: the hold-out's share is then unknown)."""
    if evaluation.streams:
        return evaluation.streams
    found = [queue_stream(evaluation.candidate.overall.n, evaluation.candidate.method)]
    if evaluation.holdout_candidate is not None:
        found.append(holdout_stream(evaluation.holdout_candidate.overall.n, None))
    if evaluation.audit_candidate is not None:
        found.append(audit_stream(evaluation.audit_candidate.overall.n))
    return tuple(found)


def evaluate_candidate(
    base: AnchorHead,
    champion: Head,
    data: TrainingSet,
    kept: KeptOut,
    taxonomy_version: str,
    governance: Governance,
) -> tuple[Comparison, StoredEvaluation]:
    """Train and compare on decisions of assets ``kept`` does not hold; score both heads
    on the audited ones and on the hold-out's, separately."""
    eligible = data.subset(lambda e: not kept.is_holdout(e.asset_id))  # never trained on
    if not eligible.positives:
        raise InvalidInput(
            f"every decision on {data.attribute!r} is in the random hold-out, which is never "
            "trained on; decide tags from the PENDING review queue first",
            field="attribute",
        )
    train = eligible.subset(lambda e: not kept.is_audited(e.asset_id))
    streams = {
        "audit": (data.subset(lambda e: kept.is_audited(e.asset_id)), AUDIT_METHOD),
        "holdout": (data.subset(lambda e: kept.is_holdout(e.asset_id)), HOLDOUT_METHOD),
    }
    if not train.positives:  # nothing but audits: train on them rather than on nothing
        train = eligible
        del streams["audit"]
    comparison = compare(
        base, champion, train, taxonomy_version=taxonomy_version, governance=governance
    )
    reports: dict[str, EvaluationReport] = {}
    for stream, (held, method) in streams.items():
        if not held.positives:
            continue
        for name, head in (("candidate", comparison.candidate), ("champion", champion)):
            reports[f"{stream}_{name}"] = evaluate_head(
                head, held, governance=governance, method=method
            )
    queue = comparison.candidate_report
    scored = [queue_stream(queue.overall.n, queue.method)]
    if "holdout_candidate" in reports:
        scored.append(holdout_stream(reports["holdout_candidate"].overall.n, kept.holdout_share))
    if "audit_candidate" in reports:
        scored.append(audit_stream(reports["audit_candidate"].overall.n))
    evaluation = StoredEvaluation(
        candidate=comparison.candidate_report,
        champion=comparison.champion_report,
        skipped=dict(data.skipped),
        audit_candidate=reports.get("audit_candidate"),
        audit_champion=reports.get("audit_champion"),
        holdout_candidate=reports.get("holdout_candidate"),
        holdout_champion=reports.get("holdout_champion"),
        majority_share=majority_share(train.positives),
        streams=tuple(scored),
    )
    return comparison, evaluation


def _refusals(decision: GateDecision) -> list[str]:
    # ``gate`` lists refusals first, then notes; a refusal says "dropped" or "worse than".
    return [r for r in decision.reasons if r.endswith(" dropped") or "worse than margin" in r]


def decide(settings: Settings, evaluation: StoredEvaluation) -> GateDecision:
    """The gate's verdict on a stored evaluation: the comparison plus the label checks."""
    min_n, margin = settings.gate_min_n, settings.gate_margin
    base = gate(evaluation.candidate, evaluation.champion, min_n=min_n, margin=margin)
    flags = list(unlearnable_segments(evaluation.candidate, min_n=min_n, gap=LABEL_GAP))
    flags += near_chance(
        evaluation.candidate, evaluation.majority_share, min_n=min_n, gap=LABEL_GAP
    )
    refusals: list[str] = []
    audited = evaluation.audit_candidate
    if audited is not None and evaluation.audit_champion is not None:
        on_audits = gate(audited, evaluation.audit_champion, min_n=min_n, margin=margin)
        refusals += [f"audit answers: {r}" for r in _refusals(on_audits)]
        flags += audit_disagreements(evaluation.candidate, audited, min_n=min_n, gap=LABEL_GAP)
        checked = f"{audited.overall.n} audit answers scored (kept out of training)"
    else:
        checked = "no audit answers to score (sample and answer audits for an independent check)"
    held_flags, held_refusals, held_checked = _holdout(settings, evaluation)
    refusals = [f.reason() for f in (*flags, *held_flags)] + refusals + held_refusals
    return GateDecision(
        promote=base.promote and not refusals,
        attribute=base.attribute,
        candidate_version=base.candidate_version,
        champion_version=base.champion_version,
        reasons=(*refusals, *base.reasons, checked, held_checked),
        evaluation_stream=describe_streams(streams_of(evaluation)),
    )


def _holdout(
    settings: Settings, evaluation: StoredEvaluation
) -> tuple[tuple[SegmentFlag, ...], list[str], str]:
    """(flags, refusals, note) of the random hold-out stream, checked like the audits."""
    held = evaluation.holdout_candidate
    if held is None or evaluation.holdout_champion is None:
        return (), [], "no hold-out decisions to score (review the HOLDOUT queue)"
    min_n, margin = settings.gate_min_n, settings.gate_margin
    on_held = gate(held, evaluation.holdout_champion, min_n=min_n, margin=margin)
    refusals = [f"random hold-out: {r}" for r in _refusals(on_held)]
    flags = holdout_gaps(evaluation.candidate, held, min_n=min_n, gap=LABEL_GAP)
    return flags, refusals, f"{held.overall.n} hold-out decisions scored (kept out of training)"
