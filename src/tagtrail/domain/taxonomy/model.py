"""The customer's taxonomy (pipeline stage 4 data): typed, validated, versioned.

A taxonomy folder holds ``taxonomy.yaml`` (attributes, values, model vocabulary, mapping
rules, governance), ``colours.yaml`` (the palette: the colour attribute's values) and
``brands/<brand>.yaml`` overlays (brand-only values, vocabulary, rules and renames). Every
error names the file and the entry path, because people edit these files by hand.

The version is ``label + "+" + sha256(canonical content of every file)[:12]``: any change
of meaning changes it (comments and formatting do not), so the audit trail can name it.
"""

from __future__ import annotations

import functools
import re
from typing import Literal

import msgspec

from tagtrail.domain.governance import Governance
from tagtrail.domain.palette import Palette
from tagtrail.errors import InvalidInput

__all__ = [
    "CONTEXT_KEYS",
    "Attribute",
    "Brand",
    "BrandAttribute",
    "Condition",
    "Governance",
    "ModelLabel",
    "Rule",
    "Taxonomy",
    "Value",
    "brand_key",
]

Kind = Literal["single", "multi"]
Source = Literal["model", "colour_analyser"]

#: Condition keys that test the asset rather than another attribute.
CONTEXT_KEYS = ("season", "brand", "collection")


