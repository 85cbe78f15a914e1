"""Evaluate a head per segment and decide whether a candidate may replace the champion.

Both heads are scored on the same held-out positive examples (a hash-based holdout, or
cross-validation when data is small); negatives carry no true label, so they train heads
but cannot score them. Per attribute and per segment (each segment key=value, plus
"overall"): n, accuracy, macro-F1 over the labels present, ECE, and for the auto tier
(probability at or above ``high``, unless the attribute is capped below it) its coverage
and precision with a Wilson 95 % interval.

The gate refuses promotion when overall macro-F1 drops, or when any segment with at least
``min_n`` examples loses more than ``margin``; each refusal names the segment and numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

import msgspec
import numpy as np

from tagtrail.domain.governance import Governance, decide_tier
from tagtrail.learning.calibrate import ece
from tagtrail.learning.dataset import TrainingExample, TrainingSet
from tagtrail.learning.head import TunedHead
from tagtrail.learning.stats import assign_folds, macro_f1, unit_hash, wilson_interval
from tagtrail.learning.train import TrainOptions, train_head
from tagtrail.tagging.heads import AnchorHead, Head

OVERALL = "overall"


class ScoredExample(msgspec.Struct, kw_only=True, frozen=True):
    """One held-out positive example and what a head predicted for it."""

    example_id: str
    asset_id: str
    label: str  # the true model label
    predicted: str
    probability: float
    segments: dict[str, str] = {}


class SegmentMetrics(msgspec.Struct, kw_only=True, frozen=True):
    segment: str  # "overall" or "key=value", e.g. "brand=Kobo"
    n: int
    accuracy: float
    macro_f1: float
    ece: float
    auto_n: int  # predictions in the auto tier
    auto_coverage: float  # auto_n / n
    auto_precision: float | None  # None when nothing reached the auto tier
    auto_low: float  # Wilson 95 % interval of the auto-tier precision
    auto_high: float


class EvaluationReport(msgspec.Struct, kw_only=True, frozen=True):
    attribute: str
    head_version: str
    method: str  # e.g. "holdout 20%" or "cross-validated, 5 folds"
    examples_fingerprint: str  # the same for two reports on the same examples
    high: float  # the auto-tier threshold used
    segments: tuple[SegmentMetrics, ...]  # "overall" first, then by key and value

    def segment(self, name: str) -> SegmentMetrics | None:
        return next((s for s in self.segments if s.segment == name), None)

    @property
    def overall(self) -> SegmentMetrics:
        found = self.segment(OVERALL)
        if found is None:  # evaluation_report always writes it
            raise ValueError("report without an overall segment")
        return found


class GateDecision(msgspec.Struct, kw_only=True, frozen=True):
    promote: bool
    attribute: str
    candidate_version: str
    champion_version: str
    reasons: tuple[str, ...]  # refusals first; on promotion, what was checked
    #: The streams of kept-out decisions the verdict stands on, for people (e.g. "review-queue
    #: decisions (...) n=240 + random hold-out (5% of assets, ...) n=42"); "" when unknown.
    evaluation_stream: str = ""


def score_head(head: Head, training_set: TrainingSet) -> tuple[ScoredExample, ...]:
    """The head's top-1 prediction for every positive example of ``training_set``."""
    positives = training_set.positives
    if not positives:
        return ()
    predictions = head.predict(training_set.vectors[[e.row for e in positives]])
    return tuple(
        ScoredExample(
            example_id=e.example_id,
            asset_id=e.asset_id,
            label=e.label,
            predicted=p.label,
            probability=min(max(float(p.probability), 0.0), 1.0),
            segments=e.segments,
        )
        for e, p in zip(positives, predictions, strict=True)
    )


