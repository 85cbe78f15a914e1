"""Heads trained from reviewer decisions: versions with evaluations, train and promote."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from tagtrail.api.graphql.context import Info
from tagtrail.api.graphql.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    UnauthenticatedError,
    error_result,
)
from tagtrail.api.graphql.pagination import decode_cursor, encode_cursor
from tagtrail.api.graphql.records import object_type
from tagtrail.domain.cadence import HeadEvent as HeadEventRecord
from tagtrail.errors import TagtrailError
from tagtrail.learning import shadow as shadow_records
from tagtrail.learning.colour import TierOutcome
from tagtrail.learning.evaluate import EvaluationReport, SegmentMetrics
from tagtrail.learning.holdout_checks import EvaluationStream as EvaluationStreamRecord
from tagtrail.usecases import heads as uc
from tagtrail.usecases.gate import streams_of

if TYPE_CHECKING:
    HeadSegment = SegmentMetrics
else:
    HeadSegment = object_type(
        SegmentMetrics,
        name="HeadSegment",
        description="Metrics of one head on one segment (or overall).",
        fields={
            "segment": '"overall" or "key=value", e.g. "brand=Kobo"',
            "ece": "Expected calibration error (15 bins)",
            "auto_n": "Predictions that reached the auto tier",
            "auto_precision": "Precision of the auto tier (null when nothing reached it)",
            "auto_low": "Wilson 95 % interval, low end",
            "auto_high": "Wilson 95 % interval, high end",
        },
        names={"auto_low": "autoPrecisionLow", "auto_high": "autoPrecisionHigh"},
    )


if TYPE_CHECKING:
    EvaluationStream = EvaluationStreamRecord
else:
    EvaluationStream = object_type(
        EvaluationStreamRecord,
        name="EvaluationStream",
        description="A stream of decisions kept out of training that a head was scored on, "
        "and how it was drawn. Queue order never touches the hold-out or the audit draws.",
        fields={
            "stream": "review_queue (reviewers' decisions, chosen by the queue's order), "
            "random_holdout (assets chosen by a hash of their id) or audit_answers (applied "
            "tags drawn by a hash per audit round)",
            "n": "Decisions scored",
            "drawn_by": "How the stream's decisions were chosen",
            "share": "random_holdout: its share of all assets (null: not recorded)",
        },
    )


@strawberry.type(
    description="The head and the champion it was compared with, on the same held-out "
    "reviewer decisions, and what the promotion gate says now."
)
class HeadEvaluation:
    method: str
    champion_version: str
    segments: list[HeadSegment]
    champion_segments: list[HeadSegment]
    would_promote: bool
    gate_reasons: list[str]
    audit_segments: list[HeadSegment] = strawberry.field(
        description="The candidate scored on audit answers kept out of training (empty: none)"
    )
    champion_audit_segments: list[HeadSegment] = strawberry.field(
        description="The champion scored on the same audit answers"
    )
    holdout_segments: list[HeadSegment] = strawberry.field(
        description="The candidate scored on decisions of the random hold-out (assets the "
        "review queue serves only in its HOLDOUT queue), kept out of training (empty: none)"
    )
    champion_holdout_segments: list[HeadSegment] = strawberry.field(
        description="The champion scored on the same hold-out decisions"
    )
    evaluation_stream: str = strawberry.field(
        description='Which streams the gate scored the heads on, e.g. "review-queue '
        "decisions (scored out of sample: holdout 20% (240 decisions)) n=240 + random "
        'hold-out (5% of assets, hash of the asset id) n=42"'
    )
    streams: list[EvaluationStream] = strawberry.field(description="The same streams, one by one")


if TYPE_CHECKING:
    CalibrationTiers = TierOutcome
else:
    CalibrationTiers = object_type(
        TierOutcome,
        name="CalibrationTiers",
        description="What a colour calibration does on reviewer decisions.",
        fields={
            "ece": "Expected calibration error (15 bins)",
            "auto_share": "Share of colours in the auto tier",
        },
    )


@strawberry.type(
    description="A colour calibration fitted from reviewer decisions, measured out of fold "
    "beside the calibration in force on the same decisions."
)
class CalibrationEvaluation:
    method: str
    n: int
    n_right: int
    current: CalibrationTiers
    candidate: CalibrationTiers
    would_promote: bool
    gate_reasons: list[str]


def _calibration(info: uc.HeadInfo) -> CalibrationEvaluation | None:
    c = info.calibration
    if c is None or info.gate is None:
        return None
    return CalibrationEvaluation(
        method=c.method,
        n=c.n,
        n_right=c.n_right,
        current=c.current,
        candidate=c.candidate,
        would_promote=bool(info.gate.promote),
        gate_reasons=list(info.gate.reasons),
    )


@strawberry.type(description="A stored head version (kind calibration: the colour analyser's).")
class HeadVersion:
    attribute: str
    version: str
    kind: str
    champion: bool
    challenger: bool
    trained_at: str | None
    trained_by: str | None
    taxonomy_version: str | None
    encoder: str | None
    n_examples: int
    evaluation: HeadEvaluation | None
    calibration: CalibrationEvaluation | None = strawberry.field(
        description="Kind calibration only: the colour calibration's evaluation"
    )
    summary: str = strawberry.field(
        description='For people, e.g. "category head tuned:category:3f2a…, 412 reviewer '
        'decisions, auto-tier precision 0.97 [0.94, 0.99]"'
    )

    @classmethod
    def from_info(cls, info: uc.HeadInfo) -> HeadVersion:
        return cls(
            attribute=info.attribute,
            version=info.version,
            kind=info.kind,
            champion=info.champion,
            challenger=info.challenger,
            trained_at=info.created_at,
            trained_by=info.created_by,
            taxonomy_version=info.taxonomy_version,
            encoder=info.encoder,
            n_examples=info.n_examples,
            evaluation=_evaluation(info.evaluation, info.gate),
            calibration=_calibration(info),
            summary=summary(info),
        )


def summary(info: uc.HeadInfo) -> str:
    text = f"{info.attribute} head {info.version}, {info.n_examples} reviewer decisions"
    if info.calibration is not None:
        c = info.calibration
        return (
            f"{info.attribute} calibration {info.version}, {c.n} reviewer decisions, "
            f"ECE {c.current.ece:.3f} → {c.candidate.ece:.3f} (out of fold)"
        )
    if info.evaluation is not None:
        overall = info.evaluation.candidate.overall
        if overall.auto_precision is None:
            text += ", nothing reached the auto tier when evaluated"
        else:
            text += (
                f", auto-tier precision {overall.auto_precision:.2f} "
                f"[{overall.auto_low:.2f}, {overall.auto_high:.2f}] (n={overall.auto_n})"
            )
    return text


def _evaluation(evaluation: uc.StoredEvaluation | None, gate: Any | None) -> HeadEvaluation | None:
    if evaluation is None or gate is None:
        return None
    return HeadEvaluation(
        method=evaluation.candidate.method,
        champion_version=evaluation.champion.head_version,
        segments=list(evaluation.candidate.segments),
        champion_segments=list(evaluation.champion.segments),
        would_promote=bool(gate.promote),
        gate_reasons=list(gate.reasons),
        audit_segments=_segments(evaluation.audit_candidate),
        champion_audit_segments=_segments(evaluation.audit_champion),
        holdout_segments=_segments(evaluation.holdout_candidate),
        champion_holdout_segments=_segments(evaluation.holdout_champion),
        evaluation_stream=str(gate.evaluation_stream),
        streams=list(streams_of(evaluation)),
    )


def _segments(report: EvaluationReport | None) -> list[HeadSegment]:
    return [] if report is None else list(report.segments)


async def heads(info: Info, attribute: str | None = None) -> list[HeadVersion]:
    info.context.require("viewer")
    return [HeadVersion.from_info(h) for h in await info.context.runtime.heads.versions(attribute)]


async def head_of_version(info: Info, version: str | None) -> HeadVersion | None:
    """The stored (trained) head of this version; None for zero-shot heads and analysers."""
    if not version or not version.startswith("tuned:"):
        return None
    found = await info.context.runtime.heads.info(version)
    return HeadVersion.from_info(found) if found is not None else None


async def _version(info: Info, attribute: str, version: str) -> HeadVersion:
    found = await info.context.runtime.heads.versions(attribute)
    match = next((h for h in found if h.version == version), None)
    if match is None:  # just written: list is a search, so read it by id
        raise TagtrailError(f"head {version} not found after writing it")
    return HeadVersion.from_info(match)


@strawberry.type(description="A challenger was trained, evaluated and stored.")
class HeadTrained:
    head: HeadVersion
    created: bool = strawberry.field(
        description="False when the same decisions had already produced this version"
    )
    skipped: list[str] = strawberry.field(description='Decisions left out, as "reason: count"')


@strawberry.type(description="The champion alias now points at this version.")
class HeadPromoted:
    head: HeadVersion
    previous_version: str | None
    forced: bool
    note: str | None
    reasons: list[str]


@strawberry.type(description="The promotion gate refused; nothing changed. Reasons name segments.")
class PromotionRefused:
    version: str
    reasons: list[str]


TrainHeadResult = Annotated[
    HeadTrained | InvalidInputError | NotFoundError | ForbiddenError | UnauthenticatedError,
    strawberry.union("TrainHeadResult"),
]
PromoteHeadResult = Annotated[
    HeadPromoted
    | PromotionRefused
    | InvalidInputError
    | NotFoundError
    | ConflictError
    | ForbiddenError
    | UnauthenticatedError,
    strawberry.union("PromoteHeadResult"),
]


async def train_head(info: Info, attribute: str) -> TrainHeadResult:
    ctx = info.context
    try:
        principal = ctx.require("admin")
        trained = await ctx.runtime.heads.train(attribute, actor=principal.name)
        head = await _version(info, attribute, trained.version)
    except TagtrailError as exc:
        return error_result(exc, required_role="admin")  # type: ignore[return-value]
    return HeadTrained(
        head=head,
        created=trained.created,
        skipped=[f"{k}: {v}" for k, v in trained.skipped.items()],
    )


async def promote_head(
    info: Info, attribute: str, version: str, force: bool = False, note: str | None = None
) -> PromoteHeadResult:
    ctx = info.context
    try:
        principal = ctx.require("admin")
        result = await ctx.runtime.heads.promote(
            attribute, version, actor=principal.name, force=force, note=note
        )
        if not result.promoted:
            return PromotionRefused(version=version, reasons=list(result.reasons))
        head = await _version(info, attribute, version)
    except TagtrailError as exc:
        return error_result(exc, required_role="admin", id=version)
    return HeadPromoted(
        head=head,
        previous_version=result.previous,
        forced=result.forced,
        note=result.note,
        reasons=list(result.reasons),
    )


if TYPE_CHECKING:
    ShadowReport = shadow_records.ShadowReport
else:
    ShadowReport = object_type(
        shadow_records.ShadowReport,
        description="Shadow mode: a challenger's proposals (never applied) against what "
        "reviewers decided after it was created, beside the champion's, with Wilson 95 % "
        "intervals.",
        fields={
            "n": "Reviewer decisions, made after the challenger was created, on tags it "
            "proposed a value for",
            "computed": "Of them, proposals computed from the stored vector (photos tagged "
            "before the challenger existed); the rest were recorded when it predicted",
        },
    )


ShadowReportResult = Annotated[
    ShadowReport | InvalidInputError | NotFoundError, strawberry.union("ShadowReportResult")
]


async def shadow_report(
    info: Info, attribute: str, version: str | None = None
) -> ShadowReportResult:
    ctx = info.context
    ctx.require("viewer")
    try:
        found = await ctx.runtime.shadow.challenger_agreement(attribute, version)
    except TagtrailError as exc:
        return error_result(exc, id=version)  # type: ignore[return-value]
    return found


def _explanation(root: HeadEventRecord) -> str:
    return root.explanation()


if TYPE_CHECKING:
    HeadEvent = HeadEventRecord
else:
    HeadEvent = object_type(
        HeadEventRecord,
        name="HeadEvent",
        description="One step in the life of a head version: trained, shadowing, promoted, "
        "refused, awaiting_admin (passed the gate; the policy is manual), superseded, failed. "
        "Taken by the retraining cadence (actor cadence@<server>) or an admin.",
        fields={
            "step": "trained, shadowing, promoted, refused, awaiting_admin, superseded or failed",
            "actor": "cadence@<server> for the cadence, else the admin's key name",
            "champion": "The champion when the step was taken",
            "policy": "The cadence policy in force (TAGTRAIL_RETRAIN_*)",
            "trigger": "Why the step was taken then",
            "reasons": "What the gate or the shadow said",
            "decisions": "Reviewer decisions since the previous training",
            "shadow_n": "Reviewer judgements of the challenger's shadow proposals",
            "shadow_challenger": "Their agreement with the challenger",
            "shadow_champion": "… and with the champion on the same photos",
        },
        retype={"event_id": strawberry.ID},
        extra={
            "explanation": strawberry.field(
                resolver=_explanation, description="The step in one sentence, with why"
            )
        },
    )


@strawberry.enum(description="A step of a head version's life (headEvents' filter)")
class HeadStepFilter(enum.Enum):
    # The values of domain.cadence.HeadStep (tests/api/test_access.py checks they agree).
    TRAINED = "trained"
    SHADOWING = "shadowing"
    PROMOTED = "promoted"
    REFUSED = "refused"
    AWAITING_ADMIN = "awaiting_admin"
    FAILED = "failed"
    SUPERSEDED = "superseded"


@strawberry.type(description="A page of head events, newest first.")
class HeadEventsPage:
    events: list[HeadEvent]
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page")
    has_more: bool


HeadEventsResult = Annotated[
    HeadEventsPage | InvalidInputError, strawberry.union("HeadEventsResult")
]


async def head_events(
    info: Info,
    attribute: str | None = None,
    version: str | None = None,
    steps: list[HeadStepFilter] | None = None,
    first: int = 50,
    after: str | None = None,
) -> HeadEventsResult:
    ctx = info.context
    ctx.require("viewer")
    try:
        page = await ctx.runtime.head_history.events(
            first=first,
            attribute=attribute,
            version=version,
            steps=sorted({s.value for s in steps or ()}),
            after=decode_cursor(after, _EVENTS_SORT),
        )
    except TagtrailError as exc:
        return error_result(exc)  # type: ignore[return-value]
    cursor = encode_cursor(_EVENTS_SORT, list(page.after)) if page.after else None
    return HeadEventsPage(events=list(page.events), end_cursor=cursor, has_more=cursor is not None)


_EVENTS_SORT = "head_events"
