"""The review queue and the reviewer's mutations (confirm, reject, correct; single and bulk).

Every mutation is optimistic: the caller sends the asset revision it decided on; a stale
one returns ``Conflict`` with ``currentRevision`` and writes nothing. Bulk forms take an
explicit list of ``{assetId, expectedRevision}`` (bounded by TAGTRAIL_MAX_BULK_ASSETS) and
answer per item — some items may succeed while others conflict; none is silently dropped.
"""

from __future__ import annotations

import asyncio
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
    page,
)
from tagtrail.api.graphql.types import Asset, Tag, TagEventRecord
from tagtrail.errors import Conflict, InvalidInput, TagtrailError
from tagtrail.store import queries as q
from tagtrail.tagging.review import Decision, DecisionKind, build_decision

BULK_CONCURRENCY = 8


# -- queue ---------------------------------------------------------------------------------
@strawberry.enum
class ReviewOrder(Enum):
    OLDEST_FIRST = "oldest_first"
    LOWEST_CONFIDENCE_FIRST = "lowest_confidence_first"


@strawberry.type
class ReviewItem:
    cursor: str
    asset: Asset
    pending_tags: list[Tag] = strawberry.field(
        description="Flagged tags and suggestions of the requested attributes"
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
) -> ReviewQueueResult:
    ctx = info.context
    ctx.require("viewer")
    try:
        size = check_page_size(first, ctx.settings.max_page_size)
        taxonomy = await ctx.services.taxonomy()
        for name in attributes or ():
            taxonomy.attribute(name)
        f = to_filter(filter, taxonomy)
        search_after = decode_cursor(after, order.value)
        body = q.review_body(
            f,
            attributes or (),
            order=order.value,
            size=size + 1,
            search_after=search_after,
        )
    except InvalidInput as exc:
        return error_result(exc)  # type: ignore[return-value]
    result = await ctx.services.client.search(index=ctx.settings.index_name("assets"), body=body)
    hits, has_next = page(result["hits"]["hits"], size)
    items = []
    for h in hits:
        asset = Asset.from_source(h["_source"])
        items.append(
            ReviewItem(
                cursor=encode_cursor(order.value, h["sort"]),
                asset=asset,
                pending_tags=asset.pending_tags(attributes),
            )
        )
    return ReviewQueue(
        items=items,
        total_count=result["hits"]["total"]["value"],
        page_info=PageInfo(has_next_page=has_next, end_cursor=items[-1].cursor if items else None),
    )


# -- mutations -----------------------------------------------------------------------------
@strawberry.input
class TagDecisionInput:
    asset_id: strawberry.ID
    attribute: str
    expected_revision: int
    note: str | None = None


@strawberry.input
class TagCorrectionInput:
    asset_id: strawberry.ID
    attribute: str
    expected_revision: int
    value: str = strawberry.field(description="The taxonomy value id to set")
    note: str | None = None


@strawberry.input
class BulkItemInput:
    asset_id: strawberry.ID
    expected_revision: int


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


async def _decide(
    info: Info, asset_id: str, expected_revision: int, decision: Decision, *, refresh: bool
) -> TagDecision:
    ctx = info.context
    principal = ctx.require("reviewer")
    store = ctx.store
    stored = await store.get(asset_id)
    if stored.revision != expected_revision:
        raise Conflict(
            f"asset {asset_id!r} is at revision {stored.revision}, not "
            f"{expected_revision}; reload it and decide again",
            current_revision=stored.revision,
        )
    event = build_decision(
        decision,
        asset_id=asset_id,
        source=stored.source,
        revision=stored.revision,
        actor_id=principal.name,
        taxonomy=await ctx.services.taxonomy(),
    )
    try:
        source = await store.apply(asset_id, expected_revision, [event], refresh=refresh)
    except Conflict as exc:
        # Lost the race for this revision: report where the asset is now.
        current = (await store.get(asset_id)).revision
        raise Conflict(exc.message, current_revision=current) from exc
    source.pop("vector", None)
    return TagDecision(
        asset=Asset.from_source(source),
        revision=int(source["revision"]),
        event=TagEventRecord.from_event(event, event.previous_value),
    )


async def _single(
    info: Info, asset_id: str, expected_revision: int, decision: Decision
) -> TagDecisionResult:
    try:
        return await _decide(info, asset_id, expected_revision, decision, refresh=True)
    except TagtrailError as exc:
        return error_result(exc, id=asset_id)


async def confirm_tag(info: Info, input: TagDecisionInput) -> TagDecisionResult:
    return await _single(
        info,
        str(input.asset_id),
        input.expected_revision,
        Decision(kind="confirmed", attribute=input.attribute, note=input.note),
    )


async def reject_tag(info: Info, input: TagDecisionInput) -> TagDecisionResult:
    return await _single(
        info,
        str(input.asset_id),
        input.expected_revision,
        Decision(kind="rejected", attribute=input.attribute, note=input.note),
    )


async def correct_tag(info: Info, input: TagCorrectionInput) -> TagDecisionResult:
    return await _single(
        info,
        str(input.asset_id),
        input.expected_revision,
        Decision(kind="corrected", attribute=input.attribute, value=input.value, note=input.note),
    )


async def _bulk(
    info: Info, input: BulkTagDecisionInput, kind: DecisionKind
) -> BulkTagDecisionResult:
    ctx = info.context
    try:
        ctx.require("reviewer")
        limit = ctx.settings.max_bulk_assets
        if not 1 <= len(input.items) <= limit:
            raise InvalidInput(
                f"items must hold 1..{limit} assets (TAGTRAIL_MAX_BULK_ASSETS)", field="items"
            )
        ids = [str(i.asset_id) for i in input.items]
        if len(set(ids)) != len(ids):
            raise InvalidInput("an asset appears twice in items", field="items")
    except TagtrailError as exc:
        return error_result(exc)  # type: ignore[return-value]
    decision = Decision(kind=kind, attribute=input.attribute, value=input.value, note=input.note)
    gate = asyncio.Semaphore(BULK_CONCURRENCY)

    async def one(item: BulkItemInput) -> BulkItemResult:
        async with gate:
            try:
                result: TagDecisionResult = await _decide(
                    info, str(item.asset_id), item.expected_revision, decision, refresh=False
                )
            except TagtrailError as exc:
                result = error_result(exc, id=str(item.asset_id))
        return BulkItemResult(asset_id=item.asset_id, result=result)

    results = await asyncio.gather(*(one(i) for i in input.items))
    # One refresh for the batch instead of one per asset: the queue sees all of it at once.
    await ctx.services.client.indices.refresh(index=ctx.settings.index_name("assets"))
    ok = sum(isinstance(r.result, TagDecision) for r in results)
    return BulkTagDecision(items=results, succeeded=ok, failed=len(results) - ok)


async def confirm_tags(info: Info, input: BulkTagDecisionInput) -> BulkTagDecisionResult:
    return await _bulk(info, input, "confirmed")


async def reject_tags(info: Info, input: BulkTagDecisionInput) -> BulkTagDecisionResult:
    return await _bulk(info, input, "rejected")


async def correct_tags(info: Info, input: BulkTagDecisionInput) -> BulkTagDecisionResult:
    return await _bulk(info, input, "corrected")
