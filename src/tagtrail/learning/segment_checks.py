"""Segment checks that reviewers' own labels cannot fool.

The gate compares candidate and champion on reviewers' decisions. If one brand's decisions
are wrong (shuffled, a reviewer misreading a style guide), both heads score badly there and
nothing "gets worse", so the comparison alone promotes a head that learnt the wrong labels.
Two checks look at the labels instead of the difference between heads:

* **Cannot be learned.** Scored out of sample (hold-out or cross-validation), a segment
  whose accuracy is far below the rest of the attribute (the upper end of its Wilson 95 %
  interval more than ``gap`` under the accuracy of all other decisions) has labels that
  the vectors do not support. Random labels score near chance whatever the head.
* **No better than chance.** The whole attribute, when its out-of-sample accuracy, up to
  its 95 % interval, stays within ``gap / 2`` of always answering the most common label:
  when every label is wrong there is no "rest" to compare with.
* **Disagrees with the audit stream.** Audit answers come from a random, stratified sample
  answered by other reviewers and are never trained on. A segment whose out-of-sample
  accuracy on reviewers' decisions and accuracy on audit answers are more than ``gap``
  apart (intervals not overlapping) has decisions the audits contradict.

Both work from :class:`EvaluationReport` numbers alone (n and accuracy per segment and
overall), so a stored evaluation can be re-checked at promotion time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import msgspec

from tagtrail.learning.dataset import TrainingExample
from tagtrail.learning.evaluate import OVERALL, EvaluationReport, SegmentMetrics
from tagtrail.learning.stats import wilson_interval


class SegmentFlag(msgspec.Struct, kw_only=True, frozen=True):
    segment: str  # "brand=Kobo"
    # "cannot be learned", "near chance", "disagrees with audits" or "worse on hold-out"
    check: str
    n: int
    accuracy: float
    low: float  # Wilson 95 % interval of ``accuracy``
    high: float
    reference: float  # the rest of the attribute's accuracy, or the audit stream's
    reference_n: int

    def reason(self) -> str:
        if self.check == "cannot be learned":
            return (
                f"{self.segment}: labels cannot be learned: held-out accuracy "
                f"{self.accuracy:.2f} (n={self.n}, 95 % ≤ {self.high:.2f}) vs "
                f"{self.reference:.2f} on the rest (n={self.reference_n}); check its decisions"
            )
        if self.check == "near chance":
            return (
                f"{self.segment}: labels cannot be learned: held-out accuracy "
                f"{self.accuracy:.2f} (n={self.n}, 95 % ≤ {self.high:.2f}) is no better than "
                f"{self.reference:.2f}, always answering its most common label; check its "
                "decisions"
            )
        if self.check == "worse on hold-out":  # learning.holdout_checks
            return (
                f"{self.segment}: worse on the random hold-out: accuracy {self.accuracy:.2f} "
                f"(n={self.n}, 95 % ≤ {self.high:.2f}) vs {self.reference:.2f} on reviewed "
                f"decisions held out (n={self.reference_n}); the review queue's choice hides "
                "its errors"
            )
        return (
            f"{self.segment}: decisions disagree with audits: held-out accuracy "
            f"{self.accuracy:.2f} (n={self.n}) vs {self.reference:.2f} on audit answers "
            f"(n={self.reference_n}); check its decisions"
        )


def _correct(m: SegmentMetrics) -> int:
    return round(m.accuracy * m.n)


def unlearnable_segments(
    report: EvaluationReport, *, min_n: int = 30, gap: float = 0.2
) -> tuple[SegmentFlag, ...]:
    """Segments (n ≥ ``min_n``) far below the rest of the attribute, out of sample."""
    overall = report.overall
    flags: list[SegmentFlag] = []
    for seg in report.segments:
        rest_n = overall.n - seg.n
        if seg.segment == OVERALL or seg.n < min_n or rest_n < min_n:
            continue
        rest = (_correct(overall) - _correct(seg)) / rest_n
        low, high = wilson_interval(_correct(seg), seg.n)
        if high < rest - gap:
            flags.append(
                SegmentFlag(
                    segment=seg.segment,
                    check="cannot be learned",
                    n=seg.n,
                    accuracy=seg.accuracy,
                    low=low,
                    high=high,
                    reference=rest,
                    reference_n=rest_n,
                )
            )
    return tuple(flags)


def audit_disagreements(
    held_out: EvaluationReport,
    audits: EvaluationReport,
    *,
    min_n: int = 30,
    min_audits: int = 10,
    gap: float = 0.2,
) -> tuple[SegmentFlag, ...]:
    """Segments whose reviewers' decisions and audit answers give far apart accuracies."""
    flags: list[SegmentFlag] = []
    for seg in held_out.segments:
        audited = audits.segment(seg.segment)
        if seg.segment == OVERALL or audited is None:
            continue
        if seg.n < min_n or audited.n < min_audits:
            continue
        low, high = wilson_interval(_correct(seg), seg.n)
        a_low, a_high = wilson_interval(_correct(audited), audited.n)
        apart = abs(seg.accuracy - audited.accuracy) > gap
        if apart and (high < a_low or a_high < low):
            flags.append(
                SegmentFlag(
                    segment=seg.segment,
                    check="disagrees with audits",
                    n=seg.n,
                    accuracy=seg.accuracy,
                    low=low,
                    high=high,
                    reference=audited.accuracy,
                    reference_n=audited.n,
                )
            )
    return tuple(flags)


def majority_share(examples: Iterable[TrainingExample]) -> float | None:
    """The share of the most common label among ``examples`` (None: no examples)."""
    counts = Counter(e.label for e in examples)
    return counts.most_common(1)[0][1] / counts.total() if counts else None


def near_chance(
    report: EvaluationReport, share: float | None, *, min_n: int = 30, gap: float = 0.2
) -> tuple[SegmentFlag, ...]:
    """The whole attribute, if its accuracy is not clearly above its majority ``share``.

    Only overall: a segment is often defined by the label itself (category family for
    category), where one label is the whole segment; segments are compared with the rest.
    """
    seg = report.overall
    if share is None or seg.n < min_n:
        return ()
    low, high = wilson_interval(_correct(seg), seg.n)
    if high >= share + gap / 2:
        return ()
    return (
        SegmentFlag(
            segment=seg.segment,
            check="near chance",
            n=seg.n,
            accuracy=seg.accuracy,
            low=low,
            high=high,
            reference=share,
            reference_n=seg.n,
        ),
    )