def _metrics(name: str, rows: Sequence[ScoredExample], governance: Governance) -> SegmentMetrics:
    truth = [r.label for r in rows]
    predicted = [r.predicted for r in rows]
    correct = [t == p for t, p in zip(truth, predicted, strict=True)]
    probs = [r.probability for r in rows]
    auto = [
        c
        for c, p in zip(correct, probs, strict=True)
        if decide_tier(p, governance).tier == "auto_applied"
    ]
    low, high = wilson_interval(sum(auto), len(auto))
    n = len(rows)
    return SegmentMetrics(
        segment=name,
        n=n,
        accuracy=sum(correct) / n if n else 0.0,
        macro_f1=macro_f1(truth, predicted),
        ece=ece(np.array(probs), np.array(correct)),
        auto_n=len(auto),
        auto_coverage=len(auto) / n if n else 0.0,
        auto_precision=sum(auto) / len(auto) if auto else None,
        auto_low=low,
        auto_high=high,
    )


def _fingerprint(rows: Iterable[ScoredExample]) -> str:
    ids = sorted(f"{r.example_id}\x1f{r.label}" for r in rows)
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def evaluation_report(
    scored: Sequence[ScoredExample],
    *,
    attribute: str,
    head_version: str,
    governance: Governance | None = None,
    method: str = "holdout",
) -> EvaluationReport:
    """Metrics overall and for every segment key=value present in ``scored``."""
    governance = governance or Governance()
    groups: dict[str, list[ScoredExample]] = {}
    for row in scored:
        for key, value in row.segments.items():
            groups.setdefault(f"{key}={value}", []).append(row)
    segments = [_metrics(OVERALL, scored, governance)]
    segments += [_metrics(name, groups[name], governance) for name in sorted(groups)]
    return EvaluationReport(
        attribute=attribute,
        head_version=head_version,
        method=method,
        examples_fingerprint=_fingerprint(scored),
        high=governance.high,
        segments=tuple(segments),
    )


def evaluate_head(
    head: Head,
    training_set: TrainingSet,
    *,
    governance: Governance | None = None,
    method: str = "holdout",
) -> EvaluationReport:
    """Score ``head`` on the positives of ``training_set`` (held-out examples)."""
    return evaluation_report(
        score_head(head, training_set),
        attribute=head.attribute,
        head_version=head.version,
        governance=governance,
        method=method,
    )


def split_holdout(
    training_set: TrainingSet, *, fraction: float = 0.2, salt: str = "tagtrail/holdout"
) -> tuple[TrainingSet, TrainingSet]:
    """(train, held out) by hashing asset ids: stable as decisions accumulate."""

    def held(example: TrainingExample) -> bool:
        return unit_hash(salt, example.asset_id) < fraction

    return training_set.subset(lambda e: not held(e)), training_set.subset(held)


def cross_validated_scores(
    base: AnchorHead,
    training_set: TrainingSet,
    *,
    taxonomy_version: str,
    folds: int = 5,
    options: TrainOptions | None = None,
    salt: str = "tagtrail/outer-cv",
) -> tuple[ScoredExample, ...]:
    """Every positive scored by a head trained (and calibrated) without its asset."""
    fold = assign_folds((e.asset_id for e in training_set.examples), folds, salt)
    # These heads are only scored: no novelty summary (see ``learning.novelty``).
    options = msgspec.structs.replace(options or TrainOptions(), novelty_quantile=None)

    def in_fold(f: int, inside: bool) -> Callable[[TrainingExample], bool]:
        return lambda e: (fold[e.asset_id] == f) == inside

    out: list[ScoredExample] = []
    for f in range(folds):
        test = training_set.subset(in_fold(f, True))
        if not test.positives:
            continue
        train = training_set.subset(in_fold(f, False))
        head = train_head(base, train, taxonomy_version=taxonomy_version, options=options)
        out.extend(score_head(head, test))
    return tuple(sorted(out, key=lambda r: r.example_id))


class Comparison(msgspec.Struct, kw_only=True, frozen=True, eq=False):
    """A candidate head and the two reports the gate compares."""

    candidate: TunedHead  # the head to promote if the gate agrees
    candidate_report: EvaluationReport
    champion_report: EvaluationReport


