"""What the gate keeps out of training, and the check the random hold-out makes.

Reviewers' decisions come from the review queue, which serves the least sure or oldest
tags first: a head scored out of sample on those decisions is scored on what the queue
chose. Hold-out assets (``domain.holdout``) are reviewed in their own queue in an order
that ignores the model, so their decisions are a random sample of the catalogue's. A
segment whose accuracy there is far below its accuracy on the queue's decisions (more than
``gap`` apart, 95 % intervals not overlapping) is named: the queue hid where it fails.

The streams are drawn apart: the hold-out by a hash of the asset id alone, audits by a hash
of (asset, attribute, round) among applied tags (``learning.audit``), the queue's decisions by
whatever order reviewers chose. No queue order moves an asset into or out of the hold-out or
an audit draw. An evaluation names the streams it was scored on (:class:`EvaluationStream`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import msgspec

from tagtrail.domain.holdout import in_holdout
from tagtrail.learning.evaluate import EvaluationReport
from tagtrail.learning.segment_checks import SegmentFlag
from tagtrail.learning.stats import wilson_interval

WORSE_ON_HOLDOUT = "worse on hold-out"

StreamName = Literal["review_queue", "random_holdout", "audit_answers"]


class EvaluationStream(msgspec.Struct, kw_only=True, frozen=True):
    """One stream of decisions a head was scored on, and how it was drawn."""

    stream: StreamName
    n: int  # decisions scored (the candidate's overall n)
    drawn_by: str  # for people: how the stream's decisions were chosen
    #: random_holdout only: the share of all assets in it (None: not recorded, an
    #: evaluation stored before streams were named).
    share: float | None = None

    def describe(self) -> str:
        if self.stream == "random_holdout":
            share = "share not recorded" if self.share is None else f"{self.share:.0%} of assets"
            return f"random hold-out ({share}, hash of the asset id) n={self.n}"
        if self.stream == "audit_answers":
            return f"audit answers (hash of asset, attribute and round) n={self.n}"
        return f"review-queue decisions (scored out of sample: {self.drawn_by}) n={self.n}"


def queue_stream(n: int, method: str) -> EvaluationStream:
    """Reviewers' decisions from the queue (its order chose them), scored out of sample."""
    return EvaluationStream(stream="review_queue", n=n, drawn_by=method)


def holdout_stream(n: int, share: float | None) -> EvaluationStream:
    """Decisions on hold-out assets: chosen by the hash of the asset id, never by the queue."""
    return EvaluationStream(
        stream="random_holdout",
        n=n,
        share=share,
        drawn_by="assets whose hash of the id falls below the share; reviewed in hash order, "
        "never trained on",
    )


def audit_stream(n: int) -> EvaluationStream:
    """Answers to sample audits: applied tags drawn by a hash per round, never trained on."""
    return EvaluationStream(
        stream="audit_answers",
        n=n,
        drawn_by="applied tags drawn by a hash of (asset, attribute, round), stratified by "
        "attribute × tier × segment; never trained on",
    )


def describe_streams(streams: Sequence[EvaluationStream]) -> str:
    """One line naming every stream scored, e.g. "review-queue decisions (scored out of
    sample: cross-validated, 5 folds) n=120 + random hold-out (5% of assets, hash of the
    asset id) n=42"."""
    return " + ".join(s.describe() for s in streams) or "no decisions scored"


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
