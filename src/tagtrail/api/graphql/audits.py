"""Sample audits: the queue of sampled tags to check, and the measured precision report."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from tagtrail.api.graphql.context import Info
from tagtrail.api.graphql.errors import InvalidInputError, error_result
from tagtrail.api.graphql.types import Asset, described
from tagtrail.domain.asset import Asset as AssetRecord
from tagtrail.errors import InvalidInput
from tagtrail.usecases import audits as uc


@strawberry.type(
    description="A sampled tag to check: confirm it if right, correct or reject it if wrong "
    "(confirmTag/correctTag/rejectTag with expectedRevision = revision)."
)
class AuditItem:
    audit_id: str
    round: str
    asset_id: strawberry.ID
    attribute: str
    value: str
    tier: str
    stratum: str = strawberry.field(description='"attribute/tier/segment"')
    weight: float = strawberry.field(description="Applied tags this audit stands for (1/rate)")
    revision: int

    @described(
        "The asset as it is now (thumbnail, SKU, brand, tags); null if it was deleted since "
        "it was sampled."
    )
    async def asset(self, info: Info) -> Asset | None:
        found: AssetRecord | None = await info.context.loaders.assets.load(str(self.asset_id))
        return None if found is None else Asset.from_record(found)


@strawberry.type
class AuditQueue:
    items: list[AuditItem]


@strawberry.type(description="Measured precision of one stratum (or attribute × tier).")
class AuditPrecision:
    attribute: str
    tier: str
    segment: str = strawberry.field(description='"brand=Kobo", or "all" for attribute × tier')
    population: int
    audited: int
    correct: int
    precision: float | None = strawberry.field(description="Population-weighted; null: no audit")
    low: float = strawberry.field(description="Wilson 95 % interval, low end")
    high: float
    effective_n: float
    verdict: str = strawberry.field(
        description="meets target, below target, inconclusive or not enough evidence"
    )
    audits_needed: int = strawberry.field(description="Error-free audits that would show target")
    unaudited: list[str] = strawberry.field(
        description="For attribute × tier: strata with tags whose drawn audits are not all "
        "answered; while any is listed the verdict is not meets target"
    )

    @classmethod
    def from_row(cls, row: Any) -> AuditPrecision:
        return cls(
            attribute=row.stratum.attribute,
            tier=row.stratum.tier,
            segment=row.stratum.segment,
            population=row.population,
            audited=row.audited,
            correct=row.correct,
            precision=row.precision,
            low=row.low,
            high=row.high,
            effective_n=row.effective_n,
            verdict=row.verdict,
            audits_needed=row.audits_needed,
            unaudited=list(row.unaudited),
        )


@strawberry.type
class AuditReport:
    target: float
    totals: list[AuditPrecision]
    strata: list[AuditPrecision]


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
        queued = await uc.audit_queue(ctx.services, round=round, attribute=attribute, first=first)
    except InvalidInput as exc:
        return error_result(exc)  # type: ignore[return-value]
    return AuditQueue(
        items=[
            AuditItem(
                audit_id=q.audit_id,
                round=q.round,
                asset_id=strawberry.ID(q.asset_id),
                attribute=q.attribute,
                value=q.value,
                tier=q.tier,
                stratum=q.stratum,
                weight=q.weight,
                revision=q.revision,
            )
            for q in queued
        ]
    )


async def audit_report(
    info: Info, round: str = "r1", attribute: str | None = None, target: float = 0.98
) -> AuditReportResult:
    ctx = info.context
    ctx.require("viewer")
    if not 0.0 < target < 1.0:
        return InvalidInputError(message="target must be in (0, 1)", field="target")
    report = await uc.audit_report(ctx.services, round=round, attribute=attribute, target=target)
    return AuditReport(
        target=report.target,
        totals=[AuditPrecision.from_row(r) for r in report.totals],
        strata=[AuditPrecision.from_row(r) for r in report.strata],
    )
