"""The retag impact preview: what re-tagging from stored vectors would change, per segment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from tagtrail.api.graphql.context import Info
from tagtrail.api.graphql.errors import (
    ForbiddenError,
    InvalidInputError,
    UnauthenticatedError,
    error_result,
)
from tagtrail.api.graphql.records import object_type
from tagtrail.errors import TagtrailError
from tagtrail.usecases import retag_preview as uc


def _head_versions(root: uc.RetagPreview) -> list[str]:
    return [f"{a}: {v}" for a, v in root.head_versions.items()]


if TYPE_CHECKING:
    ImpactSample = uc.ImpactSample
    ImpactRow = uc.ImpactRow
    RetagPreview = uc.RetagPreview
else:
    ImpactSample = object_type(
        uc.ImpactSample,
        description="One asset's tag as it is and as a retag would make it.",
        fields={
            "human_decided": "The value in force stays (a human decided it); newValue is a proposal"
        },
        retype={"asset_id": strawberry.ID},
    )
    ImpactRow = object_type(
        uc.ImpactRow,
        description="Changes to one attribute's tags in one segment.",
        fields={
            "segment": '"overall" or "key=value", e.g. "brand=Kobo"',
            "value_changes": "Model-decided tags whose value changes",
            "human_decided": "Human-decided tags: kept, new proposal",
        },
        nested={uc.ImpactSample: ImpactSample},
    )
    RetagPreview = object_type(
        uc.RetagPreview,
        description="What `tagtrail retag` would change now; nothing was written.",
        exclude={"head_versions"},
        fields={
            "other_encoder": "Assets whose vectors come from another encoder (need a re-ingest)"
        },
        nested={uc.ImpactRow: ImpactRow},
        extra={
            "head_versions": strawberry.field(
                resolver=_head_versions, description='"attribute: head version"'
            )
        },
    )


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
        found = await ctx.runtime.retag.preview(attribute=attribute, sample=sample)
    except TagtrailError as exc:
        return error_result(exc, required_role="admin")  # type: ignore[return-value]
    return found
