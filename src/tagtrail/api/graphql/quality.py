"""``qualityReport``: tier shares over time, reliability and corrections per segment."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from tagtrail.api.graphql.context import Info
from tagtrail.api.graphql.errors import InvalidInputError, error_result
from tagtrail.api.graphql.records import object_type
from tagtrail.domain import quality as records
from tagtrail.errors import InvalidInput


@strawberry.enum(description="A way to cut the catalogue into segments")
class QualityDimension(enum.Enum):
    # The values of domain.quality.QualityDimension (tests/api/test_quality.py checks).
    BRAND = "brand"
    SEASON = "season"
    SHOT_TYPE = "shot_type"
    CATEGORY_FAMILY = "category_family"


@strawberry.input(
    description="Only the assets of one segment, e.g. {dimension: BRAND, value: "
    '"Kobo"}; CATEGORY_FAMILY takes a root of the category hierarchy (outerwear, tops, ...)'
)
class QualitySegment:
    dimension: QualityDimension
    value: str


def _total(root: records.TierDay) -> int:
    return root.total


def _mean_confidence(root: records.BinCount) -> float | None:
    return root.mean_confidence


def _observed_rate(root: records.BinCount) -> float | None:
    return root.observed_rate


def _per_hour(root: records.ReviewerEffort) -> float | None:
    return root.decisions_per_hour


def _per_decision(root: records.ReviewerEffort) -> float | None:
    return root.median_seconds_per_decision


def _per_asset(root: records.ReviewEffort) -> float | None:
    return root.median_seconds_per_asset


if TYPE_CHECKING:
    QualityReport = records.QualityReport
else:
    TierDay = object_type(
        records.TierDay,
        description="Machine tiers of one attribute's tags first seen on one day (UTC).",
        fields={"day": "YYYY-MM-DD"},
        extra={"total": strawberry.field(resolver=_total)},
    )
    ReliabilityBin = object_type(
        records.BinCount,
        name="ReliabilityBin",
        description="Machine proposals reviewers judged whose probability fell in [lo, hi) "
        "(the last bin also holds 1).",
        exclude={"confidence_sum"},
        fields={"right": "Reviewers kept the machine's value"},
        extra={
            "mean_confidence": strawberry.field(
                resolver=_mean_confidence, description="null when n is 0"
            ),
            "observed_rate": strawberry.field(
                resolver=_observed_rate,
                description="Share reviewers kept (right / n); null when n is 0",
            ),
        },
    )
    Reliability = object_type(
        records.Reliability,
        description="Predicted probability against how often reviewers kept the value.",
        fields={"ece": "Expected calibration error over the bins; null with nothing judged"},
        nested={records.BinCount: ReliabilityBin},
    )
    SegmentCorrections = object_type(
        records.SegmentCorrections,
        description="Machine tags of one segment that reviewers decided in the window, and "
        "the share they corrected or rejected.",
        fields={
            "dimension": "brand, season, shot_type, category_family, or novelty: the novel "
            "and familiar strata of answered audits (decided: answered, corrected: wrong)",
            "low": "Wilson 95 % interval, low end",
            "high": "Wilson 95 % interval, high end",
        },
    )
    AuditPrecision = object_type(
        records.AuditPrecision,
        name="AuditWeekPrecision",
        description="Audits of one tier answered in one week (tagtrail audit sample, then "
        "answered in the audit queue).",
        fields={
            "week": "YYYY-MM-DD, the Monday (UTC)",
            "precision": "Population-weighted (each audit stands for 1/rate applied tags)",
            "low": "Wilson 95 % interval on Kish's effective sample size, low end",
            "high": "Wilson 95 % interval on Kish's effective sample size, high end",
        },
    )
    AttributeQuality = object_type(
        records.AttributeQuality,
        fields={
            "corrections": "Per segment, the highest correction rate first",
            "audits": "Precision per tier and week from answered audits, oldest first",
        },
        nested={
            records.TierDay: TierDay,
            records.Reliability: Reliability,
            records.SegmentCorrections: SegmentCorrections,
            records.AuditPrecision: AuditPrecision,
        },
    )
    QualityMarker = object_type(
        records.QualityMarker,
        description="Something that changes what the charts show: a head (or colour "
        "calibration) promoted, a taxonomy applied.",
        fields={
            "kind": "promotion or taxonomy",
            "attribute": "null: every attribute (a taxonomy apply)",
            "version": "The head or calibration promoted, the taxonomy applied",
        },
    )
    ReviewerEffort = object_type(
        records.ReviewerEffort,
        description="A reviewer's decisions in the window (reviewer \"all\": everyone's).",
        exclude={"median_shown_ms"},
        fields={
            "timed_decisions": "Those the review page timed (shownMs)",
            "active_hours": "Distinct clock hours (UTC) with a decision",
        },
        extra={
            "decisions_per_hour": strawberry.field(
                resolver=_per_hour, description="Decisions per active hour"
            ),
            "median_seconds_per_decision": strawberry.field(
                resolver=_per_decision,
                description="Median time a card was shown before a timed decision",
            ),
        },
    )
    ReviewEffort = object_type(
        records.ReviewEffort,
        description="Review effort in the window: confirm, correct and reject decisions (of "
        "the attribute; the segment filter applies to the per-asset figures only).",
        exclude={"median_asset_ms"},
        fields={
            "reviewers": "The 50 with the most decisions",
            "fully_reviewed_assets": "Assets with nothing pending, timed decisions in force "
            "and a change in the window",
        },
        nested={records.ReviewerEffort: ReviewerEffort},
        extra={
            "median_seconds_per_asset": strawberry.field(
                resolver=_per_asset,
                description="Median over those assets of the time their decisions in force "
                "took (the sum of their shownMs)",
            )
        },
    )
    QualityReport = object_type(
        records.QualityReport,
        description="Governance as outcomes over a window: per attribute (in taxonomy "
        "order) the tiers over time, the reliability diagram, the corrections per segment and "
        "the audited precision per week, with the promotions and taxonomy applies to mark "
        "on the time axis.",
        fields={"markers": "Oldest first: the newest 100 promotions, the first 100 applies"},
        nested={
            records.AttributeQuality: AttributeQuality,
            records.QualityMarker: QualityMarker,
            records.ReviewEffort: ReviewEffort,
        },
    )


QualityReportResult = Annotated[
    QualityReport | InvalidInputError, strawberry.union("QualityReportResult")
]


async def quality_report(
    info: Info,
    attribute: str | None = None,
    segment: QualitySegment | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QualityReportResult:
    ctx = info.context
    ctx.require("viewer")
    chosen = (
        None
        if segment is None
        else records.QualitySegment(dimension=segment.dimension.value, value=segment.value)
    )
    try:
        return await ctx.runtime.quality.report(
            attribute=attribute, segment=chosen, since=since, until=until
        )
    except InvalidInput as exc:
        return error_result(exc)  # type: ignore[return-value]
