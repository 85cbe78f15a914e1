"""Input types shared by search, similarity and the review queue, and their validation.

GraphQL inputs are converted to the store's typed filters (``store.queries``) here, once,
checking attribute names against the taxonomy: an unknown attribute is an InvalidInput
naming the field, not an empty result that looks like "no such products".
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

import strawberry

from tagtrail.domain import filters as q
from tagtrail.errors import InvalidInput

if TYPE_CHECKING:
    from tagtrail.domain.taxonomy import Taxonomy


@strawberry.input(
    description="Match any of `values` (OR). By default a value matches its "
    "descendants and colour families match their colours (filtering outerwear "
    "finds peacoats; black finds charcoal if it rolls up to black); with "
    "exact: true only tags whose own value is listed match."
)
class AttributeFilterInput:
    attribute: str
    values: list[str]
    exact: bool = False


@strawberry.input
class IntRangeInput:
    gte: int | None = None
    lte: int | None = None


@strawberry.input(description='ISO dates or OpenSearch date math, e.g. gte: "now-3y/y".')
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
    source: list[str] | None = None
    min_probability: float | None = None
    max_probability: float | None = None


@strawberry.input(description="AND across fields, OR within a list.")
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
    SOURCE = "source"


@strawberry.input(
    description="Exactly one of attribute, field or tagState. Tag-state facets "
    "count assets per tier/state/...; `tagAttribute` limits them to one attribute."
)
class FacetRequest:
    attribute: str | None = None
    field: MetadataField | None = None
    tag_state: TagStateField | None = None
    tag_attribute: str | None = None
    size: int = 20


MAX_FACET_SIZE = 200
MAX_FACETS = 20


def _tuple(values: list[str] | None) -> tuple[str, ...]:
    return tuple(values or ())


def _check_attribute(taxonomy: Taxonomy, name: str, field: str) -> str:
    if name not in taxonomy.attribute_names:
        raise InvalidInput(
            f"unknown attribute {name!r}; known: {', '.join(taxonomy.attribute_names)}", field=field
        )
    return name


def to_filter(
    f: AssetFilterInput | None, taxonomy: Taxonomy, *, exclude_ids: tuple[str, ...] = ()
) -> q.AssetFilter:
    if f is None:
        return q.AssetFilter(exclude_ids=exclude_ids)
    attributes = tuple(
        q.AttributeFilter(
            attribute=_check_attribute(taxonomy, a.attribute, "filter.tags"),
            values=tuple(a.values),
            exact=a.exact,
        )
        for a in f.tags or ()
    )
    ts = f.tag_state
    tag_state = None
    if ts is not None:
        if ts.attribute:
            _check_attribute(taxonomy, ts.attribute, "filter.tagState.attribute")
        tag_state = q.TagStateFilter(
            attribute=ts.attribute,
            tier=tuple(t.value for t in ts.tier or ()),
            state=tuple(s.value for s in ts.state or ()),
            reviewed=ts.reviewed,
            model_version=_tuple(ts.model_version),
            source=_tuple(ts.source),
            min_probability=ts.min_probability,
            max_probability=ts.max_probability,
        )
    return q.AssetFilter(
        attributes=attributes,
        brand=_tuple(f.brand),
        collection=_tuple(f.collection),
        season=_tuple(f.season),
        sku=_tuple(f.sku),
        photographer=_tuple(f.photographer),
        season_year=q.IntRange(gte=f.season_year.gte, lte=f.season_year.lte)
        if f.season_year
        else None,
        shoot_date=q.DateRange(gte=f.shoot_date.gte, lte=f.shoot_date.lte)
        if f.shoot_date
        else None,
        tag_state=tag_state,
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
            spec = q.FacetSpec(
                kind="attribute",
                size=r.size,
                name=_check_attribute(taxonomy, r.attribute, "facets.attribute"),
            )
        elif r.field is not None:
            spec = q.FacetSpec(kind="field", name=r.field.value, size=r.size)
        else:
            assert r.tag_state is not None
            if r.tag_attribute:
                _check_attribute(taxonomy, r.tag_attribute, "facets.tagAttribute")
            spec = q.FacetSpec(
                kind="tag_state", name=r.tag_state.value, scope=r.tag_attribute, size=r.size
            )
        if any(s.agg_name == spec.agg_name for s in specs):
            raise InvalidInput("the same facet is requested twice", field="facets")
        specs.append(spec)
    return specs