class Value(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    label: str
    synonyms: tuple[str, ...] = ()
    parent: str | None = None
    #: Palette family of a colour value (colour values roll up to families, not parents).
    family: str | None = None


class ModelLabel(msgspec.Struct, kw_only=True, frozen=True):
    """One label in the vision model's vocabulary, with its expanded prompt ensemble."""

    label: str
    prompts: tuple[str, ...]


class Condition(msgspec.Struct, kw_only=True, frozen=True):
    """``key`` is season/brand/collection or another attribute's name; any value matches."""

    key: str
    any_of: tuple[str, ...]


class Rule(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    when_label: tuple[str, ...]
    then: str
    when: tuple[Condition, ...] = ()
    #: The brand overlay that contributed the rule; None for the base taxonomy.
    brand: str | None = None


class Attribute(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    label: str
    kind: Kind
    source: Source
    values: tuple[Value, ...]
    vocabulary: tuple[ModelLabel, ...]
    rules: tuple[Rule, ...]
    governance: Governance

    def value(self, value_id: str) -> Value | None:
        for value in self.values:
            if value.id == value_id:
                return value
        return None


class BrandAttribute(msgspec.Struct, kw_only=True, frozen=True):
    """A brand's overlay on one attribute."""

    attribute: str
    labels: dict[str, str] = {}
    values: tuple[Value, ...] = ()
    vocabulary: tuple[ModelLabel, ...] = ()
    rules: tuple[Rule, ...] = ()


class Brand(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    label: str
    aliases: tuple[str, ...] = ()
    overlays: tuple[BrandAttribute, ...] = ()

    def __post_init__(self) -> None:
        # Matched on every decision of every asset: normalise the names once, not per call.
        keys = frozenset({self.id, *(brand_key(n) for n in (self.label, *self.aliases))})
        msgspec.structs.force_setattr(self, "keys", keys)

    keys: frozenset[str] = frozenset()  # id and normalised label/aliases (derived)

    def overlay(self, attribute: str) -> BrandAttribute | None:
        for overlay in self.overlays:
            if overlay.attribute == attribute:
                return overlay
        return None


@functools.lru_cache(maxsize=4096)
def brand_key(name: str) -> str:
    """ "Linen & Loom" → "linen_loom": how asset brand strings are matched to brand ids.

    Memoised (a pure function of the string): a re-tag asks it tens of times per asset."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


class Taxonomy(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    label: str
    version: str
    attributes: tuple[Attribute, ...]
    palette: Palette
    brands: tuple[Brand, ...] = ()
    #: Attribute names in an order where every rule's attribute conditions come first.
    mapping_order: tuple[str, ...] = ()
    #: Per attribute: a hash of what its tags depend on (its values, vocabulary, rules,
    #: governance, brand overlays, the palette for colour, and the versions of the
    #: attributes its rules read). An edit re-tags only the attributes whose version moved.
    attribute_versions: dict[str, str] = {}
    #: Every brand key (id, normalised label and aliases) → its brand (derived).
    brands_by_key: dict[str, Brand] = {}

    def __post_init__(self) -> None:
        index: dict[str, Brand] = {}
        for brand in self.brands:  # the first brand claiming a key wins, as before
            for key in sorted(brand.keys):
                index.setdefault(key, brand)
        msgspec.structs.force_setattr(self, "brands_by_key", index)

    @property
    def attribute_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes)

    def attribute_version(self, name: str) -> str:
        """The version decisions on ``name`` record (the whole taxonomy's when unknown)."""
        return self.attribute_versions.get(name, self.version)

    def attribute(self, name: str) -> Attribute:
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        raise InvalidInput(
            f"unknown attribute {name!r}; known: {', '.join(self.attribute_names)}",
            field="attribute",
        )

    def brand(self, name: str | None) -> Brand | None:
        """The brand an asset's brand string refers to (by id, label or alias), if any."""
        if not name:
            return None
        return self.brands_by_key.get(brand_key(name))

    def _overlay(self, attribute: str, brand: str | None) -> BrandAttribute | None:
        found = self.brand(brand)
        return found.overlay(attribute) if found else None

    def values_for_brand(self, attribute: str, brand: str | None) -> tuple[Value, ...]:
        """The attribute's values as the brand sees them: renamed, plus brand-only values."""
        values = self.attribute(attribute).values
        overlay = self._overlay(attribute, brand)
        if overlay is None:
            return values
        renamed = tuple(
            msgspec.structs.replace(v, label=overlay.labels[v.id]) if v.id in overlay.labels else v
            for v in (*values, *overlay.values)
        )
        return renamed

    def value(self, attribute: str, value_id: str, brand: str | None = None) -> Value | None:
        for value in self.values_for_brand(attribute, brand):
            if value.id == value_id:
                return value
        return None

    def vocabulary_for(self, attribute: str, brand: str | None = None) -> tuple[ModelLabel, ...]:
        overlay = self._overlay(attribute, brand)
        base = self.attribute(attribute).vocabulary
        return base + overlay.vocabulary if overlay else base

    def rules_for(self, attribute: str, brand: str | None = None) -> tuple[Rule, ...]:
        """Brand rules first: a brand's choice overrides the default mapping."""
        overlay = self._overlay(attribute, brand)
        base = self.attribute(attribute).rules
        return overlay.rules + base if overlay else base

    def ancestors(self, attribute: str, value_id: str, brand: str | None = None) -> tuple[str, ...]:
        """The value first, then its parents up to the root (then a colour's family)."""
        values = {v.id: v for v in self.values_for_brand(attribute, brand)}
        if value_id not in values:
            raise InvalidInput(f"unknown {attribute} value {value_id!r}", field="value")
        chain: list[str] = []
        current: str | None = value_id
        while current is not None and current not in chain:  # load-time checks forbid cycles
            chain.append(current)
            current = values[current].parent
        family = values[value_id].family
        if family is not None and family not in chain:
            chain.append(family)
        return tuple(chain)

    def colour_family(self, name: str) -> str | None:
        colour = self.palette.by_name(name)
        return colour.family if colour else None

    def search_terms(
        self, attribute: str, value_id: str, brand: str | None = None
    ) -> tuple[str, ...]:
        """Words a text search should match for a value: label(s) and synonyms, deduplicated."""
        base = self.attribute(attribute).value(value_id)
        value = self.value(attribute, value_id, brand)
        if value is None:
            raise InvalidInput(f"unknown {attribute} value {value_id!r}", field="value")
        # A brand rename is searchable, and so is the shared label it renames.
        terms = [value.label, *([base.label] if base else []), *value.synonyms]
        return tuple(dict.fromkeys(terms))
