"""OpenSearch request bodies for search, facets, k-NN and the review queue.

Pure functions from typed filters to request bodies (and from responses back to facets), so
the GraphQL layer and the benchmark send exactly the same requests.

Facets use multi-select semantics: a filter whose dimension is also a requested facet goes
into ``post_filter`` (it narrows the hits, not the aggregations); every facet aggregation is
wrapped in a ``filter`` aggregation holding all the *other* post-filters. So a buyer who
picked black and navy still sees how many grey pieces the rest of the query matches. Filters
without a facet stay in the query, where OpenSearch can cache and skip with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Literal

from tagtrail.domain.filters import (
    HUMAN_DECIDED,
    KEYWORD_FIELDS,
    SOURCE_EXCLUDES,
    TAG_STATE_FIELDS,
    AssetFilter,
    AttributeFilter,
    DateRange,
    DimKey,
    FacetBucket,
    FacetResult,
    FacetSpec,
    IntRange,
    TagStateFilter,
)
from tagtrail.domain.records import HUMAN_STATES

Clause = dict[str, Any]


# -- filters -------------------------------------------------------------------------------
def _range(field: str, r: IntRange | DateRange) -> Clause | None:
    bounds = {k: v for k, v in (("gte", r.gte), ("lte", r.lte)) if v is not None}
    return {"range": {field: bounds}} if bounds else None


#: Painless, on one nested tag: a newer model proposal differs from the human decision.
_DISAGREES = (
    "['confirmed', 'corrected', 'rejected'].contains(doc['tags.state'].value)"
    " && doc['tags.proposed_value'].size() > 0"
    " && (doc['tags.value'].size() == 0"
    " || doc['tags.proposed_value'].value != doc['tags.value'].value)"
)


def disagreement_clause() -> Clause:
    """On one tag (inside ``tags``): the disagreement of ``domain.projection.disagrees``."""
    return {
        "bool": {
            "filter": [
                {"terms": {"tags.state": sorted(HUMAN_STATES)}},
                {"exists": {"field": "tags.proposed_value"}},
                {"script": {"script": {"source": _DISAGREES, "lang": "painless"}}},
            ]
        }
    }


def tag_state_clause(f: TagStateFilter, *, without: str | None = None) -> Clause | None:
    """A nested query: all conditions on the same tag; ``without`` drops one dimension."""
    inner: list[Clause] = []
    must_not: list[Clause] = []
    if f.disagreement is not None and without != "disagreement":
        (inner if f.disagreement else must_not).append(disagreement_clause())
    if f.attribute:
        inner.append({"term": {"tags.attribute": f.attribute}})
    for dim in ("tier", "state", "model_version", "head_version", "source"):
        values = getattr(f, dim)
        if values and dim != without:
            inner.append({"terms": {TAG_STATE_FIELDS[dim]: list(values)}})
    if f.reviewed is not None and without != "reviewed":
        inner.append({"term": {"tags.reviewed": f.reviewed}})
    prob = {
        k: v for k, v in (("gte", f.min_probability), ("lte", f.max_probability)) if v is not None
    }
    if prob:
        inner.append({"range": {"tags.probability": prob}})
    if not must_not and (not inner or (len(inner) == 1 and f.attribute and without is not None)):
        return None  # nothing left but the scope: the facet's own filter, fully removed
    return _on_one_tag({"filter": inner, "must_not": must_not} if must_not else {"filter": inner})


def _on_one_tag(bool_query: Clause) -> Clause:
    return {"nested": {"path": "tags", "query": {"bool": bool_query}}}


def _attribute_clause(f: AttributeFilter, root: str) -> Clause:
    if not f.exact:
        return {"terms": {f"{root}.{f.attribute}": list(f.values)}}
    # Exact: the tag's own value, not its expansions (navy only, not the blue family).
    on_tag: list[Clause] = [
        {"term": {"tags.attribute": f.attribute}},
        {"terms": {"tags.value": list(f.values)}},
    ]
    if root == "applied":
        on_tag.append({"term": {"tags.applied": True}})
    return _on_one_tag({"filter": on_tag, "must_not": [{"term": {"tags.state": "rejected"}}]})


def filter_clauses(f: AssetFilter, root: str = "applied") -> dict[DimKey, Clause]:
    """Each dimension's clause, keyed so facets can leave their own out."""
    out: dict[DimKey, Clause] = {}
    for af in f.attributes:
        if af.values:
            key = ("attribute", af.attribute)
            clause = _attribute_clause(af, root)
            # The same attribute twice (e.g. exact and by family): both must hold.
            out[key] = {"bool": {"filter": [out[key], clause]}} if key in out else clause
    for name in KEYWORD_FIELDS:
        values = getattr(f, name)
        if values:
            out[("field", name)] = {"terms": {name: list(values)}}
    for name, rng in (("season_year", f.season_year), ("shoot_date", f.shoot_date)):
        ranged = _range(name, rng) if rng else None
        if ranged:
            out[("field", name)] = ranged
    nested = tag_state_clause(f.tag_state) if f.tag_state else None
    if nested:
        out[("tag_state", "*")] = nested
    if f.exclude_ids:
        out[("ids", "exclude")] = {"bool": {"must_not": [{"ids": {"values": list(f.exclude_ids)}}]}}
    return out


