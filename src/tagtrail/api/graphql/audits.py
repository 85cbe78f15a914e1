"""Sample audits: the queue of sampled tags to check, and the measured precision report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from tagtrail.api.graphql.context import Info
from tagtrail.api.graphql.errors import InvalidInputError, error_result
from tagtrail.api.graphql.records import object_type
from tagtrail.api.graphql.types import Asset
from tagtrail.domain.asset import Asset as AssetRecord
from tagtrail.errors import InvalidInput
from tagtrail.learning import audit as learning_audit
from tagtrail.learning.audit import StratumPrecision
from tagtrail.usecases import audits as uc


async def _asset_now(root: uc.QueuedAudit, info: Info) -> Asset | None:
    found: AssetRecord | None = await info.context.loaders.assets.load(root.asset_id)
    return None if found is None else Asset.from_record(found)


def _stratum_attribute(root: StratumPrecision) -> str:
    return root.stratum.attribute


def _stratum_tier(root: StratumPrecision) -> str:
    return root.stratum.tier


def _stratum_segment(root: StratumPrecision) -> str:
    return root.stratum.segment


def _stratum_novelty(root: StratumPrecision) -> str | None:
    return root.stratum.novelty


if TYPE_CHECKING:
    AuditItem = uc.QueuedAudit
    AuditPrecision = StratumPrecision
    AuditReport = learning_audit.AuditReport
else:
    AuditItem = object_type(
        uc.QueuedAudit,
        name="AuditItem",
        description="A sampled tag to check: confirm it if right, correct or reject it if "
        "wrong (confirmTag/correctTag/rejectTag with expectedRevision = revision).",
        fields={
            "stratum": '"attribute/tier/segment", then "/novelty=novel" (or familiar) where judged',
            "weight": "Applied tags this audit stands for (1/rate)",
        },
        retype={"asset_id": strawberry.ID},
        extra={
            "asset": strawberry.field(
                resolver=_asset_now,
                description="The asset as it is now (thumbnail, SKU, brand, tags); null if it "
                "was deleted since it was sampled.",
            )
        },
    )
    AuditPrecision = object_type(
        StratumPrecision,
        name="AuditPrecision",
        description="Measured precision of one stratum (or attribute × tier).",
        exclude={"stratum"},
        fields={
            "precision": "Population-weighted; null: no audit",
            "low": "Wilson 95 % interval, low end",
            "verdict": "meets target, below target, inconclusive or not enough evidence",
            "audits_needed": "Error-free audits that would show target",
            "unaudited": "For attribute × tier: strata with tags whose drawn audits are not all "
            "answered; while any is listed the verdict is not meets target",
        },
        extra={
            "attribute": strawberry.field(resolver=_stratum_attribute),
            "tier": strawberry.field(resolver=_stratum_tier),
            "segment": strawberry.field(
                resolver=_stratum_segment,
                description='"brand=Kobo", or "all" for attribute × tier',
            ),
            "novelty": strawberry.field(
                resolver=_stratum_novelty,
                description='"novel": the asset\'s vector is farther from every prototype of '
                "the training vectors of the head that tagged it than the head's threshold "
                "(the 0.95 quantile of those vectors' own out-of-sample distances); "
                '"familiar": within it; null: not judged (zero-shot heads, the colour '
                "analyser, heads without a summary, vectors of another encoder)",
            ),
        },
    )
    AuditReport = object_type(
        learning_audit.AuditReport,
        exclude={"confidence"},
        nested={StratumPrecision: AuditPrecision},
        fields={
            "strata": "Per attribute × tier × segment, split by novelty where judged",
            "totals": "Per attribute × tier, over all segments (population-weighted)",
            "novelty": "Per attribute × tier × novelty over all segments, where judged: "
            "precision where the catalogue looks least like the training data",
        },
    )


@strawberry.type
class AuditQueue:
    items: list[AuditItem]


AuditQueueResult = Annotated[AuditQueue | InvalidInputError, strawberry.union("AuditQueueResult")]
AuditReportResult = Annotated[
    AuditReport | InvalidInputError, strawberry.union("AuditReportResult")
]


async def audit_queue(
    info: Info, round: str = "r1", attribute: str | None = None, first: int = 20
) -> AuditQueueResult:
    ctx = info.context
    ctx.require("viewer")
    try:
        queued = await ctx.runtime.audits.queue(round=round, attribute=attribute, first=first)
    except InvalidInput as exc:
        return error_result(exc)  # type: ignore[return-value]
    return AuditQueue(items=list(queued))


async def audit_report(
    info: Info, round: str = "r1", attribute: str | None = None, target: float = 0.98
) -> AuditReportResult:
    ctx = info.context
    ctx.require("viewer")
    if not 0.0 < target < 1.0:
        return InvalidInputError(message="target must be in (0, 1)", field="target")
    return await ctx.runtime.audits.report(round=round, attribute=attribute, target=target)
