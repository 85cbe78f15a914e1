"""searchAssets: faceted, filtered, optionally free-text search (buyers and front-ends)."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from tagtrail.api.graphql.context import Info
from tagtrail.api.graphql.errors import InvalidInputError, error_result
from tagtrail.api.graphql.inputs import AssetFilterInput, FacetRequest, to_facets, to_filter
from tagtrail.api.graphql.pagination import (
    PageInfo,
    check_page_size,
    decode_cursor,
    encode_cursor,
)
from tagtrail.api.graphql.types import Asset
from tagtrail.domain import filters as q
from tagtrail.errors import InvalidInput
from tagtrail.usecases.search import SearchRequest, check_text

if TYPE_CHECKING:
    from tagtrail.domain.taxonomy import Taxonomy


@strawberry.enum
class AssetSort(Enum):
    RELEVANCE = "relevance"
    NEWEST = "newest"
    OLDEST = "oldest"
    SHOOT_DATE_DESC = "shoot_date_desc"
    SHOOT_DATE_ASC = "shoot_date_asc"
    SKU = "sku"


@strawberry.enum(
    description="How `text` was matched: LEXICAL (tag labels and synonyms) or "
    "HYBRID (also the CLIP text embedding's nearest neighbours)."
)
class TextMode(Enum):
    NONE = "none"
    LEXICAL = "lexical"
    HYBRID = "hybrid"


@strawberry.type
class AssetEdge:
    cursor: str
    score: float | None
    node: Asset


@strawberry.type
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool


@strawberry.type(
    description="Counts apply every filter except this facet's own "
    "(multi-select): picking black still shows how many navy pieces match."
)
class Facet:
    kind: str = strawberry.field(description="attribute, field or tag_state")
    name: str
    tag_attribute: str | None
    values: list[FacetValue]


@strawberry.type
class AssetSearch:
    edges: list[AssetEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Assets matching every filter")
    facets: list[Facet]
    text_mode: TextMode


SearchResult = Annotated[AssetSearch | InvalidInputError, strawberry.union("SearchResult")]


def facet_label(taxonomy: Taxonomy, spec: q.FacetSpec, value: str) -> str:
    if spec.kind != "attribute":
        return value
    found = taxonomy.value(spec.name, value)
    if found is not None:
        return found.label
    return value.replace("_", " ").capitalize()  # a colour family or a retired value


def _selected(f: q.AssetFilter, spec: q.FacetSpec) -> set[str]:
    if spec.kind == "attribute":
        return {v for a in f.attributes if a.attribute == spec.name for v in a.values}
    if spec.kind == "field":
        values = getattr(f, spec.name, ())
        return set(map(str, values)) if isinstance(values, tuple) else set()
    ts = f.tag_state
    if ts is None:
        return set()
    if spec.name in ("reviewed", "disagreement"):
        chosen = getattr(ts, spec.name)
        return set() if chosen is None else {str(chosen).lower()}
    return set(getattr(ts, spec.name, ()))


async def search_assets(
    info: Info,
    filter: AssetFilterInput | None = None,
    text: str | None = None,
    facets: list[FacetRequest] | None = None,
    include_suggested: Annotated[
        bool, strawberry.argument(description="Match suggestions too (default: applied tags only)")
    ] = False,
    first: int = 20,
    after: str | None = None,
    sort: AssetSort | None = None,
    text_neighbours: Annotated[
        int,
        strawberry.argument(
            description="How many CLIP nearest neighbours `text` adds (0: lexical only)"
        ),
    ] = 100,
) -> SearchResult:
    info.context.require("viewer")
    try:
        return await _search(
            info, filter, text, facets, include_suggested, first, after, sort, text_neighbours
        )
    except InvalidInput as exc:
        return error_result(exc)  # type: ignore[return-value]


async def _search(
    info: Info,
    filter_in: AssetFilterInput | None,
    text: str | None,
    facets_in: list[FacetRequest] | None,
    include_suggested: bool,
    first: int,
    after: str | None,
    sort: AssetSort | None,
    text_k: int,
) -> AssetSearch:
    ctx = info.context
    size = check_page_size(first, ctx.settings.max_page_size)
    text = check_text(text)
    taxonomy = await ctx.runtime.taxonomy.current()
    f = to_filter(filter_in, taxonomy)
    specs = to_facets(facets_in, taxonomy)
    sort_name = (sort or (AssetSort.RELEVANCE if text else AssetSort.NEWEST)).value
    request = SearchRequest(
        filter=f,
        facets=tuple(specs),
        text=text,
        text_neighbours=text_k,
        include_suggested=include_suggested,
        size=size,
        sort=sort_name,
        search_after=decode_cursor(after, sort_name),
    )
    found = await ctx.runtime.search.search(request)
    edges = [
        AssetEdge(
            cursor=encode_cursor(sort_name, list(h.sort)),
            score=h.score,
            node=Asset.from_record(h.asset),
        )
        for h in found.hits
    ]
    return AssetSearch(
        edges=edges,
        page_info=PageInfo(
            has_next_page=found.has_next, end_cursor=edges[-1].cursor if edges else None
        ),
        total_count=found.total,
        facets=[
            Facet(
                kind=r.spec.kind,
                name=r.spec.name,
                tag_attribute=r.spec.scope,
                values=[
                    FacetValue(
                        value=b.value,
                        label=facet_label(taxonomy, r.spec, b.value),
                        count=b.count,
                        selected=b.value in chosen,
                    )
                    for b in r.buckets
                ],
            )
            for r in found.facets
            for chosen in (_selected(f, r.spec),)
        ],
        text_mode=TextMode(found.text_mode),
    )
