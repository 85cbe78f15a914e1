"""The taxonomy change preview (admin): what moving to a new taxonomy folder would change."""

from __future__ import annotations

from pathlib import Path
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
from tagtrail.usecases import change_report as report

if TYPE_CHECKING:
    TaxonomyChangeSample = report.ChangeSample
    TaxonomyChangeRow = report.ChangeRow
    TaxonomyChange = report.TaxonomyChangeReport
else:
    TaxonomyChangeSample = object_type(
        report.ChangeSample,
        name="TaxonomyChangeSample",
        description="One asset's tag before and after the change.",
        fields={"new_value": "null: the tag is retired"},
        retype={"asset_id": strawberry.ID},
    )
    TaxonomyChangeRow = object_type(
        report.ChangeRow,
        name="TaxonomyChangeRow",
        description="Changes to the tags of one attribute value in one segment.",
        fields={
            "value": "The value before the change",
            "segment": '"overall" or "key=value", e.g. "brand=Kobo"',
            "hierarchy_changes": "Same value, other parents, label or colour family",
            "human_touched": "Human decisions carried to a new value or hierarchy, re-opened or "
            "retired",
        },
        nested={report.ChangeSample: TaxonomyChangeSample},
    )
    # What a preview answers: apply's own fields (applied, conflicts, the version in force
    # afterwards, the wait for servers) belong to the CLI's report.
    TaxonomyChange = object_type(
        report.TaxonomyChangeReport,
        name="TaxonomyChange",
        description="What moving to the new taxonomy would change; nothing written.",
        exclude={"applied", "conflicts", "in_force", "waited_for_servers_s"},
        fields={
            "attributes_moved": "Attributes whose version moved: the model re-decides their tags"
        },
        nested={report.ChangeRow: TaxonomyChangeRow},
    )


TaxonomyPreviewResult = Annotated[
    TaxonomyChange | InvalidInputError | ForbiddenError | UnauthenticatedError,
    strawberry.union("TaxonomyPreviewResult"),
]


async def taxonomy_preview(info: Info, directory: str, sample: int = 3) -> TaxonomyPreviewResult:
    ctx = info.context
    try:
        ctx.require("admin")
        if not 0 <= sample <= 50:
            return InvalidInputError(message="sample must be within 0..50", field="sample")
        found = await ctx.runtime.taxonomy_changes.preview(Path(directory), sample=sample)
    except TagtrailError as exc:
        return error_result(exc, required_role="admin")  # type: ignore[return-value]
    return found
