"""The retag impact preview: what re-tagging from stored vectors would change, per segment."""

from __future__ import annotations

from typing import Annotated

import msgspec
import strawberry

from tagtrail.api.graphql.context import Info
from tagtrail.api.graphql.errors import (
    ForbiddenError,
    InvalidInputError,
    UnauthenticatedError,
    error_result,
)
from tagtrail.errors import TagtrailError
from tagtrail.usecases import retag_preview as uc


@strawberry.type(description="One asset's tag as it is and as a retag would make it.")
class ImpactSample:
    asset_id: strawberry.ID
    old_value: str | None
    new_value: str | None
    old_tier: str | None
    new_tier: str | None
    human_decided: bool = strawberry.field(
        description="The value in force stays (a human decided it); newValue is a proposal"
    )


@strawberry.type(description="Changes to one attribute's tags in one segment.")
class ImpactRow:
    attribute: str
    segment: str = strawberry.field(description='"overall" or "key=value", e.g. "brand=Kobo"')
    changed: int
    value_changes: int = strawberry.field(description="Model-decided tags whose value changes")
    tier_changes: int
    newly_applied: int
    no_longer_applied: int
    human_decided: int = strawberry.field(description="Human-decided tags: kept, new proposal")
    human_disagreements: int
    sample: list[ImpactSample]


@strawberry.type(description="What `tagtrail retag` would change now; nothing was written.")
class RetagPreview:
    checked: int
    would_retag: int
    other_encoder: int = strawberry.field(
        description="Assets whose vectors come from another encoder (need a re-ingest)"
    )
    head_versions: list[str] = strawberry.field(description='"attribute: head version"')
    rows: list[ImpactRow]


RetagPreviewResult = Annotated[
    RetagPreview | InvalidInputError | ForbiddenError | UnauthenticatedError,
    strawberry.union("RetagPreviewResult"),
]


async def retag_preview(
    info: Info, attribute: str | None = None, sample: int = 3
) -> RetagPreviewResult:
    ctx = info.context
    try:
        ctx.require("admin")
        if not 0 <= sample <= 50:
            return InvalidInputError(message="sample must be within 0..50", field="sample")
        found = await uc.retag_preview(ctx.services, attribute=attribute, sample=sample)
    except TagtrailError as exc:
        return error_result(exc, required_role="admin")  # type: ignore[return-value]
    return RetagPreview(
        checked=found.checked,
        would_retag=found.would_retag,
        other_encoder=found.other_encoder,
        head_versions=[f"{a}: {v}" for a, v in found.head_versions.items()],
        rows=[
            ImpactRow(
                **{k: v for k, v in msgspec.structs.asdict(r).items() if k != "sample"},
                sample=[
                    ImpactSample(
                        **{**msgspec.structs.asdict(x), "asset_id": strawberry.ID(x.asset_id)}
                    )
                    for x in r.sample
                ],
            )
            for r in found.rows
        ],
    )
