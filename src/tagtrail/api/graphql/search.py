"""searchAssets: faceted, filtered, optionally free-text search (buyers and front-ends)."""

from __future__ import annotations

import asyncio
import logging
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from tagtrail.api.graphql.context import Info
from tagtrail.api.graphql.errors import InvalidInputError, error_result
from tagtrail.api.graphql.inputs import AssetFilterInput, FacetRequest, to_facets, to_filter
from tagtrail.api.graphql.pagination import (
    PageInfo,
    check_page_size,
    decode_cursor,
    encode_cursor,
    page,
)
from tagtrail.api.graphql.types import Asset
from tagtrail.errors import InvalidInput, ModelUnavailable
from tagtrail.store import queries as q

if TYPE_CHECKING:
    from tagtrail.tagging.taxonomy import Taxonomy

log = logging.getLogger(__name__)
MAX_TEXT_CHARS = 500
MAX_TEXT_NEIGHBOURS = 1000


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
    if spec.name == "reviewed":
        return set() if ts.reviewed is None else {str(ts.reviewed).lower()}
    return set(getattr(ts, spec.name, ()))


async def text_vector(info: Info, text: str) -> list[float] | None:
    """The CLIP embedding of ``text``; None (lexical only) when the model is unavailable."""
    try:
        encoder = await info.context.services.encoder()
        vectors = await asyncio.to_thread(encoder.encode_text, [text])
    except (ModelUnavailable, ImportError) as exc:
        log.warning("text search without CLIP: %s", exc)
        return None
    return [float(x) for x in vectors[0]]


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
    if not 0 <= text_k <= MAX_TEXT_NEIGHBOURS:
        raise InvalidInput(
            f"textNeighbours must be 0..{MAX_TEXT_NEIGHBOURS}", field="textNeighbours"
        )
    text = (text or "").strip() or None
    if text and len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(f"text is longer than {MAX_TEXT_CHARS} characters", field="text")
    taxonomy = await ctx.services.taxonomy()
    f = to_filter(filter_in, taxonomy)
    specs = to_facets(facets_in, taxonomy)
    sort_name = (sort or (AssetSort.RELEVANCE if text else AssetSort.NEWEST)).value
    search_after = decode_cursor(after, sort_name)
    vector = await text_vector(info, text) if text and text_k else None
    mode = TextMode.NONE if not text else TextMode.HYBRID if vector else TextMode.LEXICAL
    root = "candidates" if include_suggested else "applied"
    body = q.search_body(
        f,
        root=root,
        text=text,
        text_vector=vector,
        text_k=text_k,
        facets=specs,
        size=size + 1,
        sort=sort_name,
        search_after=search_after,
    )
    result: dict[str, Any] = await ctx.services.client.search(
        index=ctx.settings.index_name("assets"), body=body
    )
    hits, has_next = page(result["hits"]["hits"], size)
    edges = [
        AssetEdge(
            cursor=encode_cursor(sort_name, h["sort"]),
            score=h.get("_score"),
            node=Asset.from_source(h["_source"]),
        )
        for h in hits
    ]
    facet_results = q.parse_facets(result.get("aggregations", {}), specs)
    return AssetSearch(
        edges=edges,
        page_info=PageInfo(has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None),
        total_count=result["hits"]["total"]["value"],
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
            for r in facet_results
            for chosen in (_selected(f, r.spec),)
        ],
        text_mode=mode,
    )
