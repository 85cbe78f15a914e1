"""GraphQL schema root. Expected failures are union results; internals are masked."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaskErrors

from tagtrail import __version__
from tagtrail.api.graphql.context import Context
from tagtrail.errors import TagtrailError


@strawberry.type
class Health:
    opensearch: bool
    opensearch_version: str | None
    detail: str | None


@strawberry.type
class Query:
    @strawberry.field(description="tagtrail's version")
    def version(self) -> str:
        return __version__

    @strawberry.field(description="Whether OpenSearch answers")
    async def health(self, info: strawberry.Info[Context, None]) -> Health:
        try:
            meta = await info.context.services.client.info()
        except Exception as exc:
            return Health(opensearch=False, opensearch_version=None, detail=type(exc).__name__)
        return Health(opensearch=True, opensearch_version=meta["version"]["number"], detail=None)


def _should_mask(error: Exception) -> bool:
    original = getattr(error, "original_error", None)
    return not isinstance(original, TagtrailError) and original is not None


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(query=Query, extensions=[MaskErrors(should_mask_error=_should_mask)])
