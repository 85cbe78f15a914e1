"""What the gate keeps out of training, and the check the random hold-out makes.

Reviewers' decisions come from the review queue, which serves the least sure or oldest
tags first: a head scored out of sample on those decisions is scored on what the queue
chose. Hold-out assets (``domain.holdout``) are reviewed in their own queue in an order
that ignores the model, so their decisions are a random sample of the catalogue's. A
segment whose accuracy there is far below its accuracy on the queue's decisions (more than
``gap`` apart, 95 % intervals not overlapping) is named: the queue hid where it fails.
"""

from __future__ import annotations

import msgspec

from tagtrail.domain.holdout import in_holdout
from tagtrail.learning.evaluate import EvaluationReport
from tagtrail.learning.segment_checks import SegmentFlag
from tagtrail.learning.stats import wilson_interval

WORSE_ON_HOLDOUT = "worse on hold-out"


class KeptOut(msgspec.Struct, kw_only=True, frozen=True):
    """Assets whose decisions are scored and never trained on."""

    audited: frozenset[str] = frozenset()  # answered in a sample audit
    holdout_share: float = 0.0  # the random hold-out's share of all assets

    def is_audited(self, asset_id: str) -> bool:
        return asset_id in self.audited

    def is_holdout(self, asset_id: str) -> bool:
        return in_holdout(asset_id, self.holdout_share)


def holdout_gaps(
    held_out: EvaluationReport,
    holdout: EvaluationReport,
    *,
    min_n: int = 30,
    min_holdout: int = 10,
    gap: float = 0.2,
) -> tuple[SegmentFlag, ...]:
    """Segments (overall too) far worse on the hold-out than on reviewers' decisions."""
    flags: list[SegmentFlag] = []
    for seg in held_out.segments:
        held = holdout.segment(seg.segment)
        if held is None or seg.n < min_n or held.n < min_holdout:
            continue
        low, _high = wilson_interval(round(seg.accuracy * seg.n), seg.n)
        h_low, h_high = wilson_interval(round(held.accuracy * held.n), held.n)
        if seg.accuracy - held.accuracy > gap and h_high < low:
            flags.append(
                SegmentFlag(
                    segment=seg.segment,
                    check=WORSE_ON_HOLDOUT,
                    n=held.n,
                    accuracy=held.accuracy,
                    low=h_low,
                    high=h_high,
                    reference=seg.accuracy,
                    reference_n=seg.n,
                )
            )
    return tuple(flags)
