"""The review queue and the reviewer's mutations (confirm, reject, correct, reopen; single and
bulk).

Every mutation is optimistic: the caller sends the asset revision it decided on; a stale
one returns ``Conflict`` with ``currentRevision`` and writes nothing. Bulk forms take an
explicit list of ``{assetId, expectedRevision}`` (bounded by TAGTRAIL_MAX_BULK_ASSETS) and
answer per item — some items may succeed while others conflict; none is silently dropped.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

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
from tagtrail.api.graphql.inputs import AssetFilterInput, to_filter
from tagtrail.api.graphql.pagination import (
    PageInfo,
    check_page_size,
    decode_cursor,
    encode_cursor,
)
from tagtrail.api.graphql.types import Asset, Tag, TagEventRecord
from tagtrail.domain.decisions import Decision, DecisionKind
from tagtrail.domain.limits import MAX_ATTRIBUTE_FILTERS, check_values
from tagtrail.errors import InvalidInput, TagtrailError
from tagtrail.usecases.review import Decided
from tagtrail.usecases.search import review_sort


# -- queue ---------------------------------------------------------------------------------
@strawberry.enum(
    description="How the review queue is sorted (HOLDOUT ignores it: hash order). On the "
    "queued tags of the requested attributes: OLDEST_FIRST, first seen (DISAGREEMENT: "
    "decided); LOWEST_CONFIDENCE_FIRST, the least probable; UNCERTAINTY_FIRST, the smallest "
    "margin between the model's top two probabilities (colour: the analyser's ΔE-margin "
    "confidence; tags without one last); EXPECTED_VALUE_FIRST, the most expected cost removed "
    "by reviewing the asset: over its pending tags, 1 − p for a flagged tag (wrong and "
    "served) plus p·(1 − m)/m for a suggestion (right and missing; m the attribute's medium "
    "threshold); DISAGREEMENT: the surest newer proposal first"
)
class ReviewOrder(Enum):
    OLDEST_FIRST = "oldest_first"
    LOWEST_CONFIDENCE_FIRST = "lowest_confidence_first"
    UNCERTAINTY_FIRST = "uncertainty_first"
    EXPECTED_VALUE_FIRST = "expected_value_first"


@strawberry.enum(description="Why a tag is in the review queue.")
class ReviewReason(Enum):
    PENDING = "pending"  # flagged tags and suggestions
    DISAGREEMENT = "disagreement"  # a newer model's proposal differs from a human decision
    # Pending tags of hold-out assets (a random share never trained on), in hash order.
    HOLDOUT = "holdout"


@strawberry.type
class ReviewItem:
    cursor: str
    asset: Asset
    pending_tags: list[Tag] = strawberry.field(
        description="Flagged tags and suggestions of the requested attributes"
    )
    disagreements: list[Tag] = strawberry.field(
        description="Human-decided tags of the requested attributes whose newer model "
        "proposal (proposedValue) differs from the value in force"
    )


@strawberry.type
class ReviewQueue:
    items: list[ReviewItem]
    page_info: PageInfo
    total_count: int


ReviewQueueResult = Annotated[
    ReviewQueue | InvalidInputError, strawberry.union("ReviewQueueResult")
]


async def review_queue(
    info: Info,
    filter: AssetFilterInput | None = None,
    attributes: list[str] | None = None,
    first: int = 20,
    after: str | None = None,
    order: ReviewOrder = ReviewOrder.OLDEST_FIRST,
    reason: Annotated[
        ReviewReason,
        strawberry.argument(
            description="PENDING: flagged tags and suggestions; DISAGREEMENT: human "
            "decisions a newer model disagrees with (oldest decision or least sure proposal "
            "first); HOLDOUT: pending tags of the random hold-out, in a fixed random order "
            "(order is ignored), never in PENDING"
        ),
    ] = ReviewReason.PENDING,
) -> ReviewQueueResult:
    ctx = info.context
    ctx.require("viewer")
    try:
        size = check_page_size(first, ctx.settings.max_page_size)
        taxonomy = await ctx.runtime.taxonomy.current()
        hits, has_next, total = await ctx.runtime.search.review_queue(
            to_filter(filter, taxonomy),
            check_values(attributes, "attributes", max_values=MAX_ATTRIBUTE_FILTERS),
            order=order.value,
            size=size,
            search_after=decode_cursor(after, review_sort(order.value, reason.value)),
            reason=reason.value,
        )
    except InvalidInput as exc:
        return error_result(exc)  # type: ignore[return-value]
    items = []
    for h in hits:
        asset = Asset.from_record(h.asset)
        items.append(
            ReviewItem(
                cursor=encode_cursor(review_sort(order.value, reason.value), list(h.sort)),
                asset=asset,
                pending_tags=asset.pending_tags(attributes),
                disagreements=asset.disagreements(attributes),
            )
        )
    return ReviewQueue(
        items=items,
        total_count=total,
        page_info=PageInfo(has_next_page=has_next, end_cursor=items[-1].cursor if items else None),
    )


# -- mutations -----------------------------------------------------------------------------
_SLOT = "A further value of a multi-valued attribute (Tag.slot); omit for the primary value"
_SHOWN = (
    "How long the review card was shown before this decision, in milliseconds (0 to a "
    "day): the quality report's review effort"
)


@strawberry.input
class TagDecisionInput:
    asset_id: strawberry.ID
    attribute: str
    expected_revision: int
    note: str | None = None
    slot: str | None = strawberry.field(default=None, description=_SLOT)
    shown_ms: int | None = strawberry.field(default=None, description=_SHOWN)


@strawberry.input(description="A value to add to a multi-valued attribute (colour, material).")
class TagValueInput:
    asset_id: strawberry.ID
    attribute: str
    expected_revision: int
    value: str = strawberry.field(description="The taxonomy value id to add")
    note: str | None = None
    shown_ms: int | None = strawberry.field(default=None, description=_SHOWN)


@strawberry.input
class TagCorrectionInput:
    asset_id: strawberry.ID
    attribute: str
    expected_revision: int
    value: str = strawberry.field(description="The taxonomy value id to set")
    note: str | None = None
    shown_ms: int | None = strawberry.field(default=None, description=_SHOWN)


@strawberry.input
class BulkItemInput:
    asset_id: strawberry.ID
    expected_revision: int
    slot: str | None = strawberry.field(default=None, description=_SLOT)


@strawberry.input(description="The same decision on one attribute of many assets.")
class BulkTagDecisionInput:
    attribute: str
    items: list[BulkItemInput]
    value: str | None = strawberry.field(default=None, description="correctTags only")
    note: str | None = None


@strawberry.type(description="The decision was recorded: the asset at its new revision.")
class TagDecision:
    asset: Asset
    revision: int
    event: TagEventRecord


TagDecisionResult = Annotated[
    TagDecision
    | NotFoundError
    | ConflictError
    | InvalidInputError
    | ForbiddenError
    | UnauthenticatedError,
    strawberry.union("TagDecisionResult"),
]


@strawberry.type
class BulkItemResult:
    asset_id: strawberry.ID
    result: TagDecisionResult


@strawberry.type
class BulkTagDecision:
    items: list[BulkItemResult]
    succeeded: int
    failed: int


BulkTagDecisionResult = Annotated[
    BulkTagDecision | InvalidInputError | ForbiddenError | UnauthenticatedError,
    strawberry.union("BulkTagDecisionResult"),
]


def _answer(decided: Decided) -> TagDecision:
    return TagDecision(
        asset=Asset.from_record(decided.asset),
        revision=decided.asset.revision,
        event=TagEventRecord.from_event(decided.event, decided.event.previous_value),
    )


def _decision(
    kind: DecisionKind,
    input: TagDecisionInput | TagCorrectionInput | TagValueInput,
    *,
    slot: str | None = None,
    value: str | None = None,
    add: bool = False,
) -> Decision:
    """A single decision from its input (what every kind takes, and what it adds)."""
    return Decision(
        kind=kind,
        attribute=input.attribute,
        note=input.note,
        shown_ms=input.shown_ms,
        slot=slot,
        value=value,
        add=add,
    )


async def _single(
    info: Info, asset_id: str, expected_revision: int, decision: Decision
) -> TagDecisionResult:
    try:
        principal = info.context.require("reviewer")
        decided = await info.context.runtime.review.decide(
            asset_id, expected_revision, decision, principal.name
        )
    except TagtrailError as exc:
        return error_result(exc, id=asset_id)
    return _answer(decided)


async def confirm_tag(info: Info, input: TagDecisionInput) -> TagDecisionResult:
    return await _single(
        info,
        str(input.asset_id),
        input.expected_revision,
        _decision("confirmed", input, slot=input.slot),
    )


async def reject_tag(info: Info, input: TagDecisionInput) -> TagDecisionResult:
    return await _single(
        info,
        str(input.asset_id),
        input.expected_revision,
        _decision("rejected", input, slot=input.slot),
    )


async def correct_tag(info: Info, input: TagCorrectionInput) -> TagDecisionResult:
    return await _single(
        info,
        str(input.asset_id),
        input.expected_revision,
        _decision("corrected", input, value=input.value),
    )


async def reopen_tag(info: Info, input: TagDecisionInput) -> TagDecisionResult:
    return await _single(
        info,
        str(input.asset_id),
        input.expected_revision,
        _decision("reopened", input, slot=input.slot),
    )


async def add_tag_value(info: Info, input: TagValueInput) -> TagDecisionResult:
    return await _single(
        info,
        str(input.asset_id),
        input.expected_revision,
        _decision("corrected", input, value=input.value, add=True),
    )


async def remove_tag_value(info: Info, input: TagDecisionInput) -> TagDecisionResult:
    if input.slot is None:
        return InvalidInputError(
            message="removeTagValue needs the slot of the value to remove (Tag.slot); "
            "the primary value is rejected with rejectTag",
            field="slot",
        )
    return await _single(
        info,
        str(input.asset_id),
        input.expected_revision,
        _decision("rejected", input, slot=input.slot),
    )


async def _bulk(
    info: Info, input: BulkTagDecisionInput, kind: DecisionKind
) -> BulkTagDecisionResult:
    ctx = info.context
    decision = Decision(kind=kind, attribute=input.attribute, value=input.value, note=input.note)
    items = [(str(i.asset_id), i.expected_revision, i.slot) for i in input.items]
    try:
        principal = ctx.require("reviewer")
        results = await ctx.runtime.review.decide_many(items, decision, principal.name)
    except TagtrailError as exc:
        return error_result(exc)  # type: ignore[return-value]
    out = [
        BulkItemResult(
            asset_id=strawberry.ID(asset_id),
            result=_answer(r) if isinstance(r, Decided) else error_result(r, id=asset_id),
        )
        for (asset_id, _, _), r in zip(items, results, strict=True)
    ]
    ok = sum(isinstance(r, Decided) for r in results)
    return BulkTagDecision(items=out, succeeded=ok, failed=len(out) - ok)


async def confirm_tags(info: Info, input: BulkTagDecisionInput) -> BulkTagDecisionResult:
    return await _bulk(info, input, "confirmed")


async def reject_tags(info: Info, input: BulkTagDecisionInput) -> BulkTagDecisionResult:
    return await _bulk(info, input, "rejected")


async def correct_tags(info: Info, input: BulkTagDecisionInput) -> BulkTagDecisionResult:
    return await _bulk(info, input, "corrected")


async def reopen_tags(info: Info, input: BulkTagDecisionInput) -> BulkTagDecisionResult:
    return await _bulk(info, input, "reopened")
