"""The taxonomy change preview: what moving to a new taxonomy folder would change."""

from __future__ import annotations

from pathlib import Path
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
from tagtrail.usecases import taxonomy_change as uc


@strawberry.type(description="One asset's tag before and after the change.")
class TaxonomyChangeSample:
    asset_id: strawberry.ID
    old_value: str | None
    new_value: str | None = strawberry.field(description="null: the tag is retired")
    old_state: str | None
    new_state: str | None
    old_tier: str | None
    new_tier: str | None
    human_decided: bool


@strawberry.type(description="Changes to the tags of one attribute value in one segment.")
class TaxonomyChangeRow:
    attribute: str
    value: str = strawberry.field(description="The value before the change")
    segment: str = strawberry.field(description='"overall" or "key=value", e.g. "brand=Kobo"')
    assets: int
    value_changes: int
    tier_changes: int
    hierarchy_changes: int = strawberry.field(
        description="Same value, other parents, label or colour family"
    )
    retired: int
    human_touched: int = strawberry.field(
        description="Human decisions carried to a new value or hierarchy, re-opened or retired"
    )
    sample: list[TaxonomyChangeSample]


@strawberry.type(description="What moving to the new taxonomy would change; nothing written.")
class TaxonomyChange:
    current_version: str
    new_version: str
    attributes_moved: list[str] = strawberry.field(
        description="Attributes whose version moved: the model re-decides their tags"
    )
    retired_attributes: list[str]
    checked: int
    assets_changed: int
    events: int
    human_decisions_touched: int
    other_encoder: int
    rows: list[TaxonomyChangeRow]


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
        found = await uc.preview_change(ctx.services, Path(directory), sample=sample)
    except TagtrailError as exc:
        return error_result(exc, required_role="admin")  # type: ignore[return-value]
    return TaxonomyChange(
        current_version=found.current_version,
        new_version=found.new_version,
        attributes_moved=found.attributes_moved,
        retired_attributes=found.retired_attributes,
        checked=found.checked,
        assets_changed=found.assets_changed,
        events=found.events,
        human_decisions_touched=found.human_decisions_touched,
        other_encoder=found.other_encoder,
        rows=[
            TaxonomyChangeRow(
                **{k: v for k, v in msgspec.structs.asdict(r).items() if k != "sample"},
                sample=[
                    TaxonomyChangeSample(
                        **{**msgspec.structs.asdict(s), "asset_id": strawberry.ID(s.asset_id)}
                    )
                    for s in r.sample
                ],
            )
            for r in found.rows
        ],
    )