def filter_query(f: AssetFilter, root: str = "applied") -> Clause:
    clauses = list(filter_clauses(f, root).values())
    return {"bool": {"filter": clauses}} if clauses else {"match_all": {}}


# -- facets --------------------------------------------------------------------------------
def _facet_inner(spec: FacetSpec, root: str) -> Clause:
    if spec.kind == "attribute":
        return {"terms": {"field": f"{root}.{spec.name}", "size": spec.size}}
    if spec.kind == "field":
        return {"terms": {"field": spec.name, "size": spec.size}}
    scope: Clause = {"term": {"tags.attribute": spec.scope}} if spec.scope else {"match_all": {}}
    values: Clause = (
        {"script": {"source": f"({_DISAGREES}) ? 'true' : 'false'", "lang": "painless"}}
        if spec.name == "disagreement"
        else {"field": TAG_STATE_FIELDS[spec.name]}
    )
    # Count assets, not tags: reverse_nested gives the number of parent documents per bucket.
    return {
        "nested": {"path": "tags"},
        "aggs": {
            "scope": {
                "filter": scope,
                "aggs": {
                    "values": {
                        "terms": {**values, "size": spec.size},
                        "aggs": {"assets": {"reverse_nested": {}}},
                    }
                },
            }
        },
    }


def _owned(key: DimKey, facets: Sequence[FacetSpec]) -> bool:
    return any(s.key == key for s in facets) or (
        key == ("tag_state", "*") and any(s.kind == "tag_state" for s in facets)
    )


def _facet_filter(spec: FacetSpec, post: dict[DimKey, Clause], f: AssetFilter) -> list[Clause]:
    others = [c for k, c in post.items() if k != spec.key and k != ("tag_state", "*")]
    if ("tag_state", "*") in post and f.tag_state is not None:
        # A tag-state facet drops only its own dimension from the tag-state filter.
        own = spec.name if spec.kind == "tag_state" else None
        clause = tag_state_clause(f.tag_state, without=own)
        if clause:
            others.append(clause)
    return others


def facet_aggs(
    specs: Sequence[FacetSpec], post: dict[DimKey, Clause], f: AssetFilter, root: str
) -> dict[str, Clause]:
    aggs: dict[str, Clause] = {}
    for spec in specs:
        aggs[spec.agg_name] = {
            "filter": {"bool": {"filter": _facet_filter(spec, post, f)}},
            "aggs": {"facet": _facet_inner(spec, root)},
        }
    return aggs


def parse_facets(aggregations: dict[str, Any], specs: Sequence[FacetSpec]) -> list[FacetResult]:
    results = []
    for spec in specs:
        agg = aggregations[spec.agg_name]["facet"]
        if spec.kind == "tag_state":
            raw = agg["scope"]["values"]["buckets"]
            buckets = [
                FacetBucket(
                    value=str(b.get("key_as_string", b["key"])), count=b["assets"]["doc_count"]
                )
                for b in raw
            ]
            buckets.sort(key=lambda b: (-b.count, b.value))  # tag counts ≠ asset counts
        else:
            buckets = [
                FacetBucket(value=str(b.get("key_as_string", b["key"])), count=b["doc_count"])
                for b in agg["buckets"]
            ]
        results.append(FacetResult(spec=spec, buckets=tuple(buckets)))
    return results


# -- k-NN ----------------------------------------------------------------------------------
def knn_clause(
    vector: Sequence[float], k: int, filter_: Clause | None = None, ef_search: int | None = None
) -> Clause:
    """Lucene HNSW with the filter *inside*: efficient filtering returns k when k exist."""
    body: dict[str, Any] = {"vector": [float(x) for x in vector], "k": k}
    if filter_ is not None and filter_ != {"match_all": {}}:
        body["filter"] = filter_
    if ef_search:
        body["method_parameters"] = {"ef_search": max(ef_search, k)}
    return {"knn": {"vector": body}}


def knn_body(
    vector: Sequence[float],
    k: int,
    f: AssetFilter,
    *,
    root: str = "applied",
    min_score: float | None = None,
    ef_search: int | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "size": k,
        "query": knn_clause(vector, k, filter_query(f, root), ef_search),
        "_source": {"excludes": SOURCE_EXCLUDES},
        "track_total_hits": False,
    }
    if min_score is not None:
        body["min_score"] = min_score
    return body


