"""GraphQL schema root (served at /graphql; GraphiQL when TAGTRAIL_DEV is set).

Access: send an API key as ``Authorization: Bearer <key>`` or ``X-API-Key``. Roles:
viewer (search, similarity, review queue, explain), reviewer (+ tag mutations), admin
(+ everything). With TAGTRAIL_DEV=1 and no keys configured, every request acts as the admin
principal "dev". Expected failures are union results; a missing or unknown key on a query
is a GraphQL error with ``extensions.code = UNAUTHENTICATED``; unexpected errors are masked.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from graphql.error import GraphQLError
from strawberry.types import ExecutionContext

from tagtrail import __version__
from tagtrail.api.graphql import audits, explain, retag, review, search, similarity, taxonomy_change
from tagtrail.api.graphql import heads as head_api
from tagtrail.api.graphql import quality as quality_api
from tagtrail.api.graphql import taxonomy as taxonomy_api
from tagtrail.api.graphql.context import Info
from tagtrail.api.graphql.errors import (
    InvalidInputError,
    NotFoundError,
    TagtrailMaskErrors,
    error_result,
    expected_errors,
)
from tagtrail.api.graphql.limits import limit_extensions
from tagtrail.api.graphql.metrics import OperationMetrics
from tagtrail.api.graphql.types import Asset, described
from tagtrail.config import Settings, load_settings
from tagtrail.domain.limits import check_id
from tagtrail.errors import InvalidInput

_ACCESS = (
    " Needs an API key with role {role} (Authorization: Bearer <key> or X-API-Key); "
    'in dev mode without configured keys every caller is the admin "dev".'
)


@strawberry.type
class Health:
    opensearch: bool
    opensearch_version: str | None
    detail: str | None


@strawberry.type
class Whoami:
    name: str
    role: str


AssetResult = Annotated[Asset | NotFoundError | InvalidInputError, strawberry.union("AssetResult")]


@strawberry.type
class Query:
    @described("tagtrail's version")
    def version(self) -> str:
        return __version__

    @described("Whether OpenSearch answers")
    async def health(self, info: Info) -> Health:
        ready = await info.context.runtime.health.readiness()
        return Health(
            opensearch=ready.opensearch_version is not None,
            opensearch_version=ready.opensearch_version,
            detail=ready.reason,
        )

    @described("The caller's principal." + _ACCESS.format(role="viewer"))
    def whoami(self, info: Info) -> Whoami:
        p = info.context.require("viewer")
        return Whoami(name=p.name, role=p.role)

    @described(
        "One asset by id (an empty id is NotFound; one longer than 512 bytes or with "
        "control characters is InvalidInput)." + _ACCESS.format(role="viewer")
    )
    async def asset(self, info: Info, id: strawberry.ID) -> AssetResult:
        info.context.require("viewer")
        if not str(id).strip():
            return NotFoundError(message="id is empty", id=str(id))
        try:
            asset_id = check_id(str(id), "id")
        except InvalidInput as exc:
            return error_result(exc)  # type: ignore[return-value]
        found = await info.context.loaders.assets.load(asset_id)
        if found is None:
            return NotFoundError(message=f"asset {id!r} does not exist", id=str(id))
        return Asset.from_record(found)

    search_assets: search.SearchResult = strawberry.field(
        resolver=search.search_assets,
        description="Faceted search. Filters: AND across fields, OR within one; facets are "
        "multi-select (each facet's counts ignore its own filter). Applied tags only unless "
        "includeSuggested. `text` matches tag labels and synonyms and, when the CLIP model is "
        "available, the text embedding's nearest neighbours (textMode says which)."
        + _ACCESS.format(role="viewer"),
    )
    similar_assets: similarity.SimilarResult = strawberry.field(
        resolver=similarity.similar_assets,
        description="Filtered k-NN by asset, text or uploaded image; the query asset itself "
        "is excluded." + _ACCESS.format(role="viewer"),
    )
    review_queue: review.ReviewQueueResult = strawberry.field(
        resolver=review.review_queue,
        description="Assets with flagged or suggested tags, oldest or least confident first, "
        "filterable like search (filters match applied and suggested values)."
        + _ACCESS.format(role="viewer"),
    )
    explain_tag: explain.ExplainResult = strawberry.field(
        resolver=explain.explain_tag,
        description="Why an asset carries (or lacks) a tag: decision chain, colour evidence, "
        "history and human-confirmed exemplars." + _ACCESS.format(role="viewer"),
    )
    audit_queue: audits.AuditQueueResult = strawberry.field(
        resolver=audits.audit_queue,
        description="Sampled tags of an audit round (tagtrail audit sample) that nobody has "
        "decided yet; answer them with confirmTag (right) or correctTag/rejectTag (wrong)."
        + _ACCESS.format(role="viewer"),
    )
    audit_report: audits.AuditReportResult = strawberry.field(
        resolver=audits.audit_report,
        description="Measured precision of an audit round per attribute × tier × segment "
        "(population-weighted, Wilson 95 % interval, verdict against the target)."
        + _ACCESS.format(role="viewer"),
    )
    taxonomy: taxonomy_api.TaxonomyDescription = strawberry.field(
        resolver=taxonomy_api.taxonomy,
        description="The taxonomy in force: attributes, values with their hierarchy, colour "
        "swatches (a reviewer's type-ahead, facet labels)." + _ACCESS.format(role="viewer"),
    )
    heads: list[head_api.HeadVersion] = strawberry.field(
        resolver=head_api.heads,
        description="Head versions trained from reviewer decisions (newest first), with "
        "champion/challenger flags and their per-segment evaluation against the champion."
        + _ACCESS.format(role="viewer"),
    )
    shadow_report: head_api.ShadowReportResult = strawberry.field(
        resolver=head_api.shadow_report,
        description="Shadow mode: how often a challenger's never-applied proposals agreed "
        "with what reviewers decided, beside the champion (default: the challenger)."
        + _ACCESS.format(role="viewer"),
    )
    head_events: head_api.HeadEventsResult = strawberry.field(
        resolver=head_api.head_events,
        description="Every step of every head version, newest first: trainings, shadowing, "
        "promotions, refusals and why (the retraining cadence's and admins'). `first` is "
        "capped at the page size limit; page on with `after: endCursor`."
        + _ACCESS.format(role="viewer"),
    )
    quality_report: quality_api.QualityReportResult = strawberry.field(
        resolver=quality_api.quality_report,
        description="Governance as outcomes over a window (default: the last 90 days, at most "
        "366): per attribute the machine tiers of the tags first seen each day, the "
        "reliability diagram of the proposals reviewers judged, and the correction rate per "
        "segment with its interval, worst first; filter by attribute and segment."
        + _ACCESS.format(role="viewer"),
    )
    taxonomy_preview: taxonomy_change.TaxonomyPreviewResult = strawberry.field(
        resolver=taxonomy_change.taxonomy_preview,
        description="What moving to the taxonomy folder `directory` (on the server) would "
        "change, per attribute, value and segment, with example assets; writes nothing. "
        "Vanished values need a migrations.yaml entry (InvalidInput names them). Apply with "
        "`tagtrail taxonomy apply`." + _ACCESS.format(role="admin"),
    )
    retag_preview: retag.RetagPreviewResult = strawberry.field(
        resolver=retag.retag_preview,
        description="What re-tagging from stored vectors (tagtrail retag) would change now, "
        "per attribute and segment, with example assets; writes nothing. Run it after "
        "promoteHead, before retag." + _ACCESS.format(role="admin"),
    )


_MUTATION_DOC = (
    " Optimistic: a stale expectedRevision returns Conflict (currentRevision) and "
    "writes nothing. The actor in the audit trail is the API key's name."
    + _ACCESS.format(role="reviewer")
)


@strawberry.type
class Mutation:
    confirm_tag: review.TagDecisionResult = strawberry.field(
        resolver=review.confirm_tag, description="Confirm the current tag." + _MUTATION_DOC
    )
    reject_tag: review.TagDecisionResult = strawberry.field(
        resolver=review.reject_tag, description="Reject the current tag." + _MUTATION_DOC
    )
    correct_tag: review.TagDecisionResult = strawberry.field(
        resolver=review.correct_tag,
        description="Set the tag to another taxonomy value." + _MUTATION_DOC,
    )
    add_tag_value: review.TagDecisionResult = strawberry.field(
        resolver=review.add_tag_value,
        description="Add a value to a multi-valued attribute (colour, material) as a "
        "reviewer's decision; answers the asset with the new tag (its slot)." + _MUTATION_DOC,
    )
    remove_tag_value: review.TagDecisionResult = strawberry.field(
        resolver=review.remove_tag_value,
        description="Remove one further value of a multi-valued attribute (a rejection of "
        "its slot: kept visible as rejected, never deleted)." + _MUTATION_DOC,
    )
    reopen_tag: review.TagDecisionResult = strawberry.field(
        resolver=review.reopen_tag,
        description="Undo: a reviewer's decision is replaced by the machine proposal it "
        "judged (re-expanded under today's taxonomy), pending again if it was pending. A "
        "new event (kind reopened); nothing is deleted, and training no longer counts the "
        "undone decision." + _MUTATION_DOC,
    )
    confirm_tags: review.BulkTagDecisionResult = strawberry.field(
        resolver=review.confirm_tags,
        description="confirmTag over an explicit list; results per item." + _MUTATION_DOC,
    )
    reject_tags: review.BulkTagDecisionResult = strawberry.field(
        resolver=review.reject_tags,
        description="rejectTag over an explicit list; results per item." + _MUTATION_DOC,
    )
    correct_tags: review.BulkTagDecisionResult = strawberry.field(
        resolver=review.correct_tags,
        description="correctTag over an explicit list; results per item." + _MUTATION_DOC,
    )
    reopen_tags: review.BulkTagDecisionResult = strawberry.field(
        resolver=review.reopen_tags,
        description="reopenTag over an explicit list; results per item." + _MUTATION_DOC,
    )
    train_head: head_api.TrainHeadResult = strawberry.field(
        resolver=head_api.train_head,
        description="Train a head for an attribute from every reviewer decision on it, "
        "evaluate it against the champion per segment, store it and make it the challenger."
        + _ACCESS.format(role="admin"),
    )
    promote_head: head_api.PromoteHeadResult = strawberry.field(
        resolver=head_api.promote_head,
        description="Make a head version the champion if the promotion gate agrees "
        "(PromotionRefused names the segments otherwise); force with a note overrides the "
        "gate and records the note. This server uses it at once; other servers when they "
        "next tag after their champion check (at most every TAGTRAIL_HEADS_REFRESH_S)."
        + _ACCESS.format(role="admin"),
    )


class _Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # strawberry logs a traceback per error, expected or not: keep that for the rest.
        super().process_errors(expected_errors(errors), execution_context)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with error masking, cost limits (``settings`` sets the depth limit) and
    latency metrics per operation."""
    settings = settings or load_settings()
    extensions = [OperationMetrics, *limit_extensions(settings), TagtrailMaskErrors]
    return _Schema(query=Query, mutation=Mutation, extensions=extensions)