def compare(
    base: AnchorHead,
    champion: Head,
    training_set: TrainingSet,
    *,
    taxonomy_version: str,
    governance: Governance | None = None,
    options: TrainOptions | None = None,
    holdout: float = 0.2,
    min_holdout: int = 200,
    folds: int = 5,
) -> Comparison:
    """Train a candidate from ``base`` and evaluate it and ``champion`` on the same examples.

    With enough data (a ``holdout`` share holding at least ``min_holdout`` positives) the
    candidate is trained without the held-out assets and both heads are scored on them.
    Otherwise the candidate is trained on everything and its report is cross-validated:
    every positive scored by a head trained without it. The champion is scored on the same
    examples; if it was itself trained on some of them its report is optimistic, which only
    makes promotion harder.
    """
    train, held = split_holdout(training_set, fraction=holdout)
    if len(held.positives) >= min_holdout:
        candidate = train_head(base, train, taxonomy_version=taxonomy_version, options=options)
        method = f"holdout {holdout:.0%} ({len(held.positives)} decisions)"
        rows, evaluated = score_head(candidate, held), held
    else:
        candidate = train_head(
            base, training_set, taxonomy_version=taxonomy_version, options=options
        )
        method = f"cross-validated, {folds} folds"
        rows = cross_validated_scores(
            base, training_set, taxonomy_version=taxonomy_version, folds=folds, options=options
        )
        evaluated = training_set
    return Comparison(
        candidate=candidate,
        candidate_report=evaluation_report(
            rows,
            attribute=base.attribute,
            head_version=candidate.version,
            governance=governance,
            method=method,
        ),
        champion_report=evaluate_head(champion, evaluated, governance=governance, method=method),
    )


def _num(x: float) -> str:
    return f"{x:.2f}"


def _delta(x: float) -> str:
    return f"+{x:.2f}" if x >= 0 else f"−{-x:.2f}"  # a real minus sign, for people


def _change(name: str, old: float, new: float, n: int) -> str:
    return f"{name}: macro-F1 {_num(old)} → {_num(new)} ({_delta(new - old)}, n={n})"


def _segment_refusals(
    candidate: EvaluationReport, champion: EvaluationReport, min_n: int, margin: float
) -> tuple[list[str], int, int]:
    """(refusals, segments checked, segments too small to gate)."""
    refusals: list[str] = []
    checked = skipped = 0
    for seg in candidate.segments:
        other = champion.segment(seg.segment)
        if seg.segment == OVERALL or other is None:
            continue
        if seg.n < min_n:
            skipped += 1
            continue
        checked += 1
        if seg.macro_f1 - other.macro_f1 < -margin:
            line = _change(seg.segment, other.macro_f1, seg.macro_f1, seg.n)
            refusals.append(f"{line} worse than margin {_num(margin)}")
    return refusals, checked, skipped


def gate(
    candidate: EvaluationReport,
    champion: EvaluationReport,
    *,
    min_n: int = 30,
    margin: float = 0.05,
    tolerance: float = 0.0,
) -> GateDecision:
    """Promote only if overall macro-F1 does not drop and no large segment loses > margin.

    ``tolerance`` allows an overall drop that small (0 by default: any drop refuses).
    Reasons list the refusals first, then what was checked.
    """
    if candidate.examples_fingerprint != champion.examples_fingerprint:
        raise ValueError("candidate and champion were evaluated on different examples")
    new, old = candidate.overall, champion.overall
    overall = _change(OVERALL, old.macro_f1, new.macro_f1, new.n)
    dropped = new.macro_f1 - old.macro_f1 < -tolerance
    refusals, checked, skipped = _segment_refusals(candidate, champion, min_n, margin)
    if dropped:
        refusals.insert(0, f"{overall} dropped")
    notes = [] if dropped else [overall]
    notes.append(
        f"{checked} segments with n ≥ {min_n} checked against margin {_num(margin)}; "
        f"{skipped} smaller segments not gated"
    )
    return GateDecision(
        promote=not refusals,
        attribute=candidate.attribute,
        candidate_version=candidate.head_version,
        champion_version=champion.head_version,
        reasons=tuple(refusals + notes),
    )
