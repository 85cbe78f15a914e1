"""Input types shared by search, similarity and the review queue, and their validation.

GraphQL inputs are converted to the store's typed filters (``store.queries``) here, once,
checking attribute names against the taxonomy: an unknown attribute is an InvalidInput
naming the field, not an empty result that looks like "no such products". Lists, strings,
dates and ranges are checked against the caps of :mod:`tagtrail.domain.limits` here too,
so nothing OpenSearch would refuse ever reaches it.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

import strawberry

from tagtrail.domain import filters as q
from tagtrail.domain.limits import (
    MAX_ATTRIBUTE_FILTERS,
    MAX_FACET_SIZE,
    MAX_FACETS,
    MAX_FILTER_VALUES,
    check_date_range,
    check_int_range,
    check_value,
    check_values,
    shorten,
)
from tagtrail.errors import InvalidInput

if TYPE_CHECKING:
    from tagtrail.domain.taxonomy import Taxonomy


@strawberry.input(
    description="Match any of `values` (OR). By default a value matches its "
    "descendants and colour families match their colours (filtering outerwear "
    "finds peacoats; black finds charcoal if it rolls up to black); with "
    f"exact: true only tags whose own value is listed match. At most {MAX_FILTER_VALUES} "
    "values."
)
class AttributeFilterInput:
    attribute: str
    values: list[str]
    exact: bool = False


@strawberry.input
class IntRangeInput:
    gte: int | None = None
    lte: int | None = None


@strawberry.input(
    description="ISO dates or datetimes (2024-05, 2024-05-01, 2024-05-01T10:00:00Z) or "
    "OpenSearch date math (now-3y/y, 2024-01-01||+1M/d); gte must not be after lte."
)
class DateRangeInput:
    gte: str | None = None
    lte: str | None = None


@strawberry.enum
class TagTier(Enum):
    AUTO_APPLIED = "auto_applied"
    FLAGGED = "flagged"
    SUGGESTED = "suggested"


@strawberry.enum
class TagState(Enum):
    AUTO_APPLIED = "auto_applied"
    FLAGGED = "flagged"
    SUGGESTED = "suggested"
    CONFIRMED = "confirmed"
    CORRECTED = "corrected"
    REJECTED = "rejected"


@strawberry.input(description="Conditions on one and the same tag (of `attribute`, if set).")
class TagStateFilterInput:
    attribute: str | None = None
    tier: list[TagTier] | None = None
    state: list[TagState] | None = None
    reviewed: bool | None = None
    model_version: list[str] | None = None
    head_version: list[str] | None = strawberry.field(
        default=None, description="The head that made the tag (zero-shot@…, tuned:…)"
    )
    source: list[str] | None = None
    min_probability: float | None = None
    max_probability: float | None = None
    disagreement: bool | None = strawberry.field(
        default=None,
        description="true: a newer model's proposal (proposedValue) differs from the human "
        "decision in force (confirmed, corrected or rejected); false: no such disagreement",
    )


@strawberry.input(
    description=f"AND across fields, OR within a list. At most {MAX_ATTRIBUTE_FILTERS} "
    f"tag filters and {MAX_FILTER_VALUES} values per list."
)
class AssetFilterInput:
    tags: list[AttributeFilterInput] | None = None
    brand: list[str] | None = None
    collection: list[str] | None = None
    season: list[str] | None = strawberry.field(default=None, description="SS or FW")
    season_year: IntRangeInput | None = None
    shoot_date: DateRangeInput | None = None
    photographer: list[str] | None = None
    sku: list[str] | None = None
    tag_state: TagStateFilterInput | None = None


@strawberry.enum
class MetadataField(Enum):
    BRAND = "brand"
    COLLECTION = "collection"
    SEASON = "season"
    SEASON_YEAR = "season_year"
    PHOTOGRAPHER = "photographer"


@strawberry.enum
class TagStateField(Enum):
    TIER = "tier"
    STATE = "state"
    REVIEWED = "reviewed"
    MODEL_VERSION = "model_version"
    HEAD_VERSION = "head_version"
    SOURCE = "source"
    DISAGREEMENT = "disagreement"


@strawberry.input(
    description="Exactly one of attribute, field or tagState. Tag-state facets "
    "count assets per tier/state/...; `tagAttribute` limits them to one attribute. "
    f"At most {MAX_FACETS} facets, each of size 1..{MAX_FACET_SIZE}."
)
class FacetRequest:
    attribute: str | None = None
    field: MetadataField | None = None
    tag_state: TagStateField | None = None
    tag_attribute: str | None = None
    size: int = 20


def _check_attribute(taxonomy: Taxonomy, name: str, field: str) -> str:
    if name not in taxonomy.attribute_names:
        raise InvalidInput(
            f"unknown attribute {shorten(name)!r}; known: {', '.join(taxonomy.attribute_names)}",
            field=field,
        )
    return name


def _tag_state(ts: TagStateFilterInput, taxonomy: Taxonomy) -> q.TagStateFilter:
    field = "filter.tagState"
    if ts.attribute:
        _check_attribute(taxonomy, ts.attribute, f"{field}.attribute")
    low, high = ts.min_probability, ts.max_probability
    for name, bound in (("minProbability", low), ("maxProbability", high)):
        if bound is not None and not 0.0 <= bound <= 1.0:
            raise InvalidInput(f"{field}.{name} must be within [0, 1]", field=f"{field}.{name}")
    if low is not None and high is not None and low > high:
        raise InvalidInput(f"{field}: minProbability is above maxProbability", field=field)
    return q.TagStateFilter(
        attribute=ts.attribute,
        tier=tuple(t.value for t in ts.tier or ()),
        state=tuple(s.value for s in ts.state or ()),
        reviewed=ts.reviewed,
        model_version=check_values(ts.model_version, f"{field}.modelVersion"),
        head_version=check_values(ts.head_version, f"{field}.headVersion"),
        source=check_values(ts.source, f"{field}.source"),
        min_probability=low,
        max_probability=high,
        disagreement=ts.disagreement,
    )


def to_filter(
    f: AssetFilterInput | None, taxonomy: Taxonomy, *, exclude_ids: tuple[str, ...] = ()
) -> q.AssetFilter:
    if f is None:
        return q.AssetFilter(exclude_ids=exclude_ids)
    if len(f.tags or ()) > MAX_ATTRIBUTE_FILTERS:
        raise InvalidInput(
            f"filter.tags takes at most {MAX_ATTRIBUTE_FILTERS} attribute filters",
            field="filter.tags",
        )
    attributes = tuple(
        q.AttributeFilter(
            attribute=_check_attribute(
                taxonomy, check_value(a.attribute, "filter.tags.attribute"), "filter.tags"
            ),
            values=check_values(a.values, "filter.tags.values"),
            exact=a.exact,
        )
        for a in f.tags or ()
    )
    season_year = shoot_date = None
    if f.season_year:
        check_int_range(f.season_year.gte, f.season_year.lte, "filter.seasonYear")
        season_year = q.IntRange(gte=f.season_year.gte, lte=f.season_year.lte)
    if f.shoot_date:
        check_date_range(f.shoot_date.gte, f.shoot_date.lte, "filter.shootDate")
        shoot_date = q.DateRange(gte=f.shoot_date.gte, lte=f.shoot_date.lte)
    return q.AssetFilter(
        attributes=attributes,
        brand=check_values(f.brand, "filter.brand"),
        collection=check_values(f.collection, "filter.collection"),
        season=check_values(f.season, "filter.season"),
        sku=check_values(f.sku, "filter.sku"),
        photographer=check_values(f.photographer, "filter.photographer"),
        season_year=season_year,
        shoot_date=shoot_date,
        tag_state=_tag_state(f.tag_state, taxonomy) if f.tag_state is not None else None,
        exclude_ids=exclude_ids,
    )


def to_facets(requests: list[FacetRequest] | None, taxonomy: Taxonomy) -> list[q.FacetSpec]:
    specs: list[q.FacetSpec] = []
    if len(requests or ()) > MAX_FACETS:
        raise InvalidInput(f"at most {MAX_FACETS} facets per query", field="facets")
    for r in requests or ():
        chosen = [x for x in (r.attribute, r.field, r.tag_state) if x is not None]
        if len(chosen) != 1:
            raise InvalidInput(
                "a facet needs exactly one of attribute, field or tagState", field="facets"
            )
        if not 1 <= r.size <= MAX_FACET_SIZE:
            raise InvalidInput(f"facet size must be 1..{MAX_FACET_SIZE}", field="facets.size")
        if r.attribute is not None:
            name = check_value(r.attribute, "facets.attribute")
            spec = q.FacetSpec(
                kind="attribute",
                size=r.size,
                name=_check_attribute(taxonomy, name, "facets.attribute"),
            )
        elif r.field is not None:
            spec = q.FacetSpec(kind="field", name=r.field.value, size=r.size)
        else:
            assert r.tag_state is not None
            if r.tag_attribute:
                name = check_value(r.tag_attribute, "facets.tagAttribute")
                _check_attribute(taxonomy, name, "facets.tagAttribute")
            spec = q.FacetSpec(
                kind="tag_state", name=r.tag_state.value, scope=r.tag_attribute, size=r.size
            )
        if any(s.agg_name == spec.agg_name for s in specs):
            raise InvalidInput("the same facet is requested twice", field="facets")
        specs.append(spec)
    return specs
