"""The customer's taxonomy as a front-end needs it: attributes and their values, with the
hierarchy (each value's path from its root) and, for colours, the palette swatch."""

from __future__ import annotations

import msgspec

from tagtrail.domain.limits import check_value
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.usecases.taxonomy_in_force import TaxonomyInForce

MAX_DESCRIBED = 64  # (version, brand) pairs kept; unknown brands describe the base values


class ValueInfo(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    label: str
    parent: str | None
    path: tuple[str, ...]  # labels from the root down to this value
    depth: int
    family: str | None
    hex: str | None
    synonyms: tuple[str, ...]


class AttributeInfo(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    label: str
    kind: str
    values: tuple[ValueInfo, ...]


class TaxonomyInfo(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    label: str
    version: str
    attributes: tuple[AttributeInfo, ...]


def describe(taxonomy: Taxonomy, *, brand: str | None = None) -> TaxonomyInfo:
    """Every attribute with its values (a brand's own values too, when ``brand`` is set)."""
    attributes = []
    for attribute in taxonomy.attributes:
        values = taxonomy.values_for_brand(attribute.name, brand)
        labels = {v.id: v.label for v in values}
        parents = {v.id: v.parent for v in values}
        infos = []
        for v in values:
            path: list[str] = []
            node: str | None = v.id
            while node is not None and node in labels and len(path) < 32:
                path.append(labels[node])
                node = parents.get(node)
            colour = taxonomy.palette.by_name(v.id) if attribute.name == "colour" else None
            infos.append(
                ValueInfo(
                    id=v.id,
                    label=v.label,
                    parent=v.parent,
                    path=tuple(reversed(path)),
                    depth=len(path) - 1,
                    family=v.family or (colour.family if colour else None),
                    hex=colour.hex if colour else None,
                    synonyms=v.synonyms,
                )
            )
        attributes.append(
            AttributeInfo(
                name=attribute.name,
                label=attribute.label,
                kind=str(attribute.kind),
                values=tuple(infos),
            )
        )
    return TaxonomyInfo(
        name=taxonomy.name,
        label=taxonomy.label,
        version=taxonomy.version,
        attributes=tuple(attributes),
    )


class TaxonomyDescriptions:
    """The taxonomy in force, described once per version and brand (front-ends ask often)."""

    def __init__(self, taxonomy: TaxonomyInForce) -> None:
        self._taxonomy = taxonomy
        self._described: dict[tuple[str, str | None], TaxonomyInfo] = {}

    async def describe(self, *, brand: str | None = None) -> TaxonomyInfo:
        """The taxonomy in force, described once per version and brand (front-ends ask often)."""
        if brand is not None:
            check_value(brand, "brand")
        taxonomy = await self._taxonomy.current()
        described = self._described
        key = (taxonomy.version, brand)
        if key not in described:
            if len(described) >= MAX_DESCRIBED:
                described.clear()
            described[key] = describe(taxonomy, brand=brand)
        return described[key]
