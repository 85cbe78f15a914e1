"""The taxonomy as front-ends need it (a reviewer's type-ahead, a buyer's facet labels)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from tagtrail.api.graphql.context import Info
from tagtrail.api.graphql.records import object_type
from tagtrail.usecases.taxonomy import AttributeInfo, TaxonomyInfo, ValueInfo

if TYPE_CHECKING:
    TaxonomyValue = ValueInfo
    TaxonomyAttribute = AttributeInfo
    TaxonomyDescription = TaxonomyInfo
else:
    TaxonomyValue = object_type(
        ValueInfo,
        name="TaxonomyValue",
        description="A taxonomy value with its place in the hierarchy.",
        fields={
            "id": "What correctTag and filters take",
            "path": "Labels from the root down to this value",
            "depth": "0 for a root value",
            "family": "Colour family (colours only)",
            "hex": "The palette swatch (colours only)",
        },
    )
    TaxonomyAttribute = object_type(
        AttributeInfo,
        name="TaxonomyAttribute",
        fields={"kind": "single or multi"},
        nested={ValueInfo: TaxonomyValue},
    )
    TaxonomyDescription = object_type(
        TaxonomyInfo,
        name="TaxonomyDescription",
        description="The customer's taxonomy in force on this server.",
        nested={AttributeInfo: TaxonomyAttribute},
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
    return await info.context.runtime.taxonomy_descriptions.describe(brand=brand)
