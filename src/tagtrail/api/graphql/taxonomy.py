"""The taxonomy as front-ends need it (a reviewer's type-ahead, a buyer's facet labels)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from tagtrail.api.graphql.context import Info
from tagtrail.usecases.taxonomy import AttributeInfo, TaxonomyInfo, ValueInfo, taxonomy_info


@strawberry.type(description="A taxonomy value with its place in the hierarchy.")
class TaxonomyValue:
    id: str = strawberry.field(description="What correctTag and filters take")
    label: str
    parent: str | None
    path: list[str] = strawberry.field(description="Labels from the root down to this value")
    depth: int = strawberry.field(description="0 for a root value")
    family: str | None = strawberry.field(description="Colour family (colours only)")
    hex: str | None = strawberry.field(description="The palette swatch (colours only)")
    synonyms: list[str]

    @classmethod
    def of(cls, v: ValueInfo) -> TaxonomyValue:
        return cls(
            id=v.id,
            label=v.label,
            parent=v.parent,
            path=list(v.path),
            depth=v.depth,
            family=v.family,
            hex=v.hex,
            synonyms=list(v.synonyms),
        )


@strawberry.type
class TaxonomyAttribute:
    name: str
    label: str
    kind: str = strawberry.field(description="single or multi")
    values: list[TaxonomyValue]

    @classmethod
    def of(cls, a: AttributeInfo) -> TaxonomyAttribute:
        return cls(
            name=a.name, label=a.label, kind=a.kind, values=[TaxonomyValue.of(v) for v in a.values]
        )


@strawberry.type(description="The customer's taxonomy in force on this server.")
class TaxonomyDescription:
    name: str
    label: str
    version: str
    attributes: list[TaxonomyAttribute]

    @classmethod
    def of(cls, t: TaxonomyInfo) -> TaxonomyDescription:
        return cls(
            name=t.name,
            label=t.label,
            version=t.version,
            attributes=[TaxonomyAttribute.of(a) for a in t.attributes],
        )


async def taxonomy(
    info: Info,
    brand: Annotated[
        str | None,
        strawberry.argument(
            description="Show the values as this brand sees them (renamed, its own values)"
        ),
    ] = None,
) -> TaxonomyDescription:
    info.context.require("viewer")
    return TaxonomyDescription.of(await taxonomy_info(info.context.services, brand=brand))
