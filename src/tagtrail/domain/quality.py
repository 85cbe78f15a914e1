"""The quality report: what the machine decided and how reviewers judged it (pure).

The store aggregates the catalogue into counts (``store.quality``); this module holds those
counts and the arithmetic on them: tier shares per day, the reliability diagram and its
ECE, correction rates per segment. Every request is bounded by its window
(:data:`MAX_DAYS` daily buckets at most) and fixed bucket counts, never by a number the
caller sends.
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

import msgspec

from tagtrail.errors import InvalidInput

QualityDimension = Literal["brand", "season", "shot_type", "category_family"]
DIMENSIONS: Final[tuple[QualityDimension, ...]] = (
    "brand",
    "season",
    "shot_type",
    "category_family",
)
#: The reliability diagram's bins over [0, 1], as ECE is reported everywhere else (15).
RELIABILITY_BINS: Final = 15
#: The window a report covers when none is given, and the longest one it may ask for.
DEFAULT_DAYS: Final = 90
MAX_DAYS: Final = 366
#: Segments per dimension (the most decided first): a catalogue's brands or seasons beyond
#: these are left out of the report, which says how many it kept.
MAX_SEGMENTS: Final = 50


class QualitySegment(msgspec.Struct, kw_only=True, frozen=True):
    """Only assets of one segment: ``brand`` Kobo, ``shot_type`` flat_lay, ..."""

    dimension: QualityDimension
    value: str


class QualityWindow(msgspec.Struct, kw_only=True, frozen=True):
    since: dt.datetime
    until: dt.datetime


class QualityQuery(msgspec.Struct, kw_only=True, frozen=True):
    window: QualityWindow
    attribute: str | None = None
    segment: QualitySegment | None = None


class TierDay(msgspec.Struct, kw_only=True, frozen=True):
    """Machine tiers of the tags first seen on one day (UTC), one attribute."""

    day: str  # YYYY-MM-DD
    auto_applied: int = 0
    flagged: int = 0
    suggested: int = 0

    @property
    def total(self) -> int:
        return self.auto_applied + self.flagged + self.suggested


class BinCount(msgspec.Struct, kw_only=True, frozen=True):
    """Reviewer-judged machine proposals whose probability fell in [lo, hi) (the last bin
    also holds 1)."""

    lo: float
    hi: float
    n: int = 0
    confidence_sum: float = 0.0  # of the judged probabilities
    right: int = 0  # reviewers kept the machine's value

    @property
    def mean_confidence(self) -> float | None:
        return self.confidence_sum / self.n if self.n else None

    @property
    def observed_rate(self) -> float | None:
        return self.right / self.n if self.n else None


class Reliability(msgspec.Struct, kw_only=True, frozen=True):
    n: int
    ece: float | None  # None with nothing judged
    bins: tuple[BinCount, ...]


#: Where corrections are counted: the segments, and the novelty strata of answered audits
#: (the only tags judged novel or familiar; see ``learning.novelty``).
CorrectionDimension = Literal["brand", "season", "shot_type", "category_family", "novelty"]


class SegmentCount(msgspec.Struct, kw_only=True, frozen=True):
    """Machine tags of one segment that reviewers decided, and how many they changed."""

    dimension: CorrectionDimension
    segment: str
    decided: int
    corrected: int  # corrected or rejected


class SegmentCorrections(msgspec.Struct, kw_only=True, frozen=True):
    dimension: CorrectionDimension
    segment: str
    decided: int
    corrected: int
    rate: float
    low: float  # Wilson 95 % interval of the rate
    high: float


class AuditWeek(msgspec.Struct, kw_only=True, frozen=True):
    """Audits of one attribute × tier answered in one week, with their sampling weights."""

    week: str  # YYYY-MM-DD, the Monday (UTC)
    tier: str
    answered: int
    correct: int
    weight: float  # Σ 1/rate: the applied tags they stand for
    correct_weight: float
    weight_squared: float  # Σ (1/rate)², for Kish's effective sample size


class AuditPrecision(msgspec.Struct, kw_only=True, frozen=True):
    week: str
    tier: str
    answered: int
    correct: int
    precision: float  # population-weighted
    low: float  # Wilson 95 % on Kish's effective sample size
    high: float


class AttributeQuality(msgspec.Struct, kw_only=True, frozen=True):
    attribute: str
    tiers_by_day: tuple[TierDay, ...]
    reliability: Reliability
    corrections: tuple[SegmentCorrections, ...]
    audits: tuple[AuditPrecision, ...] = ()


#: Reviewers per report (the most decisions first).
MAX_REVIEWERS: Final = 50


class ReviewerEffort(msgspec.Struct, kw_only=True, frozen=True):
    """One reviewer's decisions in the window (or everyone's: reviewer ``all``)."""

    reviewer: str
    decisions: int
    timed_decisions: int  # those the review page timed (shownMs)
    active_hours: int  # distinct clock hours (UTC) with a decision
    median_shown_ms: float | None  # of the timed ones

    @property
    def decisions_per_hour(self) -> float | None:
        return self.decisions / self.active_hours if self.active_hours else None

    @property
    def median_seconds_per_decision(self) -> float | None:
        return None if self.median_shown_ms is None else self.median_shown_ms / 1000


class ReviewEffort(msgspec.Struct, kw_only=True, frozen=True):
    overall: ReviewerEffort
    reviewers: tuple[ReviewerEffort, ...]
    fully_reviewed_assets: int  # nothing pending, timed decisions in force, updated in the window
    median_asset_ms: float | None  # the sum of those decisions' times, per asset

    @property
    def median_seconds_per_asset(self) -> float | None:
        return None if self.median_asset_ms is None else self.median_asset_ms / 1000


MarkerKind = Literal["promotion", "taxonomy"]
#: Markers per report (the newest promotions, the oldest taxonomy applies in the window).
MAX_MARKERS: Final = 100


class QualityMarker(msgspec.Struct, kw_only=True, frozen=True):
    """Something that changes what the charts show, for their time axis."""

    at: str  # ISO-8601 UTC
    kind: MarkerKind
    attribute: str | None  # None: every attribute (a taxonomy apply)
    version: str  # the head or calibration promoted, the taxonomy applied
    label: str


class QualityReport(msgspec.Struct, kw_only=True, frozen=True):
    since: dt.datetime
    until: dt.datetime
    attributes: tuple[AttributeQuality, ...]
    markers: tuple[QualityMarker, ...] = ()
    effort: ReviewEffort


def quality_window(
    since: dt.datetime | None, until: dt.datetime | None, now: dt.datetime
) -> QualityWindow:
    """The window a report covers: ``until`` defaults to now and ``since`` to
    :data:`DEFAULT_DAYS` before it; longer than :data:`MAX_DAYS` is refused."""
    end = _utc(until, "until") if until is not None else now
    start = _utc(since, "since") if since is not None else end - dt.timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise InvalidInput(f"since ({start.isoformat()}) must be before until", field="since")
    if end - start > dt.timedelta(days=MAX_DAYS):
        raise InvalidInput(
            f"a quality report covers at most {MAX_DAYS} days; asked for {(end - start).days}",
            field="since",
        )
    return QualityWindow(since=start, until=end)


def _utc(value: dt.datetime, field: str) -> dt.datetime:
    if value.tzinfo is None:
        raise InvalidInput(f"{field} needs a time zone (e.g. 2026-12-01T00:00:00Z)", field=field)
    return value.astimezone(dt.UTC)


def bin_edges(bins: int = RELIABILITY_BINS) -> list[tuple[float, float]]:
    """[lo, hi) of each reliability bin (the last also holds 1)."""
    return [(i / bins, (i + 1) / bins) for i in range(bins)]


def reliability(bins: tuple[BinCount, ...]) -> Reliability:
    """The diagram and its ECE: Σ |Σ confidence − Σ right| / n over the bins."""
    n = sum(b.n for b in bins)
    gap = sum(abs(b.confidence_sum - b.right) for b in bins)
    return Reliability(n=n, ece=gap / n if n else None, bins=bins)


def worst_first(rows: list[SegmentCorrections]) -> tuple[SegmentCorrections, ...]:
    """Highest correction rate on top; among equal rates the surer (more decided) first."""
    return tuple(sorted(rows, key=lambda r: (-r.rate, -r.decided, r.dimension, r.segment)))