def exemplar_filter(attribute: str, exclude_id: str) -> AssetFilter:
    """Assets whose value for ``attribute`` a human confirmed or corrected."""
    return AssetFilter(
        tag_state=TagStateFilter(attribute=attribute, state=HUMAN_DECIDED),
        exclude_ids=(exclude_id,),
    )


# -- search --------------------------------------------------------------------------------
SortName = Literal["relevance", "newest", "oldest", "shoot_date_desc", "shoot_date_asc", "sku"]
_SORTS: Final[dict[str, list[Clause]]] = {
    "relevance": [{"_score": "desc"}],
    "newest": [{"ingested_at": {"order": "desc", "missing": "_last"}}],
    "oldest": [{"ingested_at": {"order": "asc", "missing": "_last"}}],
    "shoot_date_desc": [{"shoot_date": {"order": "desc", "missing": "_last"}}],
    "shoot_date_asc": [{"shoot_date": {"order": "asc", "missing": "_last"}}],
    "sku": [{"sku": {"order": "asc", "missing": "_last"}}],
}
TIEBREAK: Final[Clause] = {"asset_id": "asc"}  # unique, so search_after pages are stable

#: What each sort's hit values are (search sorts, then review orders), so that a crafted
#: ``search_after`` is refused before OpenSearch tries to parse it: dates are epoch millis
#: (missing ones: the long extremes), scores and probabilities numbers, keywords strings or
#: null (a missing sku).
SortKind = Literal["date", "number", "keyword"]
SORT_VALUE_KINDS: Final[dict[str, tuple[SortKind, ...]]] = {
    "relevance": ("number", "keyword"),
    "newest": ("date", "keyword"),
    "oldest": ("date", "keyword"),
    "shoot_date_desc": ("date", "keyword"),
    "shoot_date_asc": ("date", "keyword"),
    "sku": ("keyword", "keyword"),
    "oldest_first": ("date", "keyword"),
    "lowest_confidence_first": ("number", "date", "keyword"),
    "uncertainty_first": ("number", "date", "keyword"),
    "expected_value_first": ("number", "date", "keyword"),
    "holdout": ("number", "keyword"),  # the hold-out queue (store.holdout)
}


def _fits(kind: SortKind, value: object) -> bool:
    if kind == "keyword":
        return value is None or isinstance(value, str)
    if isinstance(value, bool):
        return False
    return isinstance(value, int) if kind == "date" else isinstance(value, int | float)


def search_after_fits(sort: str, values: Sequence[object]) -> bool:
    """Whether ``values`` could be a hit's sort values under ``sort``."""
    kinds = SORT_VALUE_KINDS.get(sort)
    return (
        kinds is not None
        and len(values) == len(kinds)
        and all(_fits(k, v) for k, v in zip(kinds, values, strict=True))
    )


def search_body(
    f: AssetFilter,
    *,
    root: str = "applied",
    text: str | None = None,
    text_vector: Sequence[float] | None = None,
    text_k: int = 100,
    facets: Sequence[FacetSpec] = (),
    size: int = 20,
    sort: str = "relevance",
    search_after: list[Any] | None = None,
) -> dict[str, Any]:
    """One request: hits, total and multi-select facets over the same result set."""
    clauses = filter_clauses(f, root)
    post = {k: c for k, c in clauses.items() if _owned(k, facets)}
    base = [c for k, c in clauses.items() if k not in post]
    query: Clause = {"bool": {"filter": base}} if base else {"match_all": {}}
    if text:
        field = "tag_text" if root == "applied" else "tag_text_all"
        should: list[Clause] = [{"match": {field: {"query": text}}}]
        if text_vector is not None and text_k > 0:
            # The CLIP neighbours are taken among assets passing *every* filter (inside the
            # k-NN), so none of the k is wasted on a hit the post_filter drops; the price is
            # that unselected facet values count lexical matches only.
            should.append(knn_clause(text_vector, text_k, filter_query(f, root)))
        query = {"bool": {"filter": base, "should": should, "minimum_should_match": 1}}
    body: dict[str, Any] = {
        "size": size,
        "query": query,
        "track_total_hits": True,
        "sort": [*_SORTS[sort], TIEBREAK],
        "_source": {"excludes": SOURCE_EXCLUDES},
    }
    if post:
        body["post_filter"] = {"bool": {"filter": list(post.values())}}
    if facets:
        body["aggs"] = facet_aggs(facets, post, f, root)
    if search_after is not None:
        body["search_after"] = search_after
    return body
