"""What a search asks for: typed filters and facet requests, and facet results.

Pure data, shared by the API (which builds them from GraphQL inputs), the use cases and the
store (which turns them into OpenSearch request bodies).
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

DimKey = tuple[str, str]  # ("attribute", "colour"), ("field", "brand"), ("tag_state", "tier")

#: Asset metadata fields that can be filtered by exact value and faceted.
KEYWORD_FIELDS: Final = ("brand", "collection", "season", "sku", "photographer")
FACET_FIELDS: Final = ("brand", "collection", "season", "season_year", "photographer")
#: Tag-state dimensions (fields of the nested ``tags``) that can be filtered and faceted.
TAG_STATE_FIELDS: Final = {
    "tier": "tags.tier",
    "state": "tags.state",
    "reviewed": "tags.reviewed",
    "model_version": "tags.model_version",
    "head_version": "tags.head_version",
    "source": "tags.source",
}
HUMAN_DECIDED: Final = ("confirmed", "corrected")
SOURCE_EXCLUDES: Final = ["vector"]  # vectors never travel unless asked for explicitly


class IntRange(msgspec.Struct, kw_only=True, frozen=True):
    gte: int | None = None
    lte: int | None = None


class DateRange(msgspec.Struct, kw_only=True, frozen=True):
    gte: str | None = None  # ISO dates or OpenSearch date math ("now-3y/y")
    lte: str | None = None


class AttributeFilter(msgspec.Struct, kw_only=True, frozen=True):
    """OR over ``values``. Non-exact matches expanded values (ancestors, colour families)."""

    attribute: str
    values: tuple[str, ...]
    exact: bool = False


class TagStateFilter(msgspec.Struct, kw_only=True, frozen=True):
    """Conditions that must hold on one and the same tag (a nested query)."""

    attribute: str | None = None
    tier: tuple[str, ...] = ()
    state: tuple[str, ...] = ()
    reviewed: bool | None = None
    model_version: tuple[str, ...] = ()
    head_version: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    min_probability: float | None = None
    max_probability: float | None = None
    #: True: a newer model's proposal differs from the human decision in force on the tag
    #: (see ``domain.projection.disagrees``); False: tags without such a disagreement.
    disagreement: bool | None = None


class AssetFilter(msgspec.Struct, kw_only=True, frozen=True):
    attributes: tuple[AttributeFilter, ...] = ()
    brand: tuple[str, ...] = ()
    collection: tuple[str, ...] = ()
    season: tuple[str, ...] = ()
    sku: tuple[str, ...] = ()
    photographer: tuple[str, ...] = ()
    season_year: IntRange | None = None
    shoot_date: DateRange | None = None
    tag_state: TagStateFilter | None = None
    exclude_ids: tuple[str, ...] = ()


FacetKind = Literal["attribute", "field", "tag_state"]


class FacetSpec(msgspec.Struct, kw_only=True, frozen=True):
    kind: FacetKind
    name: str  # attribute name, metadata field, or tag-state dimension
    scope: str | None = None  # tag-state facets: only tags of this attribute
    size: int = 20

    @property
    def key(self) -> DimKey:
        return (self.kind, self.name)

    @property
    def agg_name(self) -> str:
        return f"{self.kind}:{self.name}:{self.scope or ''}"


class FacetBucket(msgspec.Struct, kw_only=True, frozen=True):
    value: str
    count: int


class FacetResult(msgspec.Struct, kw_only=True, frozen=True):
    spec: FacetSpec
    buckets: tuple[FacetBucket, ...]
